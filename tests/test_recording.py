"""The recording format: real AIS and environment records out to hour files and back, tamper-evident."""

from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.vessels.sources import FileSource
from ingest.vessels.worker import VesselWorker
from ioc.bus.memory import MemoryBus
from ioc.events import Event, decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.recording import RecordingError, read_manifest, read_recording, write_recording
from ioc.store.database import Store

SAMPLES = Path(__file__).resolve().parents[1] / "sample_streams"


def real_vessel_records() -> list[Event]:
    """The gpsd project's AIS test log decoded by our own worker (its receive time spread over 3 h)."""
    bus = MemoryBus()
    start = datetime(2020, 4, 7, 21, 10, tzinfo=UTC)
    ticks = iter(start + timedelta(seconds=40 * i) for i in range(100_000))
    source = FileSource(SAMPLES / "vessels" / "ais-nmea.log", clock=lambda: next(ticks))
    worker = VesselWorker(source, bus.publisher(), flush_records=10**6)
    for lines, received in source.read(threading.Event()):
        worker.handle(lines, received)
    worker.flush()
    sub = bus.subscribe(["ioc.vessels.positions", "ioc.vessels.static"], "t")
    out: list[Event] = []
    while batch := sub.poll(max_records=10_000, timeout=0.05):
        out += [decode(m.value) for m in batch]
    return out


def test_a_recording_reads_back_every_record_in_time_order_across_feeds(tmp_path: Path) -> None:
    vessels = real_vessel_records()
    assert len(vessels) > 100
    t0 = min(r.time for r in vessels)
    readings = [EnvironmentReading(time=t0 + timedelta(minutes=7 * i), source_id="hue-vyda", metric="pm25",
                                   value=10.0 + i, unit="µg/m³") for i in range(40)]
    pairs = [("vessels", r) for r in vessels] + [("environment", r) for r in readings]
    written = write_recording(tmp_path, pairs)
    hours = {f.hour for f in written}
    assert len(hours) >= 2 and {f.feed for f in written} == {"vessels", "environment"}
    assert sum(f.records for f in written) == len(vessels) + len(readings)
    assert read_manifest(tmp_path) == sorted(written, key=lambda f: f.path)

    everything = list(read_recording(tmp_path, t0 - timedelta(days=1), t0 + timedelta(days=1)))
    assert sorted(r.to_wire() for _, r in everything) == sorted(r.to_wire() for r in vessels + readings)
    times = [r.time for _, r in everything]
    assert times == sorted(times)
    # a range and a feed: only what was asked for
    lo, hi = t0 + timedelta(minutes=30), t0 + timedelta(minutes=90)
    some = list(read_recording(tmp_path, lo, hi, feeds=["environment"]))
    assert [r for _, r in some] == [r for r in readings if lo <= r.time < hi] and some


def test_an_altered_or_truncated_file_is_refused_with_its_name(tmp_path: Path) -> None:
    vessels = real_vessel_records()
    written = write_recording(tmp_path, [("vessels", r) for r in vessels])
    victim = tmp_path / written[0].path
    lines = gzip.decompress(victim.read_bytes()).splitlines()
    victim.write_bytes(gzip.compress(b"\n".join(lines[:-1]) + b"\n"))  # one record lost
    t0 = min(r.time for r in vessels)
    with pytest.raises(RecordingError, match=written[0].path + ": SHA-256 differs"):
        list(read_recording(tmp_path, t0 - timedelta(days=1), t0 + timedelta(days=1)))
    (tmp_path / "manifest.json").write_text('{"ioc_recording": 1, "files": [{"path": "../etc/passwd", '
                                            '"feed": "x", "hour": "2020-04-07T21:00:00+00:00", '
                                            '"records": 1, "sha256": "0"}]}')
    with pytest.raises(RecordingError, match="inside the recording"):
        list(read_recording(tmp_path, t0 - timedelta(days=1), t0 + timedelta(days=1)))


def test_the_store_exports_what_it_holds_as_a_recording_that_replays_the_same(tmp_path: Path,
                                                                              plain_store: Store) -> None:
    """Facts written by the sink come back from the raw tables as the records they were."""
    from ioc.feeds.security.records import SecurityEvent
    from ioc.recording import export_recording, records_from_store
    from ioc.store.writer import StoreWriter

    firsts: dict[tuple[str, str, object], Event] = {}
    for r in real_vessel_records():  # the store keeps one fact per vessel, kind and time (its key)
        firsts.setdefault((r.kind, r.source_id, r.time), r)  # type: ignore[attr-defined]
    vessels = list(firsts.values())
    t0 = min(r.time for r in vessels)
    readings = [EnvironmentReading(time=t0 + timedelta(minutes=i), source_id="hue-vyda", metric="pm25",
                                   value=10.5 + i, unit="µg/m³") for i in range(30)]
    logins = [SecurityEvent(time=t0 + timedelta(seconds=30 * i), source_id="gw", log="auth", action="login",
                            outcome="failure", user="root", src_ip="203.0.113.9", raw=f"line {i}")
              for i in range(10)]
    StoreWriter(plain_store.pool, plain_store.caps).write([*vessels, *readings, *logins])
    window = (t0 - timedelta(hours=1), t0 + timedelta(days=1))
    back = list(records_from_store(plain_store.pool, *window))
    assert [r.time for _, r in back] == sorted(r.time for _, r in back)
    wire = sorted(r.to_wire() for _, r in back)
    assert wire == sorted(r.to_wire() for r in [*vessels, *readings, *logins])  # every field as written
    files = export_recording(plain_store.pool, tmp_path / "rec", *window, feeds=["environment", "security"])
    assert {f.feed for f in files} == {"environment", "security"} and sum(f.records for f in files) == 40
    again = sorted(r.to_wire() for _, r in read_recording(tmp_path / "rec", *window))
    assert again == sorted(r.to_wire() for r in [*readings, *logins])
