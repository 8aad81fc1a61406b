"""The recording format: real AIS and environment records out to hour files and back, tamper-evident.

A recording is read as something anyone may have edited: each refusal below is a recording made by
the project's own writer and then altered the way a careless copy or a hostile sender would.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import migrated_database

from ingest.vessels.sources import FileSource
from ingest.vessels.worker import VesselWorker
from ioc.bus.memory import MemoryBus
from ioc.events import Event, decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.recording import RecordingError, read_manifest, read_recording, write_recording
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres

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
    with pytest.raises(RecordingError, match="'../etc/passwd' is not the file of feed x for that hour"):
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


# --- a recording as anyone may have edited it -------------------------------------------------------

ALL_TIME = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
RAW_TABLES = ["vessel_positions", "vessel_static_reports", "readings", "camera_keyframes"]
KEYFRAME = "cam-01/20200407T221000.000Z.jpg"


@pytest.fixture(scope="module")
def vessels() -> list[Event]:
    """The real AIS records, one per vessel, kind and time (the store's key: every one is written)."""
    firsts: dict[tuple[str, str, object], Event] = {}
    for r in real_vessel_records():
        firsts.setdefault((r.kind, r.source_id, r.time), r)  # type: ignore[attr-defined]
    return sorted(firsts.values(), key=lambda r: r.time)


def a_recording(root: Path, vessels: list[Event], frames: Path | None = None) -> list:
    """Three hours of real AIS, environment readings and (with ``frames``) a key frame and its JPEG."""
    from PIL import Image

    from ioc.feeds.cameras.records import CameraKeyFrame

    t0 = min(r.time for r in vessels)
    readings = [EnvironmentReading(time=t0 + timedelta(minutes=7 * i), source_id="hue-vyda", metric="pm25",
                                   value=10.0 + i, unit="µg/m³") for i in range(20)]
    pairs = [("vessels", r) for r in vessels] + [("environment", r) for r in readings]
    if frames is not None:
        (frames / "cam-01").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 36), (90, 120, 40)).save(frames / KEYFRAME, "JPEG")
        pairs.append(("cameras", CameraKeyFrame(time=t0 + timedelta(minutes=60), source_id="cam-01",
                                                path=KEYFRAME, width=64, height=36)))
    return write_recording(root, pairs, attachments={"camera.keyframe": frames} if frames else None)


def last_vessels_file(root: Path) -> str:
    return max(f.path for f in read_manifest(root) if f.feed == "vessels")


def last_readings_file(root: Path) -> str:
    """The last hour of the readings (the real AIS lies in the recording's first hour)."""
    return max(f.path for f in read_manifest(root) if f.feed == "environment")


def edit_manifest(root: Path, change: Callable[[dict], object]) -> None:
    doc = json.loads((root / "manifest.json").read_text())
    change(doc)
    (root / "manifest.json").write_text(json.dumps(doc, indent=1))


def entry(doc: dict, path: str) -> dict:
    return next(f for f in doc["files"] if f["path"] == path)


def reseal(root: Path, path: str, records: int | None = None) -> None:
    """Give the manifest the file's new SHA-256 (and ``records``): a consistent-looking edit."""
    digest = hashlib.sha256((root / path).read_bytes()).hexdigest()

    def change(doc: dict) -> None:
        entry(doc, path)["sha256"] = digest
        if records is not None:
            entry(doc, path)["records"] = records
    edit_manifest(root, change)


def rewrite(root: Path, path: str, change: Callable[[list[bytes]], list[bytes]]) -> None:
    """Replace a file's lines (its header first) and reseal it with the new count."""
    lines = change(gzip.decompress((root / path).read_bytes()).splitlines())
    (root / path).write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines)))
    reseal(root, path, records=len(lines) - 1)


def retimed(line: bytes, time: str) -> bytes:
    return json.dumps({**json.loads(line), "time": time}).encode()


