"""What every event record shares: the base model, field types and the decode error.

Every record carries ``kind`` (which record it is), ``v`` (schema version),
``time`` (event time, timezone-aware) and ``source_id`` (camera, sensor,
MMSI, host... : the bus key that keeps a source's order). Input is
validated at the edge: :func:`ioc.events.decode` turns wire bytes into a record
or raises :class:`EventDecodeError` with a reason fit for a dead-letter row. The
records of each feed live in its package (``ioc/feeds/<feed>/records.py``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
MAX_WIRE_BYTES = 1_000_000

SourceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")]
Severity = Literal["info", "warning", "critical"]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]

# numbers as the store's column types hold them: a value beyond them passes a bare ``int`` or
# ``float`` and then fails the whole batch's write (``bigint out of range``, a float4 overflow)
INT2_MAX = 2**15 - 1
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
FLOAT4_MAX = 3.4028234663852886e38
Int2 = Annotated[int, Field(ge=-INT2_MAX - 1, le=INT2_MAX)]
Int4 = Annotated[int, Field(ge=-INT4_MAX - 1, le=INT4_MAX)]
Int8 = Annotated[int, Field(ge=-INT8_MAX - 1, le=INT8_MAX)]
Float4 = Annotated[float, Field(ge=-FLOAT4_MAX, le=FLOAT4_MAX, allow_inf_nan=False)]


# characters no XML 1.0 document and no PostgreSQL text can hold (C0 controls but tab, LF and CR;
# U+FFFE and U+FFFF; lone surrogates)
UNKEEPABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def unkeepable(text: str) -> str | None:
    """The first character of ``text`` that a stored text cannot keep, as ``U+XXXX``; ``None`` if none."""
    found = UNKEEPABLE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def keepable(text: str, limit: int) -> str:
    """``text`` as a stored text can keep it: each :data:`UNKEEPABLE` character written as its escape
    (``\\x00``, ``\\ud800``), cut to ``limit`` characters. For what is shown, not parsed (a bus key,
    a reason, a forged dead letter's fields)."""
    return UNKEEPABLE.sub(_escape, text[: limit * 6])[:limit]


#: event times before this are a clock that was never set (epoch 0, year 1), not an event: refused at
#: the edge of every role. Earlier than any feed's own floor (AIS: 1998, environment: 2000 by default),
#: so the bus never refuses what a feed's stricter check let through.
EARLIEST_EVENT_TIME = datetime(1990, 1, 1, tzinfo=UTC)
#: how far past the receiving clock an event time may lie (a source's clock a little fast, a warning
#: issued ahead): beyond it a record would hold a source's state in the future (a threshold rule drops
#: every later real reading as too late), so the roles refuse it as a dead letter
MAX_AHEAD = timedelta(days=1)


def implausible_time(when: datetime, now: datetime | None, max_ahead: timedelta = MAX_AHEAD) -> str | None:
    """Why the event time ``when`` cannot be a real event's, received at ``now``; ``None`` when it can.

    Before :data:`EARLIEST_EVENT_TIME`, or (with a receiving clock) more than ``max_ahead`` after ``now``.
    """
    if when < EARLIEST_EVENT_TIME:
        return f"time {when.isoformat()} is before {EARLIEST_EVENT_TIME.year}: a clock that was never set"
    if now is not None and when - now > max_ahead:
        return (f"time {when.isoformat()} is more than {max_ahead.total_seconds() / 3600:g} h ahead of "
                f"the clock that received it ({now.isoformat(timespec='seconds')})")
    return None


class EventDecodeError(ValueError):
    """Raised when wire bytes are not a valid event record; ``str()`` is the reason."""


class UnstorableValue(ValueError):
    """A decoded record holds a value the store cannot keep (NaN in JSON, a position past its column):
    the record's fault, so a worker sets the record aside rather than retry it (:mod:`ioc.bus.loop`)."""


class Event(BaseModel):
    """Fields every record shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION
    time: AwareDatetime
    source_id: SourceId

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-02:00: no such time in UTC
            raise ValueError("outside the years 1-9999 once converted to UTC") from None

    @property
    def key(self) -> str:
        """The bus partition key: the id of the source, so each source keeps its order."""
        return self.source_id

    def to_wire(self) -> bytes:
        """The one JSON wire form."""
        return self.model_dump_json().encode()
