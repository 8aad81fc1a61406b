"""Decoding a batch of wire records without building a pydantic model per reading.

The store sink turns most records straight into table rows, so building an
:class:`~ioc.feeds.environment.records.EnvironmentReading` model for each only to read its fields
back costs more than the write. :func:`decode_batch` parses readings with
``msgspec`` into :class:`PlainReading`, a plain struct with the model's fields,
parses every timestamp of the batch in one call, and checks the string
patterns once per distinct station and metric.

It never accepts what :func:`~ioc.events.decode` refuses: the fast path is a
strict subset of the model. Any record it does not take (another kind, a lax
input pydantic would coerce, a bad record) goes through :func:`~ioc.events.decode`
itself, so it gets the same record or the same dead-letter reason as before.
The struct mirrors the model's schema as pinned in :data:`MIRRORED_SCHEMA`; if
``EnvironmentReading`` changes, the fast path turns itself off (every record then
takes the model path) until the struct is brought up to date.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from ioc.events import MAX_WIRE_BYTES, Event, EventDecodeError, decode
from ioc.feeds.environment.records import EnvironmentReading

_FLOAT_MAX = 1.7976931348623157e308  # bounds that refuse the inf msgspec makes of 1e400, as pydantic does


class PlainReading(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An environment reading's fields, validated as the model validates them.

    ``time`` is an aware datetime (in the offset the record gave, not necessarily UTC).
    """

    kind: Literal["environment.reading"]  # required here: without it the model path refuses the record
    time: Any  # the wire text until :func:`decode_batch` has parsed it (a string, or the model path)
    source_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    metric: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    value: Annotated[float, msgspec.Meta(ge=-_FLOAT_MAX, le=_FLOAT_MAX)]
    v: Literal[1] = 1
    unit: Annotated[str, msgspec.Meta(max_length=32)] = ""
    quality: Literal["good", "suspect", "bad"] = "good"


def schema_fingerprint() -> str:
    """A digest of ``EnvironmentReading``'s JSON schema and validators (what the struct mirrors)."""
    decorators = EnvironmentReading.__pydantic_decorators__
    shape = {
        "schema": EnvironmentReading.model_json_schema(),
        "validators": sorted([*decorators.field_validators, *decorators.model_validators,
                              *decorators.validators, *decorators.root_validators]),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


MIRRORED_SCHEMA = "1df64b0b63715146fa59ac77ed7c3cdf635f7e86ed81996fb259956012386851"
"""The fingerprint of the ``EnvironmentReading`` that :class:`PlainReading` mirrors."""

_SOURCE_ID = re.compile(r"[^\x00-\x1f]+")  # the model's patterns, matched whole (pydantic's rust regex `$`)
_METRIC = re.compile(r"[a-z0-9_.\-]+")
_TIME = Annotated[datetime, msgspec.Meta(tz=True)]
_TIMES = list[_TIME]
_DECODER = msgspec.json.Decoder(PlainReading)
_KNOWN_CAP = 100_000  # distinct strings remembered as valid before the memo starts again


class _Memo:
    """Strings already matched against a pattern: stations and metrics repeat in every batch."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.valid: set[str] = set()

    def ok(self, text: str) -> bool:
        if text in self.valid:
            return True
        if self.pattern.fullmatch(text) is None:
            return False
        if len(self.valid) >= _KNOWN_CAP:
            self.valid.clear()
        self.valid.add(text)
        return True


_SOURCE_IDS = _Memo(_SOURCE_ID)
_METRICS = _Memo(_METRIC)
fast_path_enabled = schema_fingerprint() == MIRRORED_SCHEMA


def decode_batch(wires: Sequence[bytes]) -> list[Event | PlainReading | EventDecodeError]:
    """Decode each wire record: a record (model or :class:`PlainReading`) or the error saying why not.

    Results line up with ``wires``. A ``PlainReading`` is returned only for a record
    that :func:`~ioc.events.decode` would turn into an equal ``EnvironmentReading``.
    """
    out: list[Event | PlainReading | EventDecodeError | None] = [None] * len(wires)
    fast: list[int] = []
    readings: list[PlainReading] = []
    if fast_path_enabled:
        known_ids, known_metrics = _SOURCE_IDS.valid, _METRICS.valid
        for i, wire in enumerate(wires):
            if len(wire) > MAX_WIRE_BYTES or b"\\u0000" in wire:
                continue  # the model path refuses it with its reason
            try:
                r = _DECODER.decode(wire)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            text = r.time
            if type(text) is not str:
                continue
            dot = text.find(".")
            if dot >= 0 and len(text) - dot - 1 - len(text[dot + 1:].lstrip("0123456789")) > 6:
                continue  # sub-microsecond digits: pydantic truncates them, leave it to the model path
            if ((r.source_id in known_ids or _SOURCE_IDS.ok(r.source_id))
                    and (r.metric in known_metrics or _METRICS.ok(r.metric))):
                fast.append(i)
                readings.append(r)
    if readings:
        times = _parse_times([r.time for r in readings])
        for i, r, t in zip(fast, readings, times, strict=True):
            if t is not None:
                r.time = t
                out[i] = r
    for i, wire in enumerate(wires):
        if out[i] is None:
            try:
                out[i] = decode(wire)
            except EventDecodeError as exc:
                out[i] = exc
    return out  # type: ignore[return-value]  # every slot is filled above


def _parse_times(texts: list[str]) -> list[datetime | None]:
    """Each timestamp, in one call; ``None`` where msgspec refuses it or it is at the calendar's edge.

    For RFC 3339 text with at most six fraction digits msgspec reads the same instant as
    pydantic (the tests hold both to it), and gives ``datetime.timezone`` offsets, which the
    binary ``COPY`` writes faster than pydantic's own tzinfo.
    """
    try:
        times: list[datetime | None] = list(msgspec.convert(texts, _TIMES))
    except msgspec.ValidationError:
        times = [_parse_time(t) for t in texts]
    # the model converts to UTC, which overflows in years 1 and 9999: leave those to it
    return [t if t is not None and 1 < t.year < 9999 else None for t in times]


def _parse_time(text: str) -> datetime | None:
    try:
        return msgspec.convert(text, _TIME)
    except msgspec.ValidationError:
        return None