def test_reading_is_bounded_a_gzip_bomb_endless_lines_and_a_huge_manifest_are_refused(
        tmp_path: Path, vessels: list[Event]) -> None:
    from ioc.recording_checks import MAX_MANIFEST_BYTES

    a_recording(tmp_path, vessels)
    victim = last_vessels_file(tmp_path)
    pristine = tmp_path / "pristine"
    shutil.copytree(tmp_path / "vessels", pristine / "vessels")
    header = gzip.decompress((tmp_path / victim).read_bytes()).splitlines()[0]
    with open(tmp_path / victim, "wb") as f:  # 256 MiB of NULs in 1 MiB of gzip after a good header
        f.write(gzip.compress(header + b"\n"))
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1) as bomb:
            for _ in range(256):
                bomb.write(bytes(1 << 20))
    reseal(tmp_path, victim)
    tracemalloc.start()
    try:
        with pytest.raises(RecordingError, match=f"{victim} line 2: longer than 1000001 bytes"):
            list(read_recording(tmp_path, *ALL_TIME))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak / 2**20:.0f} MiB held to refuse a bomb"
    # a good record a million times: refused once there are more than the manifest says
    record = gzip.decompress((pristine / victim).read_bytes()).splitlines()[1]
    (tmp_path / victim).write_bytes(gzip.compress(header + b"\n" + (record + b"\n") * 1_000_000))
    reseal(tmp_path, victim)
    with pytest.raises(RecordingError, match=f"{victim}: more records than the"):
        list(read_recording(tmp_path, *ALL_TIME))
    # a manifest over its bound is not read at all
    edit_manifest(tmp_path, lambda doc: doc.update(pad="x" * MAX_MANIFEST_BYTES))
    with pytest.raises(RecordingError, match=f"manifest.json: larger than {MAX_MANIFEST_BYTES} bytes"):
        read_manifest(tmp_path)


def test_a_listed_file_must_be_a_regular_file_inside_the_recording(tmp_path: Path,
                                                                  vessels: list[Event]) -> None:
    root = tmp_path / "rec"
    a_recording(root, vessels)
    victim = last_vessels_file(root)
    outside = tmp_path / "outside.jsonl.gz"  # the same bytes, SHA and all, but out of the folder
    shutil.move(root / victim, outside)
    (root / victim).symlink_to(outside)
    with pytest.raises(RecordingError, match=f"{victim}: not a regular file inside the recording"):
        list(read_recording(root, *ALL_TIME))
    (root / victim).unlink()
    shutil.move(root / "vessels", tmp_path / "vessels")  # the feed's folder a link out
    shutil.move(outside, tmp_path / victim)
    (root / "vessels").symlink_to(tmp_path / "vessels")
    with pytest.raises(RecordingError, match="not a regular file inside the recording"):
        list(read_recording(root, *ALL_TIME))
    (root / "vessels").unlink()
    shutil.move(tmp_path / "vessels", root / "vessels")
    assert len(list(read_recording(root, *ALL_TIME))) == sum(f.records for f in read_manifest(root))
    os.unlink(root / victim)
    os.mkfifo(root / victim)  # a pipe would block a reader for ever
    with pytest.raises(RecordingError, match=f"{victim}: not a regular file inside the recording"):
        list(read_recording(root, *ALL_TIME))


