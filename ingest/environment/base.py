"""The shape every environment source shares: readings out, rejects and errors kept for the worker.

A source is polled with the current time and answers the readings that became due. Input it
cannot turn into a valid :class:`EnvironmentReading` is kept as a :class:`Rejected`
(the worker publishes it as a dead letter); a source that cannot be reached raises
:class:`SourceUnavailable` or records the problem with :meth:`SourceBase.error`. No source
raises on bad data.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.config import EnvironmentSettings, FeedSettings, Settings
from ioc.feeds.environment.records import EnvironmentReading

Clock = Callable[[], datetime]
METRIC_PATTERN = r"^[a-z0-9_.\-]+$"
OptionsT = TypeVar("OptionsT", bound=BaseModel)
NUMBER_TEXT = re.compile(
    r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.A | re.I
)
MAX_REMEMBERED = 4096
QUALITY_ORDER: dict[str, int] = {"good": 0, "suspect": 1, "bad": 2}


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that did not become a reading: why, and the raw input (row, JSON item, body)."""

    reason: str
    payload: str | bytes


class SourceUnavailable(RuntimeError):
    """The source could not be reached or answered with an error (HTTP 5xx, timeout...).

    ``retry_after``: seconds the source asked us to wait (HTTP ``Retry-After``), if it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadRecord(ValueError):
    """One input record is invalid; ``str()`` is the reason."""


@runtime_checkable
class EnvironmentSource(Protocol):
    """What :class:`ingest.environment.worker.EnvironmentWorker` drives."""

    name: str

    def due(self, now: datetime) -> list[EnvironmentReading]:
        """Readings whose time has come at ``now`` (each is returned once)."""

    def take_rejects(self) -> list[Rejected]:
        """Rejected inputs since the last call (and forget them)."""

    def take_errors(self) -> list[str]:
        """Problems reaching the source since the last call (and forget them)."""

    def take_retry_after(self) -> float | None:
        """Seconds the source asked to be left alone since the last call (and forget it)."""


class BoundedMemory:
    """The last ``limit`` keys seen, each with a fingerprint: state that cannot grow without bound."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._items: OrderedDict[Any, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def remember(self, key: Any, fingerprint: str = "") -> bool:
        """Keep ``key`` with ``fingerprint``; True when exactly this was already remembered."""
        same = self._items.get(key) == fingerprint and key in self._items
        self._items[key] = fingerprint
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return same


def fingerprint(payload: str | bytes) -> str:
    """A short digest of a payload (what bounded memories keep instead of the payload)."""
    data = payload.encode("utf-8", errors="backslashreplace") if isinstance(payload, str) else payload
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class SourceBase:
    """Keeps the rejects and errors of a source until the worker takes them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._rejects: list[Rejected] = []
        self._errors: list[str] = []
        self._retry_after: float | None = None
        self._rejected = BoundedMemory()

    def reject(self, reason: str, payload: str | bytes) -> None:
        """Keep one rejected input."""
        self._rejects.append(Rejected(reason, payload))

    def reject_once(self, key: Any, reason: str, payload: str | bytes) -> None:
        """Reject ``payload`` unless the same payload under ``key`` was rejected lately (bounded memory)."""
        if not self._rejected.remember(key, fingerprint(payload)):
            self.reject(reason, payload)

    def error(self, message: str, retry_after: float | None = None) -> None:
        """Keep one problem reaching the source (and how long it asked us to wait, if it did)."""
        self._errors.append(message)
        if retry_after is not None:
            self._retry_after = max(retry_after, self._retry_after or 0.0)

    def unavailable(self, exc: SourceUnavailable) -> None:
        """Keep a :class:`SourceUnavailable` as an error."""
        self.error(str(exc), exc.retry_after)

    def take_retry_after(self) -> float | None:
        out, self._retry_after = self._retry_after, None
        return out

    def take_rejects(self) -> list[Rejected]:
        out, self._rejects = self._rejects, []
        return out

    def take_errors(self) -> list[str]:
        out, self._errors = self._errors, []
        return out


class Target(BaseModel):
    """Where a remote sensor's values go: station, metric name and unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    station: str = Field(min_length=1, max_length=128)
    metric: str = Field(min_length=1, max_length=64, pattern=METRIC_PATTERN)
    unit: str = Field(default="", max_length=32)


