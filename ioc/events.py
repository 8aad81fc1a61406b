"""Event records on the bus: one JSON wire form, decoded and validated at the edge.

The union of record kinds is derived from the registered feeds (:data:`ioc.feeds.FEEDS`: each
declares its record types) plus the core's own :class:`AlertSignal`. :func:`decode` turns wire
bytes into a record or raises :class:`EventDecodeError` with a reason fit for a dead-letter row.
The base :class:`Event` and field types are in :mod:`ioc.records`.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, Union

from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError, field_validator

from ioc.feeds import FEEDS
from ioc.records import (
    MAX_WIRE_BYTES,
    SCHEMA_VERSION,
    Event,
    EventDecodeError,
    Latitude,
    Longitude,
    Name,
    Severity,
    SourceId,
)

__all__ = ["MAX_WIRE_BYTES", "SCHEMA_VERSION", "AlertSignal", "Event", "EventDecodeError", "Latitude",
           "Longitude", "Name", "Severity", "SourceId", "EVENT_TYPES", "decode", "parse", "is_finite"]


class AlertSignal(Event):
    """A detector's verdict: a condition started (``firing``) or cleared (``resolved``).

    ``fingerprint`` identifies the condition (rule + source + area) so repeats
    dedupe into one alert. ``time`` is the event time of the deciding record.
    """

    kind: Literal["alert.signal"] = "alert.signal"
    detector: Name
    rule: Annotated[str, Field(min_length=1, max_length=128)]
    fingerprint: Annotated[str, Field(min_length=1, max_length=256)]
    status: Literal["firing", "resolved"]
    severity: Severity = "warning"
    title: Annotated[str, Field(max_length=512)]  # English, the fallback of the stored alert
    # the title as a message id of the ``alerts`` catalogue (English, with {fields}) and its fields:
    # pages and notifications render it at display time in the reader's language
    title_template: Annotated[str, Field(max_length=512)] | None = None
    title_params: dict[str, Any] = Field(default_factory=dict)
    area: Annotated[str, Field(max_length=256)] | None = None  # a ward, zone or camera area's name
    started_at: AwareDatetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("title_params", "details")
    @classmethod
    def _storable_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Only what the store's ``jsonb`` keeps: finite numbers (JSON has no NaN nor Infinity), and
        no deeper than :data:`MAX_DETAIL_DEPTH` (a detector's details are a few levels at most)."""
        why = _unstorable(value, 0)
        if why is not None:
            raise ValueError(why)
        return value


#: how deeply an alert signal's ``details`` and ``title_params`` may nest
MAX_DETAIL_DEPTH = 32


def _unstorable(value: Any, depth: int) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else f"holds {value!r}: only finite numbers can be stored"
    if isinstance(value, dict | list):
        if depth >= MAX_DETAIL_DEPTH:
            return f"nested more than {MAX_DETAIL_DEPTH} deep"
        for item in (value.values() if isinstance(value, dict) else value):
            why = _unstorable(item, depth + 1)
            if why is not None:
                return why
    return None


def _event_types() -> dict[str, type[Event]]:
    types: dict[str, type[Event]] = {}
    for cls in (*(c for spec in FEEDS for c in spec.events), AlertSignal):
        kind = cls.model_fields["kind"].default
        if kind in types:
            raise ValueError(f"record kind {kind!r} declared twice: {types[kind].__name__}, {cls.__name__}")
        types[kind] = cls
    return types


EVENT_TYPES: dict[str, type[Event]] = _event_types()
AnyEvent = Annotated[Union[tuple(EVENT_TYPES.values())], Field(discriminator="kind")]  # noqa: UP007

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def decode(wire: bytes | str) -> Event:
    """Parse one wire record; raise :class:`EventDecodeError` with a short reason."""
    if len(wire) > MAX_WIRE_BYTES:
        raise EventDecodeError(f"record too large: {len(wire)} bytes > {MAX_WIRE_BYTES}")
    if not wire:
        raise EventDecodeError("empty record (tombstone): no value to decode")
    if (_NUL_ESCAPE if isinstance(wire, bytes) else _NUL_ESCAPE_TEXT) in wire:
        _refuse_nul(wire)
    try:
        return _ADAPTER.validate_json(wire)  # fast path: pydantic-core parses and validates at once
    except (ValidationError, RecursionError):
        pass
    try:  # slow path, only for bad records: say precisely what is wrong
        data = json.loads(_utf8(wire))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"not JSON: {exc}") from None
    except RecursionError:
        raise EventDecodeError("not an event record: nested too deeply") from None
    return parse(data)


def _utf8(wire: bytes | str) -> str:
    """The wire text; a record must be UTF-8 (RFC 8259), whatever encoding ``json.loads`` would guess."""
    if isinstance(wire, str):
        return wire
    try:
        return wire.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventDecodeError(
            f"not JSON: not UTF-8 text (byte 0x{wire[exc.start]:02x} at position {exc.start})") from None


_NUL_ESCAPE = b"\\u0000"
_NUL_ESCAPE_TEXT = "\\u0000"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _refuse_nul(wire: bytes | str) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: a record with one is refused at the edge."""
    try:
        data = json.loads(wire)
        nul = _holds_nul(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return  # not JSON (or too deep): the usual path says why
    if nul:
        raise EventDecodeError("text holds a NUL character (U+0000), which the store cannot keep")


def parse(data: Any) -> Event:
    """Validate an already-parsed JSON object as an event record."""
    if not isinstance(data, dict):
        raise EventDecodeError(f"not a JSON object: {type(data).__name__}")
    if data.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise EventDecodeError(f"unsupported schema version {data.get('v')!r}")
    if data.get("kind") not in EVENT_TYPES:
        raise EventDecodeError(f"unknown kind {data.get('kind')!r}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise EventDecodeError(_reason(exc)) from None


def is_finite(value: float) -> bool:
    """True for a number that is neither NaN nor infinite."""
    return not (math.isnan(value) or math.isinf(value))