def _cut_in_half(root: Path, victim: str) -> None:
    data = (root / victim).read_bytes()
    (root / victim).write_bytes(data[: len(data) // 2])
    reseal(root, victim)


def set_entry(**fields: object) -> Callable[[Path, str], None]:
    """An edit of the manifest entry of the file it is given."""
    return lambda root, v: edit_manifest(root, lambda doc: entry(doc, v).update(fields))


def set_manifest(**fields: object) -> Callable[[Path, str], None]:
    return lambda root, v: edit_manifest(root, lambda doc: doc.update(fields))


BROKEN: dict[str, tuple[Callable[[Path, str], object], str]] = {
    "a listed file missing": (lambda root, v: (root / v).unlink(), "{v}: listed in the manifest but missing"),
    "gzip cut in half, SHA updated": (_cut_in_half, "{v}: not a complete gzip file"),
    "header not JSON": (lambda root, v: rewrite(root, v, lambda lines: [b"not json", *lines[1:]]),
                        "{v}: the header line is not a JSON object"),
    "header a list": (lambda root, v: rewrite(root, v, lambda lines: [b"[1]", *lines[1:]]),
                      "{v}: the header line is not a JSON object"),
    "header of another hour": (
        lambda root, v: rewrite(root, v, lambda lines: [lines[0].replace(b'T2', b'T0'), *lines[1:]]),
        "{v}: the header names feed"),
    "hour 9999": (set_entry(hour="9999-12-31T23:00:00+00:00"),
                  r"manifest.json: entry \d+: hour 9999-12-31T23:00:00\+00:00 lies outside"),
    "hour without a zone": (set_entry(hour="2020-04-07T23:00:00"),
                            r"entry \d+: hour '2020-04-07T23:00:00' is not an ISO time with its zone"),
    "count negative": (set_entry(records=-1),
                       r'manifest.json: entry \d+: "records" is negative'),
    "count not a number": (set_entry(records="7"),
                           r'manifest.json: entry \d+ of "files": "records" is missing or of the wrong type'),
    "path absolute": (set_entry(path="/etc/passwd"),
                      r"manifest.json: entry \d+: '/etc/passwd' is not the file of feed vessels"),
    "bad attachment entry": (set_manifest(attachments=[{"kind": "x"}]),
                             r'manifest.json: entry 1 of "attachments": "path" is missing'),
    "attachment path out": (
        set_manifest(attachments=[{"kind": "camera.keyframe", "path": "../../x", "sha256": "0" * 64,
                                   "bytes": 1}]),
        r"manifest.json: attachment 1: camera.keyframe/../../x is not a plain relative path"),
    "manifest a list": (lambda root, v: (root / "manifest.json").write_text("[1]"),
                        "manifest.json: not a version 1 recording"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_recording_is_a_refusal_that_names_the_file(case: str, tmp_path: Path,
                                                             vessels: list[Event]) -> None:
    from ioc.recording import import_recording

    a_recording(tmp_path / "rec", vessels)
    victim = last_vessels_file(tmp_path / "rec")
    breaks, reason = BROKEN[case]
    breaks(tmp_path / "rec", victim)
    reason = reason.replace("{v}", victim)
    with pytest.raises(RecordingError, match=reason):
        list(read_recording(tmp_path / "rec", *ALL_TIME))
    written: list[Event] = []
    with pytest.raises(RecordingError, match=reason):
        import_recording(tmp_path / "rec", written.extend, {})
    assert written == []


def _count_one_too_high(root: Path, victim: str) -> None:
    edit_manifest(root, lambda doc: entry(doc, victim).update(records=entry(doc, victim)["records"] + 1))


def _key_frame_altered(root: Path, victim: str) -> None:
    with open(root / "files" / "camera.keyframe" / KEYFRAME, "ab") as f:
        f.write(b"\0")


REFUSED_IMPORTS: dict[str, tuple[Callable[[Path, str], object], str]] = {
    "count one too high": (_count_one_too_high, "{v}: .* records, the manifest says"),
    "wrong SHA-256": (set_entry(sha256="0" * 64),
                      "{v}: SHA-256 differs"),
    "unknown kind on the last line": (
        lambda root, v: rewrite(root, v, lambda lines: [*lines, lines[-1].replace(b"environment.", b"no.")]),
        r"{v} line \d+: unknown kind"),
    "gzip cut in half": (_cut_in_half, "{v}: not a complete gzip file"),
    "key frame altered": (_key_frame_altered, f"files/camera.keyframe/{KEYFRAME}: missing or altered"),
    "a record of 9999 and one of 1970 (live ingest refuses both)": (
        lambda root, v: rewrite(root, v, lambda lines: [
            lines[0], retimed(lines[1], "9999-12-31T23:59:59Z"), retimed(lines[2], "1970-01-01T00:00:00Z"),
            *lines[3:]]),
        r"{v} line 2: time 9999-12-31T23:59:59\+00:00 lies outside the file's hour"),
}


def test_a_refused_import_writes_nothing_and_a_sound_one_writes_everything(
        plain_store: Store, tmp_path: Path, vessels: list[Event]) -> None:
    """The whole recording is checked before the first write: each broken copy (broken in its last
    hour, after records an import that streams as it reads would already have written) writes no
    row and no key frame."""
    from ioc.recording import import_recording
    from ioc.store.writer import StoreWriter

    writer = StoreWriter(plain_store.pool, plain_store.caps)
    pristine = tmp_path / "pristine"
    files = a_recording(pristine, vessels, frames=tmp_path / "frames-here")
    frames = tmp_path / "frames-there"

    def rows() -> dict[str, int]:
        with plain_store.pool.connection() as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RAW_TABLES}

    for case, (breaks, reason) in REFUSED_IMPORTS.items():
        root = tmp_path / case.replace(" ", "-")
        shutil.copytree(pristine, root)
        victim = last_readings_file(root)
        breaks(root, victim)
        with pytest.raises(RecordingError, match=reason.replace("{v}", victim)):
            import_recording(root, writer.write, {"camera.keyframe": frames}, batch=20)
        assert rows() == dict.fromkeys(RAW_TABLES, 0), case
        assert not frames.exists() or not any(frames.rglob("*.jpg")), case
    n = import_recording(pristine, writer.write, {"camera.keyframe": frames}, batch=100)
    assert n == sum(f.records for f in files) == sum(rows().values())
    assert (frames / KEYFRAME).read_bytes() == (tmp_path / "frames-here" / KEYFRAME).read_bytes()


def test_an_import_the_store_stops_midway_says_how_many_records_were_written(
        pg_plain: EmbeddedPostgres, tmp_path: Path, vessels: list[Event]) -> None:
    from ioc.recording import ImportStopped, import_recording
    from ioc.store.writer import StoreWriter

    files = a_recording(tmp_path / "rec", vessels)
    total = sum(f.records for f in files)
    store = open_store(migrated_database(pg_plain), 1, 2, want_timescaledb=False)
    writer = StoreWriter(store.pool, store.caps)
    batches = 0

    def write(batch: list[Event]) -> None:  # the store goes away after the second batch of 20
        nonlocal batches
        writer.write(batch)
        batches += 1
        if batches == 2:
            store.close()

    with pytest.raises(ImportStopped) as stopped:
        import_recording(tmp_path / "rec", write, {}, batch=20)
    assert total > 60 and (stopped.value.written, stopped.value.total) == (40, total)
    assert str(stopped.value).startswith(f"the import stopped after 40 of {total} records were written: ")
    assert stopped.value.said("vi").startswith(f"việc nhập dừng lại sau khi đã ghi 40 trên {total} bản tin")
    with psycopg.connect(store.dsn) as conn:
        assert sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RAW_TABLES) == 40


def test_small_edits_that_would_change_a_replay_are_refused(tmp_path: Path, vessels: list[Event]) -> None:
    """A record moved out of its file's hour, two records out of order, a file listed twice: a replay
    trusts each file's order (it merges the feeds by time), so each is refused, not replayed."""
    files = a_recording(tmp_path / "pristine", vessels)
    first = min(f.path for f in files if f.feed == "vessels")
    hour = next(f.hour for f in files if f.path == first)
    cases: dict[str, tuple[Callable[[Path], object], str]] = {
        "moved to the next hour": (
            lambda root: rewrite(root, first, lambda lines: [lines[0], *lines[2:],
                                                             retimed(lines[1], (hour + timedelta(minutes=70))
                                                                     .isoformat())]),
            rf"{first} line \d+: time .* lies outside the file's hour"),
        "two records swapped": (
            lambda root: rewrite(root, first, lambda lines: [lines[0], *sorted(
                lines[1:], key=lambda line: json.loads(line)["time"], reverse=True)]),
            rf"{first} line \d+: time .* is before the line above it"),
        "a file listed twice": (
            lambda root: edit_manifest(root, lambda doc: doc["files"].append(entry(doc, first))),
            f"manifest.json: {first} is listed twice"),
    }
    for case, (edit, reason) in cases.items():
        root = tmp_path / case.replace(" ", "-")
        shutil.copytree(tmp_path / "pristine", root)
        edit(root)
        with pytest.raises(RecordingError, match=reason):
            list(read_recording(root, *ALL_TIME))


def test_a_recording_holds_no_time_live_ingest_would_refuse(tmp_path: Path, vessels: list[Event]) -> None:
    """Records of 9999 and 1970 (times live ingest refuses) are refused in a file (outside its hour,
    see the import test above), as a file's hour in the manifest, and by the writer."""
    files = a_recording(tmp_path / "rec", vessels)
    victim = max(f.path for f in files if f.feed == "environment")
    old = "environment/environment-19700101T00Z.jsonl.gz"
    shutil.move(tmp_path / "rec" / victim, tmp_path / "rec" / old)
    set_entry(path=old, hour="1970-01-01T00:00:00+00:00")(tmp_path / "rec", victim)
    with pytest.raises(RecordingError, match=r"hour 1970-01-01T00:00:00\+00:00 lies outside 2000-01-01"):
        list(read_recording(tmp_path / "rec", datetime(1970, 1, 1, tzinfo=UTC), ALL_TIME[1]))
    reading = EnvironmentReading(time=datetime(1970, 1, 1, tzinfo=UTC), source_id="hue-vyda", metric="pm25",
                                 value=1.0, unit="µg/m³")
    with pytest.raises(RecordingError, match="environment: a record of 1970-01-01T00:00:00"):
        write_recording(tmp_path / "other", [("environment", reading)])
    assert not list((tmp_path / "other").rglob("*.gz"))


def test_recording_an_hour_again_into_the_same_folder_is_refused_and_leaves_it_as_it_was(
        tmp_path: Path, vessels: list[Event]) -> None:
    """An hour file is never overwritten (nor appended to): recording the second half of an hour into
    the folder of its first half is refused; another feed's hours still join the folder's manifest."""
    hour = datetime(2020, 4, 7, 22, tzinfo=UTC)
    readings = [("environment", EnvironmentReading(time=hour + timedelta(minutes=i), source_id="hue-vyda",
                                                   metric="pm25", value=float(i), unit="µg/m³"))
                for i in range(60)]
    write_recording(tmp_path, readings[:30])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(RecordingError, match="the hour file exists already: record into a new folder"):
        write_recording(tmp_path, readings[30:])
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert list(read_recording(tmp_path, *ALL_TIME)) == readings[:30]
    write_recording(tmp_path, [("vessels", r) for r in vessels])
    assert {f.feed for f in read_manifest(tmp_path)} == {"vessels", "environment"}
    assert len(list(read_recording(tmp_path, *ALL_TIME))) == 30 + len(vessels)


def test_the_store_exports_every_feed_through_a_pool_of_two_connections(pg_plain: EmbeddedPostgres,
                                                                        tmp_path: Path) -> None:
    """One connection, one server-side cursor per raw table: every feed's tables at once, through a
    pool smaller than their number (the default pool is 8, the tables 10)."""
    from PIL import Image

    import tests.hour_of_every_feed as every
    from ioc.config import load_settings
    from ioc.feeds import FEEDS
    from ioc.feeds.cameras.records import CameraKeyFrame
    from ioc.recording import count_in_store, export_recording, records_from_store
    from ioc.store.writer import StoreWriter

    settings = load_settings()
    start = every.services_hour(settings)
    (tmp_path / "frames" / "cam-01").mkdir(parents=True)
    Image.new("RGB", (64, 36), (90, 120, 40)).save(tmp_path / "frames" / KEYFRAME, "JPEG")
    records = [*every.environment(settings, start), *every.vessels(start), *every.cameras(start),
               *every.security(settings, start), *every.services(settings), *every.reports(settings, start),
               CameraKeyFrame(time=start + timedelta(minutes=5), source_id="cam-01", path=KEYFRAME, width=64,
                              height=36)]
    store = open_store(migrated_database(pg_plain), 1, 2, want_timescaledb=False)
    try:
        writer = StoreWriter(store.pool, store.caps)
        writer.write([r for r in records if writer.storable(r.kind)])  # type: ignore[attr-defined]
        tables = [spec.table for f in FEEDS for spec in f.tables if spec.from_row is not None]
        with store.pool.connection() as conn:
            assert all(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
        assert len(tables) > 2
        window = (start - timedelta(days=30), start + timedelta(hours=2))
        back = list(records_from_store(store.pool, *window))
        assert len(back) == count_in_store(store.pool, *window)
        assert [r.time for _, r in back] == sorted(r.time for _, r in back)
        assert {feed for feed, _ in back} == {f.name for f in FEEDS if any(s.from_row for s in f.tables)}
        files = export_recording(store.pool, tmp_path / "rec", *window,
                                 attachments={"camera.keyframe": tmp_path / "frames"})
        assert sum(f.records for f in files) == len(back)
        assert (tmp_path / "rec" / "files" / "camera.keyframe" / KEYFRAME).exists()
    finally:
        store.close()


def test_the_recording_commands_refuse_a_broken_recording_with_a_message_not_a_traceback(
        pg_plain: EmbeddedPostgres, tmp_path: Path, vessels: list[Event]) -> None:
    from ioc.store.writer import StoreWriter

    dsn = migrated_database(pg_plain)
    store = open_store(dsn, 1, 2, want_timescaledb=False)
    try:
        StoreWriter(store.pool, store.caps).write(vessels)
    finally:
        store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    root = Path(__file__).resolve().parents[1]
    window = ["--from", "2020-04-07T00:00+00:00", "--to", "2020-04-09T00:00+00:00"]

    def ioc(*args: str, on: str = dsn, lang: str = "en") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ioc.app.cli", *args, "--dsn", on],
                              env={**env, "PYTHONPATH": str(root), "IOC_LANG": lang,
                                   "IOC_VISION__KEYFRAMES_DIR": str(tmp_path / "frames")},
                              cwd=root, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)

    def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
        assert done.returncode == 2, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and all(w in done.stderr for w in words), done.stderr[-3000:]

    rec = str(tmp_path / "rec")
    assert ioc("record", "--out", rec, *window).returncode == 0
    refused(ioc("record", "--out", rec, *window), "ioc record: ", "the hour file exists already")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    refused(ioc("record", "--out", str(tmp_path / "bad"), *window), "manifest.json: not JSON")

    victim = last_vessels_file(tmp_path / "rec")
    _cut_in_half(tmp_path / "rec", victim)
    there = migrated_database(pg_plain)
    refused(ioc("import-recording", rec, on=there),
            f"ioc import-recording: {victim}: not a complete gzip file")
    refused(ioc("import-recording", rec, on=there, lang="vi"), f"{victim}: không phải tệp gzip hoàn chỉnh")
    with psycopg.connect(there) as conn:
        assert sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RAW_TABLES) == 0
    (tmp_path / "rec" / victim).unlink()
    refused(ioc("replay", "--recording", rec, *window),
            f"ioc replay: {victim}: listed in the manifest but missing")


def writers_manifest(root: Path, target: int) -> None:
    """A manifest of just under ``target`` bytes in the writer's own form (its indent, its fields),
    listing hour files of ten feeds as a real one does (the files themselves are not made)."""
    real = json.loads((root / "manifest.json").read_text())["files"][0]
    t0 = datetime(2001, 1, 1, tzinfo=UTC)

    def text(n: int) -> str:
        entries = []
        for i in range(n):
            feed, hour = f"feed{i % 10}", t0 + timedelta(hours=i // 10)
            entries.append({**real, "path": f"{feed}/{feed}-{hour:%Y%m%dT%H}Z.jsonl.gz", "feed": feed,
                            "hour": hour.isoformat(), "records": 10**6 + i, "sha256": f"{i:064x}"})
        return json.dumps({"ioc_recording": 1, "files": entries, "attachments": [], "missing": []}, indent=1)

    per_entry = len(text(1000)) / 1000
    (root / "manifest.json").write_text(text(int(target / per_entry) - 10))


def peak_of(call: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        try:
            result: object = call()
        except RecordingError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_manifest_near_its_bound_is_read_with_memory_of_its_own_scale(tmp_path: Path,
                                                                       vessels: list[Event]) -> None:
    """Each entry is checked as it is decoded: a list of ``{}`` near the bound is refused at its first
    (a parse of the whole held 25 times its size), and a real manifest near the bound is held at
    about the size of the entries it lists."""
    from ioc.recording_checks import MAX_MANIFEST_BYTES, load_manifest

    cap = MAX_MANIFEST_BYTES
    assert cap <= 32 << 20  # a year of hour files of ten feeds and 50,000 key frames (see its comment)
    hostile = {
        "empty objects": '{"ioc_recording": 1, "files": [' + ", ".join(["{}"] * (cap // 5)) + "]}",
        "lists": '{"ioc_recording": 1, "files": [' + ", ".join(["[]"] * (cap // 5)) + "]}",
        "nested": '{"ioc_recording": 1, "files": [{"path": [' + ",".join(["{}"] * (cap // 4)) + "]}]}",
    }
    reasons = {"empty objects": 'entry 1 of "files": "path" is missing',
               "lists": 'entry 1 of "files" is not a JSON object',
               "nested": 'entry 1 of "files" is not an object of strings and numbers'}
    for case, text in hostile.items():
        (tmp_path / "manifest.json").write_text(text)
        size = len(text)
        del text
        assert size > cap * 3 // 4
        refused, peak = peak_of(lambda: read_manifest(tmp_path))
        assert isinstance(refused, RecordingError) and reasons[case] in str(refused), (case, refused)
        assert peak < 1.5 * size, f"{case}: {peak / 2**20:.0f} MiB held for {size / 2**20:.0f} MiB"
    names = '{"ioc_recording": 1, "files": [], "missing": [' + ", ".join(
        f'"k/{i:x}"' for i in range(cap // 12)) + "]}"
    (tmp_path / "manifest.json").write_text(names)
    manifest, peak = peak_of(lambda: load_manifest(tmp_path))
    assert sum(1 for _ in manifest.missing) == cap // 12  # type: ignore[attr-defined]
    assert peak < 3 * len(names), f"{peak / 2**20:.0f} MiB held for {len(names) / 2**20:.0f} MiB of names"

    rec = tmp_path / "rec"
    a_recording(rec, vessels)
    writers_manifest(rec, cap - (8 << 10))
    size = (rec / "manifest.json").stat().st_size
    assert cap - (64 << 10) < size <= cap
    listed, peak = peak_of(lambda: read_manifest(rec))
    assert isinstance(listed, list) and len(listed) > 100_000
    assert peak < 3.5 * size, f"{peak / 2**20:.0f} MiB held for a manifest of {size / 2**20:.0f} MiB"
    # the writer does not make a manifest its readers would refuse (and takes its hour file out)
    before = {p: p.read_bytes() for p in rec.rglob("*") if p.is_file()}
    more = [("readings", EnvironmentReading(time=datetime(2020, 5, 1, tzinfo=UTC) + timedelta(minutes=20 * i),
                                            source_id="hue-vyda", metric="pm25", value=1.0, unit="µg/m³"))
            for i in range(3 * 24 * 20)]  # 480 hour files: 100 kB more than the manifest's room
    with pytest.raises(RecordingError, match=f"the manifest would be larger than {cap} bytes"):
        write_recording(rec, more)
    assert {p: p.read_bytes() for p in rec.rglob("*") if p.is_file()} == before


def entries_of(root: Path) -> dict[str, object]:
    """Every name under ``root``: a link's target, a file's bytes (a folder as None)."""
    return {str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file()
            else None for p in root.rglob("*")}


def test_the_writer_never_writes_through_a_link_in_the_folder(tmp_path: Path) -> None:
    """Links left in the output folder where the writer would put a key frame, an hour file's body, its
    manifest, or a feed's folder: the write is refused or goes round them; nothing outside changes."""
    from PIL import Image

    from ioc.feeds.cameras.records import CameraKeyFrame

    frames, out, outside = tmp_path / "frames", tmp_path / "out", tmp_path / "outside"
    (frames / "cam-01").mkdir(parents=True)
    Image.new("RGB", (64, 36), (90, 120, 40)).save(frames / KEYFRAME, "JPEG")
    outside.mkdir()
    victims = {name: outside / name for name in ("key-frame.txt", "body.txt", "manifest.txt")}
    for name, victim in victims.items():
        victim.write_text(f"precious {name}\n")
    t0 = datetime(2020, 4, 7, 21, 10, tzinfo=UTC)
    pairs = [("environment", EnvironmentReading(time=t0, source_id="hue-vyda", metric="pm25", value=1.0,
                                                unit="µg/m³")),
             ("cameras", CameraKeyFrame(time=t0 + timedelta(minutes=60), source_id="cam-01", path=KEYFRAME,
                                        width=64, height=36))]
    (out / "files" / "camera.keyframe" / "cam-01").mkdir(parents=True)
    (out / "environment").mkdir()
    (out / "files" / "camera.keyframe" / KEYFRAME).symlink_to(victims["key-frame.txt"])
    (out / "environment" / "environment-20200407T21Z.jsonl.body").symlink_to(victims["body.txt"])
    (out / "manifest.json.part").symlink_to(victims["manifest.txt"])
    before, outside_before = entries_of(out), entries_of(outside)

    with pytest.raises(RecordingError, match=f"files/camera.keyframe/{KEYFRAME}: not a regular file inside"):
        write_recording(out, pairs, attachments={"camera.keyframe": frames})
    assert entries_of(outside) == outside_before
    assert {k: v for k, v in entries_of(out).items() if v is not None} == \
        {k: v for k, v in before.items() if v is not None}  # nothing written, nothing left
    (out / "files" / "camera.keyframe" / KEYFRAME).unlink()
    written = write_recording(out, pairs, attachments={"camera.keyframe": frames})
    assert entries_of(outside) == outside_before
    assert len(written) == 2 and not (out / "manifest.json").is_symlink()
    assert [r for _, r in read_recording(out, *ALL_TIME)] == [r for _, r in pairs]
    assert (out / "files" / "camera.keyframe" / KEYFRAME).read_bytes() == (frames / KEYFRAME).read_bytes()
    assert not [p for p in out.rglob(".ioc-tmp-*")]
    # a feed's folder that is a link out: refused, and nothing is written where it points
    (outside / "vessels").mkdir()
    (out / "vessels").symlink_to(outside / "vessels")
    reading = EnvironmentReading(time=t0, source_id="hue-vyda", metric="pm25", value=2.0, unit="µg/m³")
    with pytest.raises(RecordingError, match="vessels/vessels-20200407T21Z.jsonl.gz: not a regular file"):
        write_recording(out, [("vessels", reading)])
    assert entries_of(outside) == {**outside_before, "vessels": None}


def test_an_attachment_whose_name_ends_in_part_is_restored_beside_the_other(tmp_path: Path,
                                                                         vessels: list[Event]) -> None:
    """Key frames ``k.jpg`` and ``k.jpg.part`` (names a camera may give): each is restored through a
    temporary name no file has, whatever order the manifest lists them in."""
    from PIL import Image

    from ioc.feeds.cameras.records import CameraKeyFrame
    from ioc.recording import import_recording

    frames, there = tmp_path / "frames-here", tmp_path / "frames-there"
    a_recording(tmp_path / "rec", vessels, frames=frames)
    Image.new("RGB", (32, 18), (200, 10, 10)).save(frames / (KEYFRAME + ".part"), "JPEG")
    t = datetime(2020, 4, 7, 23, 30, tzinfo=UTC)
    part = CameraKeyFrame(time=t, source_id="cam-01", path=KEYFRAME + ".part", width=32, height=18)
    write_recording(tmp_path / "rec", [("cameras", part)], attachments={"camera.keyframe": frames})
    edit_manifest(tmp_path / "rec", lambda doc: doc["attachments"].reverse())  # the ".part" one first
    assert [a["path"] for a in json.loads((tmp_path / "rec" / "manifest.json").read_text())["attachments"]] \
        == [KEYFRAME + ".part", KEYFRAME]
    written: list[Event] = []
    import_recording(tmp_path / "rec", written.extend, {"camera.keyframe": there})
    for name in (KEYFRAME, KEYFRAME + ".part"):
        assert (there / name).read_bytes() == (frames / name).read_bytes(), name
    assert sorted(p.name for p in (there / "cam-01").iterdir()) == \
        sorted(p.name for p in (frames / "cam-01").iterdir())  # no temporary file left


def test_a_hard_link_to_a_file_outside_the_recording_is_refused_with_its_name(tmp_path: Path,
                                                                             vessels: list[Event]) -> None:
    """A hard link cannot be told from its original: a key frame or an hour file with another name
    (a secret elsewhere on the disk, linked in and sealed into the manifest) is refused, not imported."""
    from ioc.recording import import_recording

    root, there = tmp_path / "rec", tmp_path / "frames-there"
    a_recording(root, vessels, frames=tmp_path / "frames-here")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"TOP SECRET\n")
    stored = root / "files" / "camera.keyframe" / KEYFRAME
    stored.unlink()
    os.link(secret, stored)

    def seal(doc: dict) -> None:
        doc["attachments"][0].update(sha256=hashlib.sha256(b"TOP SECRET\n").hexdigest(), bytes=11)
    edit_manifest(root, seal)
    written: list[Event] = []
    with pytest.raises(RecordingError, match=f"files/camera.keyframe/{KEYFRAME}: a hard link"):
        import_recording(root, written.extend, {"camera.keyframe": there})
    assert written == [] and not there.exists()
    stored.unlink()
    shutil.copyfile(secret, stored)  # the same bytes, one name: imported
    import_recording(root, written.extend, {"camera.keyframe": there})
    assert (there / KEYFRAME).read_bytes() == b"TOP SECRET\n"

    victim = last_vessels_file(root)
    os.link(root / victim, tmp_path / "elsewhere.jsonl.gz")
    with pytest.raises(RecordingError, match=f"{victim}: a hard link") as refused:
        list(read_recording(root, *ALL_TIME))
    assert refused.value.said("vi").startswith(f"{victim}: là liên kết cứng (tệp có 2 tên")
