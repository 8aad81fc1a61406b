"""Replay and back-test on a real PostgreSQL: a recorded run's alerts raised again, in a database apart."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from conftest import migrated_database

from alerts.consumer import AlertSignalConsumer
from alerts.service import AlertService
from detectors.registry import build_detectors
from detectors.runner import DetectorRunner
from ingest.vessels.nmea import AisDecoder
from ingest.vessels.simulator import SCENARIO_HOURS, FleetSimulator
from ioc.app.replay import compare, replay_database, replayed_alerts, run_replay, wire_copies
from ioc.app.runtime import Runtime
from ioc.cells import CellRouter
from ioc.config import RuleSettings, Settings, load_settings
from ioc.events import Event
from ioc.feeds.vessels.records import StormWarning
from ioc.recording import read_recording, write_recording
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.waiting import wait_for

T0 = datetime(2025, 9, 1, tzinfo=UTC)


def fleet_records(start: datetime = T0, hours: float = SCENARIO_HOURS) -> list[Event]:
    """The simulated Huế fleet's scenario (SIMULATED, made to trip each vessel rule), decoded: its
    first ``hours`` from ``start``."""
    sim = FleetSimulator(start)
    end = start + timedelta(hours=hours)
    decoder = AisDecoder(simulated=True)
    out: list[Event] = []
    for when, line in sim.sentences(end):
        out += decoder.feed(line, when)
    out += decoder.flush(end) or []
    out += [w for w in map(StormWarning.model_validate, sim.storm_warnings()) if w.time <= end]
    return sorted(out, key=lambda r: r.time)


def vessel_settings(**rules: object) -> Settings:
    """The Huế configuration's vessel rules alone (``rules`` override their options)."""
    hue = load_settings()
    vessels = {**hue.rules.vessels.as_config(), **rules}
    return Settings(samples_dir=hue.samples_dir, rules=RuleSettings(vessels=vessels), bus=hue.bus)


def live_run(records: list[Event], settings: Settings, store: Store) -> None:
    """The embedded mode's own pieces: its bus, a detector runner thread and the alerts consumer
    thread, with the records published in small uneven batches while they run."""
    bus = Runtime(settings).open_bus()  # the embedded mode's bus
    runner = DetectorRunner(bus, build_detectors(settings), use_wall_clock=False)
    consumer = AlertSignalConsumer(bus, AlertService(store.pool), StoreWriter(store.pool, store.caps))
    stop_runner, stop_consumer = threading.Event(), threading.Event()
    reading = threading.Thread(target=runner.run, args=(stop_runner,))
    applying = threading.Thread(target=consumer.run, args=(stop_consumer,))
    reading.start()
    applying.start()
    try:
        publisher, cells = bus.publisher(), CellRouter(settings.bus.cells)
        published, read = 0, {*runner.topics, *runner.broadcast_topics}
        for i, record in enumerate(records):
            for topic, key, value in wire_copies(record, cells):
                publisher.publish(topic, key, value)
                published += topic in read
            if i % 37 == 0:
                publisher.flush()
        publisher.flush()
        wait_for(lambda: runner.events_seen >= published, "the runner read every record it subscribes to")
        stop_runner.set()
        reading.join(timeout=60)
        runner.run_once(timeout=0.0)  # caught up: the last judgement at the final watermark
        wait_for(lambda: consumer.health.records >= runner.signals_published, "every signal applied")
    finally:
        stop_runner.set()
        stop_consumer.set()
        reading.join(timeout=60)
        applying.join(timeout=60)


def fingerprints(alerts: list) -> list[tuple[str, datetime, str, datetime | None]]:
    return sorted((a.fingerprint, a.first_seen, a.severity, a.resolved_at) for a in alerts)


