"""Settings: environment variables (``IOC_...``, nested with ``__``) over a TOML file.

The TOML file is named by ``IOC_CONFIG`` or passed to :func:`load_settings`;
without one the packaged sample configuration of Huế is used. Nothing in the
code is tied to one city: stations, feeds, rules and zones are all data.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ioc.camera_settings import CameraSettings, VisionSettings, check_camera_models
from ioc.feeds import FEEDS
from ioc.http_proxies import checked_networks
from ioc.i18n import Worded, validation_reason
from ioc.screens import ScreenProfile, unique_names
from ioc.time_zones import TimeZoneName

DEFAULT_CONFIG = Path(__file__).parent / "app" / "config" / "hue.toml"
DEFAULT_SAMPLES = Path(__file__).resolve().parents[1] / "sample_streams"


class DatabaseSettings(BaseModel):
    """Where the store lives; with no DSN an embedded PostgreSQL is started."""

    model_config = ConfigDict(extra="forbid")

    dsn: str | None = None
    data_dir: Path = Path(".ioc/pgdata")
    pool_min: int = 1
    pool_max: int = 8
    retention_days: int = 30
    timescaledb: Literal["auto", "off"] = "auto"
    rollup_refresh_seconds: float = 5.0


class KafkaSecurity(BaseModel):
    """Passed through to kafka-python (SASL/SSL)."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None


class MapCellSettings(BaseModel):
    """The map cells of ``ioc.vessels.cells``, the topic of pairwise vessel rules (ioc/cells.py).

    A position goes to its own cell and to every cell within ``halo_m`` of it, and keeps
    going to a cell for ``hold_minutes`` of event time after it was last within ``halo_m``.
    """

    model_config = ConfigDict(extra="forbid")

    size_deg: float = Field(default=0.2, gt=0, le=10)
    halo_m: float = Field(default=5000.0, gt=0)
    hold_minutes: float = Field(default=45.0, ge=0)


class BusSettings(BaseModel):
    """Which bus carries the topics."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["memory", "kafka"] = "memory"
    bootstrap_servers: str = "127.0.0.1:9092"
    partitions: int = 4
    namespace: str = ""
    security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    producer_options: dict[str, Any] = Field(default_factory=dict)  # passed to KafkaProducer
    consumer_options: dict[str, Any] = Field(default_factory=dict)  # e.g. session_timeout_ms
    cells: MapCellSettings = Field(default_factory=MapCellSettings)
    # a record stamped more than this after the clock of the role that reads it (sink, detectors,
    # alerts) is a dead letter, never stored nor observed: a clock set years ahead held rules there
    max_event_ahead_hours: float = Field(default=24.0, gt=0, le=24 * 366)


#: feeds whose sources speak seldom: stale only after this many seconds without a record
SLOW_FEEDS: dict[str, float] = {"press": 6 * 3600.0, "services": 24 * 3600.0, "reports": 24 * 3600.0,
                                "security": 3600.0}


class WebSettings(BaseModel):
    """The Dash server of the wall."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8050
    refresh_ms: int = Field(default=2000, ge=250, le=60000)
    title: str = "Operations Centre"
    max_station_panels: int = Field(default=12, ge=1, le=48)  # station charts that fit one wall screen
    map_tiles_url: str | None = None  # XYZ tile template for the sea map; unset: offline background
    map_tiles_attribution: str = ""
    # reverse proxies (addresses or networks) whose X-Forwarded-For / -Proto are believed
    trusted_proxies: list[str] = Field(default_factory=list)
    # the server (ioc/app/web_server.py): gunicorn's worker processes for ``ioc run web``, threads
    # per worker (and of the embedded server), seconds a graceful restart waits for requests, and
    # where gunicorn writes its access log ("-": standard output; "" for none)
    workers: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=8, ge=1, le=256)
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    access_log: str = "-"
    # the pages' language unless a screen asks for another (``?lang=en``, a cookie) or the user has one
    language: Literal["vi", "en"] = "en"
    # a feed whose last stored record is older than this is shown stale on every page (seconds);
    # ``feed_stale_after_s`` overrides it per feed (a press feed polled hourly is not stale in 10 min)
    stale_after_s: float = Field(default=600.0, gt=0)
    feed_stale_after_s: dict[str, float] = Field(default_factory=lambda: dict(SLOW_FEEDS))
    # screens showing the same page share one read of its data for this long (seconds; 0: each
    # request reads): fifty screens polling the wall run one query a second, not fifty
    shared_read_s: float = Field(default=1.0, ge=0, le=30)
    # how often a page asks whether its data is fresh, and a screen whether its profile changed
    truth_poll_ms: int = Field(default=5000, ge=500, le=60000)
    # the replay worker beats a heartbeat on the run it holds every ``replay_heartbeat_s``; a run
    # with none for ``replay_abandoned_after_s`` was abandoned (its process died) and is replayed
    # again from the start by the next worker, at most ``replay_max_attempts`` claims in all
    # (then it fails, and the page says why)
    replay_heartbeat_s: float = Field(default=5.0, gt=0)
    replay_abandoned_after_s: float = Field(default=60.0, gt=0)
    replay_max_attempts: int = Field(default=3, ge=1, le=100)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Each an address or a network (``10.0.0.5``, ``10.0.0.0/24``): the web role could not start with
        another."""
        return checked_networks(value)

    @field_validator("feed_stale_after_s")
    @classmethod
    def _known_feeds(cls, v: dict[str, float]) -> dict[str, float]:
        names = {f.name for f in FEEDS}
        unknown = sorted(set(v) - names)
        if unknown:
            raise ValueError(f"no feed named {', '.join(unknown)} (feeds: {', '.join(sorted(names))})")
        if any(s <= 0 for s in v.values()):
            raise ValueError("stale times must be positive seconds")
        return v

    @model_validator(mode="after")
    def _replay_heartbeat_fits(self) -> WebSettings:
        if self.replay_abandoned_after_s < 2 * self.replay_heartbeat_s:
            raise ValueError("replay_abandoned_after_s must be at least twice replay_heartbeat_s "
                             "(a live worker would look abandoned between two beats)")
        return self

    def stale_after(self, feed: str) -> float:
        """Seconds without a new record after which ``feed`` is shown stale."""
        return self.feed_stale_after_s.get(feed, self.stale_after_s)


class Station(BaseModel):
    """A named place a sensor reports from."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    lat: float
    lon: float
    area: str = ""
    kind: str = "sensor"


