"""Batch decoding gives exactly what per-record decoding gives: the same records, the same reasons."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from ioc.batch_decode import MIRRORED_SCHEMA, PlainReading, decode_batch, schema_fingerprint
from ioc.events import EventDecodeError, decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.vessels.records import VesselPosition

BASE = {"kind": "environment.reading", "time": "2026-11-01T00:00:00Z", "source_id": "hue-aq-001",
        "metric": "pm25", "value": 1.5}
FIELDS = ("kind", "v", "time", "source_id", "metric", "value", "unit", "quality")


def variant(**changes: object) -> bytes:
    return json.dumps({**BASE, **changes}).encode()


def edge_cases() -> list[bytes]:
    """Inputs at every edge of the reading's constraints, and lax inputs pydantic coerces."""
    cases = [variant(), json.dumps({k: v for k, v in BASE.items() if k != "kind"}).encode(),
             variant(extra=1), variant(kind="vessel.position"), b"not json", b"\x00\xff", b"[]", b"",
             variant() + b" x", b" " + variant() + b"\n", json.dumps([BASE]).encode(),
             json.dumps(BASE).replace('"kind"', '"k\\u0069nd"').encode(),
             b'{"kind":"environment.reading","time":"2026-11-01T00:00:00Z","source_id":"a",'
             b'"metric":"pm25","value":1,"value":"x"}',
             b'{"kind":"environment.reading","time":"2026-11-01T00:00:00Z","source_id":"\\ud800",'
             b'"metric":"pm25","value":1}',
             b'{"kind":"environment.reading","time":"2026-11-01T00:00:00Z","source_id":"\xff",'
             b'"metric":"pm25","value":1}']
    for t in ("2026-11-01T07:00:00+07:00", "2026-11-01 07:00:00-03:30", "2026-11-01t00:00:00z",
              "2026-11-01T00:00:00.123456Z", "2026-11-01T00:00:00.1234567Z", "2026-11-01T00:00:00.5",
              "2026-11-01T00:00:00.5+00:00", "2026-11-01T00:00:00.1234567+07:00", "2026-11-01T00:00Z",
              "2026-11-01T00:00:00", "2026-11-01", "2026-02-29T00:00:00Z", "2026-11-01T24:00:00Z",
              "2026-11-01T23:59:60Z", "9999-12-31T23:00:00-02:00", "0001-01-01T00:30:00+01:00",
              "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1700000000", "", "now", 1700000000, None):
        cases.append(variant(time=t))
    for v in ("1", "1e308", "1e309", "-1e400", "NaN", "Infinity", "true", "null", '"1.5"', "-0.0",
              "123456789012345678901234567890", "5e-324", "01", ".5"):
        cases.append(variant().replace(b'"value": 1.5', b'"value": ' + v.encode()))
    for text in ("", "a", "a" * 64, "a" * 65, "a" * 128, "a" * 129, "é" * 32, "é" * 33, "a\n", "a\u0000",
                 "a\u001f", "a\u007f", "a\u2028", "A", "pm2.5", "pm-25", "x_y", " "):
        for field in ("source_id", "metric", "unit"):
            cases.append(variant(**{field: text}))
    for quality in ("good", "suspect", "bad", "GOOD", "", None):
        cases.append(variant(quality=quality))
    for v in (1, 1.0, True, "1", 2, None):
        cases.append(variant(v=v))
    return cases


def mutants(n: int) -> list[bytes]:
    """Seeded random edits of good records (a fixed corpus, the same every run)."""
    rnd = random.Random(12)
    seeds = [variant(unit="µg/m³", quality="suspect"), variant(time="2026-11-01T07:00:00.25+07:00")]
    alphabet = b'0123456789.:+-eEZTtz "{}[],\\u\x00\x1f\xff\xc3\xa9abcxyz_'
    out = []
    for _ in range(n):
        wire = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 2)):
            pos = rnd.randrange(len(wire))
            if rnd.random() < 0.5:
                wire[pos] = rnd.choice(alphabet)
            else:
                wire.insert(pos, rnd.choice(alphabet))
        out.append(bytes(wire))
    return out


def test_the_fast_path_mirrors_the_current_reading_model() -> None:
    assert schema_fingerprint() == MIRRORED_SCHEMA, (
        "EnvironmentReading changed: bring PlainReading in ioc/batch_decode.py up to date with it, "
        "then pin the new schema_fingerprint() as MIRRORED_SCHEMA (until then every reading takes "
        "the slower model path)")


@pytest.mark.parametrize("corpus", ["edges", "mutants"])
def test_batch_and_per_record_decoding_agree(corpus: str) -> None:
    wires = edge_cases() if corpus == "edges" else mutants(4000)
    results = decode_batch(wires)
    assert len(results) == len(wires)
    fast = 0
    for wire, got in zip(wires, results, strict=True):
        try:
            want = decode(wire)
        except EventDecodeError as exc:
            assert isinstance(got, EventDecodeError), wire
            assert str(got) == str(exc), wire
            continue
        assert not isinstance(got, EventDecodeError), (wire, got)
        fast += isinstance(got, PlainReading)
        for name in FIELDS:
            a, b = getattr(want, name), getattr(got, name)
            assert a == b, (wire, name, a, b)
            if name == "value":
                assert math.copysign(1, a) == math.copysign(1, b), wire
    assert fast > 10  # canonical records did take the fast path


def test_canonical_readings_skip_the_model_and_other_kinds_keep_it() -> None:
    t0 = datetime(2026, 11, 1, 7, tzinfo=UTC)
    readings = [EnvironmentReading(time=t0 + timedelta(microseconds=i * 1001), source_id=f"st-{i}",
                                   metric="pm25", value=i / 3, unit="µg/m³") for i in range(50)]
    position = VesselPosition(time=t0, source_id="574000001", mmsi=574000001, lat=16.5, lon=107.6)
    got = decode_batch([r.to_wire() for r in readings] + [position.to_wire()])
    assert all(isinstance(g, PlainReading) for g in got[:-1])
    assert [(g.time, g.source_id, g.value, g.unit) for g in got[:-1]] == [  # type: ignore[union-attr]
        (r.time, r.source_id, r.value, r.unit) for r in readings]
    assert got[-1] == position


def test_a_time_that_leaves_the_calendar_in_utc_is_refused_with_a_reason() -> None:
    with pytest.raises(EventDecodeError, match="time: .*UTC"):
        decode(variant(time="9999-12-31T23:00:00-02:00"))
    [got] = decode_batch([variant(time="0001-01-01T00:30:00+01:00")])
    assert isinstance(got, EventDecodeError) and "UTC" in str(got)