def test_replay_of_a_recording_raises_the_alerts_of_the_run_it_recorded(pg_plain: EmbeddedPostgres,
                                                                        tmp_path: Path) -> None:
    records = fleet_records()
    settings = vessel_settings()
    live = open_store(migrated_database(pg_plain), 1, 4, want_timescaledb=False)
    try:
        live_run(records, settings, live)
        live_alerts = replayed_alerts(live.pool)
        with live.pool.connection() as conn:
            live_count = conn.execute("SELECT count(*) FROM alerts").fetchone()
    finally:
        live.close()
    assert len(live_alerts) >= 5
    assert {a.detector for a in live_alerts} >= {"zone_dwell", "ais_gap", "storm_ban"}

    write_recording(tmp_path / "rec", [("vessels", r) for r in records])
    window = (T0 - timedelta(days=1), T0 + timedelta(days=2))
    recorded = [r for _, r in read_recording(tmp_path / "rec", *window)]
    assert len(recorded) == len(records)
    with replay_database(pg_plain.dsn) as replay:
        run = run_replay(recorded, settings, replay.pool)
        assert run.events == len(records) and run.signals > 0
        assert fingerprints(run.alerts) == fingerprints(live_alerts)
        # the live store was never written by the replay
        with psycopg.connect(live.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM alerts").fetchone() == live_count


def test_two_replays_at_once_do_not_mix_and_a_back_test_names_what_a_rule_change_does(
        pg_plain: EmbeddedPostgres) -> None:
    records = fleet_records()
    baseline, tuned = vessel_settings(), vessel_settings(ais_gap={"gap_minutes": 20})
    runs: dict[str, list] = {}

    def replay(name: str, settings: Settings) -> None:
        with replay_database(pg_plain.dsn) as store:
            runs[name] = run_replay(records, settings, store.pool).alerts

    threads = [threading.Thread(target=replay, args=("baseline", baseline)),
               threading.Thread(target=replay, args=("tuned", tuned))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(runs) == {"baseline", "tuned"}
    diff = compare(runs["baseline"], runs["tuned"])
    gap_rules = {r for r in diff.per_rule() if "gap" in r}
    assert gap_rules, diff.per_rule()  # a shorter gap threshold finds more (or earlier) gaps
    assert sum(v["added"] + v["changed"] for r, v in diff.per_rule().items() if r in gap_rules) > 0
    # every other rule's alerts are the same
    assert all(r in gap_rules for r in diff.per_rule())
    same = compare(runs["baseline"], runs["baseline"])
    assert (same.added, same.removed, same.changed) == ([], [], []) and same.same == len(runs["baseline"])


def test_ioc_replay_back_tests_a_rules_file_from_the_command_line(pg_plain: EmbeddedPostgres,
                                                                   tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    write_recording(tmp_path / "rec", [("vessels", r) for r in fleet_records()])
    rules = tmp_path / "tuned.toml"
    rules.write_text('[rules.vessels]\nzones = ["vessels/hue-zones.geojson"]\n'
                     'enabled = ["zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban"]\n'
                     '[rules.vessels.ais_gap]\ngap_minutes = 20\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "ioc.app.cli", "replay", "--recording", str(tmp_path / "rec"),
         "--from", "2025-09-01T00:00+00:00", "--to", "2025-09-02T00:00+00:00", "--feeds", "vessels",
         "--rules", str(rules), "--dsn", pg_plain.dsn],
        env={**env, "PYTHONPATH": str(root)}, cwd=root, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "replay: " in out and "back-test: " in out
    per_rule = [line for line in out.splitlines() if line.strip().startswith("ais_gap ")]
    assert per_rule and "+0 -0 ~0" not in per_rule[0]
    # a bad recording folder is a clear error, not a traceback
    bad = subprocess.run([sys.executable, "-m", "ioc.app.cli", "replay", "--recording", str(tmp_path),
                          "--from", "2025-09-01T00:00+00:00", "--to", "2025-09-02T00:00+00:00",
                          "--dsn", pg_plain.dsn], env={**env, "PYTHONPATH": str(root)}, cwd=root,
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and "manifest.json" in bad.stderr and "Traceback" not in bad.stderr


def test_ioc_record_and_replay_read_the_stores_own_facts_and_a_recording_moves_to_another_store(
        pg_plain: EmbeddedPostgres, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from PIL import Image

    from ioc.feeds.cameras.records import CameraKeyFrame
    from ioc.store.writer import StoreWriter

    frames_here, frames_there = tmp_path / "frames-here", tmp_path / "frames-there"
    name = "cam-01/20250901T050000.000Z.jpg"
    (frames_here / "cam-01").mkdir(parents=True)
    Image.new("RGB", (64, 36), (90, 120, 40)).save(frames_here / name, "JPEG")
    frame = CameraKeyFrame(time=T0 + timedelta(hours=5), source_id="cam-01", path=name, width=64, height=36,
                           size_bytes=(frames_here / name).stat().st_size)
    records = [*fleet_records(), frame]  # storm warnings and key frames are facts of the record too
    dsn = migrated_database(pg_plain)
    live = open_store(dsn, 1, 4, want_timescaledb=False)
    try:
        StoreWriter(live.pool, live.caps).write(records)
    finally:
        live.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    root = Path(__file__).resolve().parents[1]
    window = ["--from", "2025-09-01T00:00+00:00", "--to", "2025-09-02T00:00+00:00"]

    def ioc(*args: str, on: str = dsn, frames: Path = frames_here) -> str:
        done = subprocess.run([sys.executable, "-m", "ioc.app.cli", *args, "--dsn", on],
                              env={**env, "PYTHONPATH": str(root), "IOC_VISION__KEYFRAMES_DIR": str(frames)},
                              cwd=root, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    out = ioc("record", "--out", str(tmp_path / "rec"), *window)
    assert f"{len(records):,} records" in out  # counts in the command line's (English) number form
    carried = tmp_path / "rec" / "files" / "camera.keyframe" / name
    assert carried.read_bytes() == (frames_here / name).read_bytes()
    replayed = ioc("replay", *window, "--feeds", "vessels")
    assert f"replay: {len(records) - 1:,} records" in replayed
    assert "storm_ban" in replayed  # the stored warning closes the area again in the replay
    there = migrated_database(pg_plain)
    assert f"imported {len(records):,} records" in ioc("import-recording", str(tmp_path / "rec"), on=there,
                                                       frames=frames_there)
    assert (frames_there / name).read_bytes() == (frames_here / name).read_bytes()
    with psycopg.connect(there) as conn:
        assert conn.execute("SELECT count(*) FROM storm_warnings").fetchone() == (1,)
        assert conn.execute("SELECT path FROM camera_keyframes").fetchall() == [(name,)]