class FeedSettings(BaseModel):
    """One ingest source: its adapter (``kind``) and that adapter's options."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)


class MetricLimits(BaseModel):
    """What one metric can physically read: outside ``[min, max]`` a reading is published as ``bad``;
    a value in ``sentinels`` is a "no measurement" marker and becomes a dead letter."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    sentinels: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> MetricLimits:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


def _default_metric_limits() -> dict[str, MetricLimits]:
    """Physical limits of common environment metrics, in the units the feeds use (µg/m³, °C, %...)."""
    limits = {
        "pm1": (0, 1000),
        "pm25": (0, 1000),
        "pm10": (0, 2000),
        "no2": (0, 2000),
        "o3": (0, 1000),
        "so2": (0, 2000),
        "co": (0, 100_000),
        "co2": (0, 40_000),
        "temperature": (-90, 60),
        "relative_humidity": (0, 100),
        "humidity": (0, 100),
        "pressure": (300, 1100),
        "illuminance": (0, 200_000),
        "wind_speed": (0, 120),
        "rainfall": (0, 500),
        "water_flow": (0, None),
    }
    return {name: MetricLimits(min=lo, max=hi) for name, (lo, hi) in limits.items()}


class EnvironmentSettings(BaseModel):
    """``[environment]``: plausibility checks every environment feed applies before publishing."""

    model_config = ConfigDict(extra="forbid")

    max_future_seconds: float = Field(default=300.0, ge=0)  # clock skew allowed past the receive time
    earliest_time: AwareDatetime = datetime(2000, 1, 1, tzinfo=UTC)  # older event times are dead letters
    sentinels: list[float] = Field(default_factory=lambda: [-999.0, -9999.0])  # "no value" markers
    unknown_stations: Literal["reject", "accept"] = "reject"  # station ids not in [[stations]]
    metrics: dict[str, MetricLimits] = Field(default_factory=_default_metric_limits)


