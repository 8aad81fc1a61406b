"""The typed feed-health record: every ingest worker reports one; heartbeats carry it; the wall reads it."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import migrated_database
from pydantic import ValidationError

from dashboards.components import system_rows
from ingest.environment import CsvReplaySource, EnvironmentWorker
from ingest.registry import configured_sources
from ioc.app.runtime import Runtime
from ioc.bus.memory import MemoryBus
from ioc.config import DEFAULT_CONFIG, Settings
from ioc.health import FeedHealth, FeedState, feed_state
from ioc.store import queries as q
from ioc.store.database import Store
from ioc.store.health import Beat, record_beats
from tests.publishers import DownPublisher
from tests.waiting import wait_for

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def hue_settings() -> Settings:
    return Settings(**tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")))



def test_state_failing_beats_down_beats_catching_up() -> None:
    assert feed_state(live=True) is FeedState.LIVE
    assert feed_state(live=False) is FeedState.CATCHING_UP
    assert feed_state(live=False, connected=False) is FeedState.DOWN
    assert feed_state(live=True, connected=False, failing=True) is FeedState.RETRYING


def test_the_record_is_strict_and_survives_a_heartbeat_as_json() -> None:
    record = FeedHealth(feed="f", worker="vessels", state=FeedState.LIVE, last_data_time=T0, received=3,
                        published=2, dead_lettered=1, details={"lines": 3})
    assert FeedHealth.from_details(record.to_details()) == record
    assert FeedHealth.from_details({"batches": 1, "records": 5}) is None  # a consumer's heartbeat
    assert FeedHealth.from_details({"worker": "x", "state": "on fire", "feed": "f"}) is None
    with pytest.raises(ValidationError):
        FeedHealth(feed="f", worker="w", state="live", recieved=1)  # a misspelt count is an error
    with pytest.raises(ValidationError):
        FeedHealth(feed="f", worker="w", state="live", pending=-1)


def test_every_ingest_worker_of_the_hue_config_reports_the_record(tmp_path: Path, pg_plain) -> None:
    data = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    # the Open311 intake reads the store
    data["database"] = {**data.get("database", {}), "dsn": migrated_database(pg_plain)}
    data["feeds"].append({"name": "press", "kind": "rss", "options": {  # the press feed runs in the demo
        "outlets": [{"name": "SIM", "url": "http://127.0.0.1:9/feed.xml", "simulated": True}]}})
    settings = Settings(**data)
    settings.vision.keyframes_dir = tmp_path
    bus = MemoryBus()
    sources = configured_sources(settings)
    workers = {s.label: s.build(bus.publisher()) for s in sources}
    try:
        kinds = {label: w.feed_health().worker for label, w in workers.items()}
        assert set(kinds.values()) == {"environment", "vessels", "security", "services", "press", "camera",
                                      "open311"}
        for label, worker in workers.items():
            health = worker.feed_health()
            assert isinstance(health, FeedHealth) and health.published == 0 and health.errors == 0
            assert label.endswith(health.feed.removeprefix("camera:")), (label, health.feed)
    finally:
        for worker in workers.values():
            capture = getattr(worker, "capture", None)
            if capture is not None:
                capture.close()
            if getattr(worker, "_on_stop", None) is not None:  # the intake: its socket and store pool
                worker.server.shutdown()
                worker._on_stop()


def test_environment_worker_health_through_a_bus_outage(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = "".join(f"{i},s,co2,{i},ppm\n" for i in range(4))
    path.write_text("offset_s,station_id,metric,value,unit\n" + rows + "4,s,co2,oops,ppm\n")
    source = CsvReplaySource(path, cadence_seconds=1, loop=False, now=lambda: T0)
    worker = EnvironmentWorker(source, DownPublisher(MemoryBus(), failures=1), feed_name="env")
    assert worker.feed_health().state == "catching_up" and not worker.feed_health().live
    worker.step(T0 + timedelta(seconds=1))
    down = worker.feed_health()
    assert (down.state, down.pending, down.published, down.errors) == ("retrying", 2, 0, 1)
    assert "broker not reachable" in down.last_error
    worker.step(T0 + timedelta(seconds=6))
    up = worker.feed_health()
    assert (up.state, up.live, up.pending, up.published, up.dead_lettered, up.received) == (
        "live", True, 0, 4, 1, 5)
    assert up.last_data_time == T0 + timedelta(seconds=3)


def test_heartbeat_and_system_panel_read_the_typed_record(plain_store: Store) -> None:
    record = FeedHealth(feed="fleet", worker="vessels", state=FeedState.RETRYING, last_data_time=T0,
                        received=10, published=1234, dead_lettered=2, pending=7, errors=3,
                        last_error="publish failed: ConnectionError: broker not reachable")
    beats = [Beat.of_feed("ingest:fleet", record), Beat("sink", details={"records": 1})]
    record_beats(plain_store.pool, beats, datetime.now(UTC))
    roles = {r.role: r for r in q.role_health(plain_store.pool)}
    assert roles["ingest:fleet"].feed == record and roles["sink"].feed is None
    assert roles["ingest:fleet"].errors == 3 and roles["ingest:fleet"].last_error == record.last_error
    rows = {row.children[1].children: row for row in system_rows(list(roles.values()), "vi")}
    fleet = rows["ingest:fleet"]
    assert fleet.to_plotly_json()["props"]["data-state"] == "late"
    assert fleet.children[2].children.split(" · ")[:4] == ["đang thử lại", "1.234 đã gửi", "2 bản ghi lỗi",
                                                           "7 đang chờ"]
    english = system_rows([roles["ingest:fleet"]], "en")[0].children[2].children
    assert english.startswith("retrying · 1,234 sent · 2 dead letters · 7 waiting")


def test_runtime_beats_and_readiness_come_from_the_record() -> None:
    settings = hue_settings()
    runtime = Runtime(settings)
    runtime.open_bus()
    runtime.add_ingest(only="environment-sample")
    [worker] = runtime.workers
    assert not worker.ready()  # nothing published yet: the backfill is not on the bus
    try:
        runtime._start_worker(worker)
        wait_for(worker.ready, "the backfill on the bus")
    finally:
        worker.stop.set()
        worker.thread.join(timeout=30)
    beat = worker.beat()
    health = FeedHealth.from_details(beat.details)
    assert health is not None and health.worker == "environment" and health.published > 0
    assert beat.last_write == health.last_data_time and beat.errors == health.errors == 0
    runtime.bus.close()