def validation_reason(error: ValidationError) -> str:
    """A short, one-line reason from a pydantic error."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_value(raw: Any) -> float:
    """A finite float from a JSON number or numeric text; :class:`BadRecord` otherwise."""
    if isinstance(raw, bool) or raw is None:
        raise BadRecord(f"value is not a number: {raw!r}")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            raise BadRecord(f"value is too large: {str(raw)[:40]}... ({len(str(raw))} digits)") from None
    elif isinstance(raw, str):
        text = raw.strip()
        if not NUMBER_TEXT.fullmatch(text):  # no "1_000", no non-ASCII digits, no hex
            raise BadRecord(f"value is not a number: {raw[:80]!r}")
        value = float(text)
    else:
        raise BadRecord(f"value is not a number: {type(raw).__name__}")
    if math.isnan(value) or math.isinf(value):
        raise BadRecord(f"value is not finite: {raw!r}")
    return value


def parse_time(raw: Any) -> datetime:
    """A timezone-aware datetime from ISO 8601 text (an interval ``a/b`` gives its end)."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadRecord(f"time is missing or not text: {str(raw)[:80]!r}")
    text = raw.strip().rsplit("/", 1)[-1]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord(f"time is not ISO 8601: {raw[:80]!r}") from None
    if when.tzinfo is None:
        raise BadRecord(f"time has no timezone: {raw[:80]!r}")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise BadRecord(f"time is out of range in UTC: {raw[:80]!r}") from None


def make_reading(
    *,
    time: datetime,
    station: str,
    metric: str,
    value: Any,
    unit: str = "",
    quality: str = "good",
) -> EnvironmentReading:
    """A validated reading, or :class:`BadRecord` with the reason."""
    number = parse_value(value)
    try:
        return EnvironmentReading(
            time=time, source_id=station, metric=metric, value=number, unit=unit, quality=quality
        )
    except ValidationError as exc:
        raise BadRecord(validation_reason(exc)) from None


class ReadingChecks:
    """Plausibility of readings, from ``[environment]``: event-time window, sentinels, per-metric
    limits and known stations. Every source runs its readings through one of these."""

    def __init__(
        self, settings: EnvironmentSettings | None = None, stations: Iterable[str] | None = None
    ) -> None:
        self.settings = settings or EnvironmentSettings()
        self.skew = timedelta(seconds=self.settings.max_future_seconds)
        self.stations = frozenset(stations) if stations is not None else None
        if self.settings.unknown_stations == "accept":
            self.stations = None
        self._sentinels = frozenset(self.settings.sentinels)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadingChecks:
        """The checks of ``settings``; station ids are checked when ``[[stations]]`` are configured."""
        return cls(settings.environment, [s.id for s in settings.stations] or None)

    def check_time(self, when: datetime, received: datetime | None) -> None:
        """:class:`BadRecord` for a time before ``earliest_time`` or beyond the skew past ``received``."""
        if when < self.settings.earliest_time:
            raise BadRecord(f"time {when.isoformat()} is before {self.settings.earliest_time.isoformat()}")
        if received is not None and when > received + self.skew:
            raise BadRecord(
                f"time {when.isoformat()} is more than {self.skew.total_seconds():g} s "
                f"after it was received ({received.isoformat()})"
            )

    def reading(
        self,
        *,
        time: datetime,
        station: str,
        metric: str,
        value: Any,
        unit: str = "",
        quality: str = "good",
        received: datetime | None = None,
    ) -> EnvironmentReading:
        """A checked reading (quality ``bad`` outside the metric's limits), or :class:`BadRecord`."""
        self.check_time(time, received)
        if self.stations is not None and station not in self.stations:
            raise BadRecord(f"station {station[:80]!r} is not one of the configured [[stations]]")
        if quality not in QUALITY_ORDER:
            raise BadRecord(f"quality is not one of {sorted(QUALITY_ORDER)}: {quality[:40]!r}")
        number = parse_value(value)
        limits = self.settings.metrics.get(metric)
        if number in self._sentinels or (limits is not None and number in limits.sentinels):
            raise BadRecord(f"value {number:g} is a no-measurement sentinel")
        if limits is not None and (
            (limits.min is not None and number < limits.min)
            or (limits.max is not None and number > limits.max)
        ):
            quality = "bad"
        return make_reading(
            time=time, station=station, metric=metric, value=number, unit=unit, quality=quality
        )


DEFAULT_CHECKS = ReadingChecks()


class FeedConfigError(ValueError):
    """A feed's options are invalid (unknown option, wrong type, unknown station...)."""


def feed_options(model: type[OptionsT], feed: FeedSettings) -> OptionsT:
    """Validate ``feed.options`` with the adapter's options model."""
    try:
        return model.model_validate(feed.options)
    except ValidationError as exc:
        raise FeedConfigError(f"feed {feed.name!r} ({feed.kind}): {validation_reason(exc)}") from None


def check_stations(feed: FeedSettings, settings: Settings, station_ids: Iterable[str]) -> None:
    """Every station an adapter is told to use must be configured (when stations are configured)."""
    known = {s.id for s in settings.stations}
    unknown = sorted(set(station_ids) - known)
    if known and unknown:
        raise FeedConfigError(f"feed {feed.name!r}: unknown station(s) {unknown}")