class StaleRule(BaseModel):
    """Fire when a source sends nothing for ``after_minutes``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = "environment.reading"
    after_minutes: float = 15.0
    severity: Literal["info", "warning", "critical"] = "warning"
    sources: list[str] = Field(default_factory=list)


class CoreRules(BaseModel):
    """``[rules]`` fields of the core: absence rules any feed's records can have (stale sources)."""

    model_config = ConfigDict(extra="forbid")

    stale: list[StaleRule] = Field(default_factory=list)
    stale_check_seconds: float = 30.0


def _rule_settings() -> type[BaseModel]:
    """``[rules]``: the core's fields and each registered feed's (:attr:`FeedSpec.rules`); an unknown
    section (a mistyped ``[rules.press]``) is an error, not silently dropped."""
    fields: dict[str, Any] = {}
    for feed in FEEDS:
        if feed.rules is None:
            continue
        for name, info in feed.rules.model_fields.items():
            if name in fields or name in CoreRules.model_fields:
                raise ValueError(f"[rules.{name}] is declared by two feeds (the second: {feed.name})")
            fields[name] = (info.annotation, info)
    return create_model("RuleSettings", __base__=CoreRules, __doc__="Every detector rule, as data.",
                        **fields)


RuleSettings = _rule_settings()


class Settings(BaseSettings):
    """All settings of one operations centre."""

    model_config = SettingsConfigDict(
        env_prefix="IOC_", env_nested_delimiter="__", extra="ignore"
    )

    city: str = "Huế"
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    samples_dir: Path = DEFAULT_SAMPLES  # relative paths of feeds and zone files start here
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    stations: list[Station] = Field(default_factory=list)
    feeds: list[FeedSettings] = Field(default_factory=list)
    environment: EnvironmentSettings = Field(default_factory=EnvironmentSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)  # type: ignore[valid-type]
    alerts: dict[str, Any] = Field(default_factory=dict)  # [alerts]: validated by alerts.settings
    reports: dict[str, Any] = Field(default_factory=dict)  # [reports]: validated by dashboards.reports
    cameras: list[CameraSettings] = Field(default_factory=list)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    screens: list[ScreenProfile] = Field(default_factory=list)  # [[screens]]: the room's screen profiles

    @field_validator("screens")
    @classmethod
    def _screen_names(cls, v: list[ScreenProfile]) -> list[ScreenProfile]:
        return unique_names(v)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @model_validator(mode="after")
    def _camera_models_defined(self) -> Settings:
        check_camera_models(self.cameras, self.vision)  # a CameraConfigError is a ValueError
        return self

    def station(self, station_id: str) -> Station | None:
        """The configured station with this id, if any."""
        return next((s for s in self.stations if s.id == station_id), None)


class ConfigError(Worded, RuntimeError):
    """The configuration file is missing or invalid: a catalogue message (domain ``ioc``) with its
    fields, ``str()`` in English, :meth:`said` in the reader's language."""


def toml_path(loc: tuple[Any, ...]) -> str:
    """``("rules", "thresholds", 0, "metrc")`` -> ``rules.thresholds[0].metrc``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


class ValidationReasons:
    """A pydantic refusal as a field of a :class:`ConfigError`: each error's TOML path and reason,
    in English by ``str()`` and in a language by :meth:`said` (:func:`~ioc.i18n.validation_reason`)."""

    def __init__(self, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> None:
        self.errors, self.prefix = exc.errors(), prefix

    def lines(self, lang: str) -> list[str]:
        return [f"{toml_path(self.prefix + tuple(e['loc']))}: {validation_reason(e, lang)}"
                for e in self.errors]

    def said(self, lang: str) -> str:
        return "; ".join(self.lines(lang))

    def __str__(self) -> str:
        return self.said("en")


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``config_file`` (or ``$IOC_CONFIG``, or the sample), env vars and overrides."""
    path = Path(config_file or os.environ.get("IOC_CONFIG") or DEFAULT_CONFIG)
    if not path.is_file():
        raise ConfigError("configuration file not found: {path}", path=path)
    bound = type("FileSettings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}})
    try:
        return bound(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid configuration in {path}: {reason}", path=path,
                          reason=ValidationReasons(exc)) from None
    except ValueError as exc:  # e.g. the file is not TOML (Python's own words)
        raise ConfigError("invalid configuration in {path}: {reason}", path=path, reason=exc) from None
    except RecursionError:  # arrays or tables nested hundreds deep: no settings are
        raise ConfigError("invalid configuration in {path}: {reason}", path=path,
                          reason="nested too deeply") from None
