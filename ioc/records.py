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
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
MAX_WIRE_BYTES = 1_000_000

SourceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")]
Severity = Literal["info", "warning", "critical"]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


# characters no XML 1.0 document and no PostgreSQL text can hold (C0 controls but tab, LF and CR;
# U+FFFE and U+FFFF; lone surrogates)
UNKEEPABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def unkeepable(text: str) -> str | None:
    """The first character of ``text`` that a stored text cannot keep, as ``U+XXXX``; ``None`` if none."""
    found = UNKEEPABLE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


class EventDecodeError(ValueError):
    """Raised when wire bytes are not a valid event record; ``str()`` is the reason."""


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
