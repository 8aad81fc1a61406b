"""The shape every environment source shares: readings out, rejects and errors kept for the worker.

A source is polled with the current time and answers the readings that became due. Input it
cannot turn into a valid :class:`~ioc.events.EnvironmentReading` is kept as a :class:`Rejected`
(the worker publishes it as a dead letter); a source that cannot be reached raises
:class:`SourceUnavailable` or records the problem with :meth:`SourceBase.error`. No source
raises on bad data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.config import FeedSettings, Settings
from ioc.events import EnvironmentReading

Clock = Callable[[], datetime]
METRIC_PATTERN = r"^[a-z0-9_.\-]+$"
OptionsT = TypeVar("OptionsT", bound=BaseModel)


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that did not become a reading: why, and the raw input (row, JSON item, body)."""

    reason: str
    payload: str | bytes


class SourceUnavailable(RuntimeError):
    """The source could not be reached or answered with an error (HTTP 5xx, timeout...)."""


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


class SourceBase:
    """Keeps the rejects and errors of a source until the worker takes them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._rejects: list[Rejected] = []
        self._errors: list[str] = []

    def reject(self, reason: str, payload: str | bytes) -> None:
        """Keep one rejected input."""
        self._rejects.append(Rejected(reason, payload))

    def error(self, message: str) -> None:
        """Keep one problem reaching the source."""
        self._errors.append(message)

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
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise BadRecord(f"value is not a number: {raw[:80]!r}") from None
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
    return when.astimezone(UTC)


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
