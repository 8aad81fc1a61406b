"""The Open311 worker publishes accepted reports and dead letters to the bus (a real in-process bus)."""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ingest.reports.reader import StoreReportReader
from ingest.reports.worker import Open311Worker
from ioc.bus.memory import MemoryBus
from ioc.events import decode
from ioc.feeds.reports.settings import ReportsFeed
from ioc.feeds.reports.tables import MIGRATIONS
from ioc.store.database import Store
from ioc.topics import DEAD_LETTERS
from tests.waiting import wait_for

SAMPLE = Path(__file__).parent.parent / "sample_streams" / "reports" / "feed.toml"


@pytest.fixture
def worker(plain_store: Store, tmp_path: Path) -> Iterator[tuple[Open311Worker, MemoryBus]]:
    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()) | {"photo_dir": str(tmp_path)})
    with plain_store.pool.connection() as conn:
        for m in MIGRATIONS:
            m.apply(conn, plain_store.caps)
    bus = MemoryBus()
    w = Open311Worker(cfg, bus.publisher(), StoreReportReader(plain_store.pool), port=0)
    stop = threading.Event()
    t = threading.Thread(target=w.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield w, bus
    finally:
        stop.set()
        t.join(timeout=60)


def test_accepted_and_refused_posts_reach_the_bus(worker: tuple[Open311Worker, MemoryBus]) -> None:
    w, bus = worker
    sub = bus.subscribe(["ioc.reports.events", DEAD_LETTERS], group="t")
    url = f"http://127.0.0.1:{w.server.server_port}"
    ok = requests.post(f"{url}/requests.json", data={"api_key": "SIMULATED-hue-s-app-key-0001",
                       "service_code": "waste", "lat": "16.48", "long": "107.59"}, timeout=30)
    assert ok.status_code == 201
    bad = requests.post(f"{url}/requests.json", data={"api_key": "nope"}, timeout=30)
    assert bad.status_code == 403
    seen: list = []
    wait_for(lambda: seen.extend(sub.poll(timeout=0.2)) or len(seen) >= 3, "three records on the bus")
    on_topic = [decode(m.value) for m in seen if m.topic == "ioc.reports.events"]  # report, then status
    report, received = on_topic
    assert report.source_id == ok.json()[0]["service_request_id"] and report.department == "environment"
    assert received.kind == "reports.status" and received.status == "received"
    assert received.source_id == report.source_id  # one key: one partition, in order
    dead = json.loads(next(m for m in seen if m.topic == DEAD_LETTERS).value)
    assert dead["feed"] == "reports" and "api_key" in dead["reason"]
    assert w.health()["accepted"] == 1 and w.health()["dead_letters"] == 1
    typed = w.feed_health()
    assert (typed.worker, typed.received, typed.published, typed.dead_lettered) == ("open311", 2, 2, 1)
    assert typed.last_data_time == report.time


def test_a_feeds_entry_of_kind_open311_is_a_source(plain_store: Store, tmp_path: Path) -> None:
    from ingest.registry import configured_sources
    from ioc.config import Settings

    options = tomllib.loads(SAMPLE.read_text()) | {"photo_dir": str(tmp_path), "port": 0}
    settings = Settings.model_validate({"database": {"dsn": plain_store.dsn},
                                        "feeds": [{"name": "hue-s", "kind": "open311", "options": options}]})
    [source] = [s for s in configured_sources(settings) if s.name == "hue-s"]
    w = source.build(MemoryBus().publisher())
    try:
        assert isinstance(w, Open311Worker) and w.health()["feed"] == "hue-s"
    finally:
        w.server.shutdown()
        w._on_stop()


def test_demo_simulator_backfills_then_posts_with_a_photo_over_http(
        worker: tuple[Open311Worker, MemoryBus]) -> None:
    from ingest.reports.simulator import DemoSimulator

    w, bus = worker
    sub = bus.subscribe(["ioc.reports.events"], group="sim")
    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()))
    sim = DemoSimulator(cfg, w, days=1, per_hour=0, seed=5)
    assert w.live is False and not w.feed_health().live  # the runtime waits for the backfill
    stop = threading.Event()
    t = threading.Thread(target=sim.run, args=(stop,), daemon=True)
    t.start()
    try:
        wait_for(lambda: w.live, "the backfill on the bus")
        for _ in range(5):  # a photo is drawn for about 6 posts in 10
            sim.post_one()
        assert sim.posted == 5 and sim.post_errors == 0 and w.health()["accepted"] == 5
        reports: list = []
        wait_for(lambda: reports.extend(r for r in map(decode, (m.value for m in sub.poll(timeout=0.2)))
                                        if r.kind == "reports.report")
                 or sum(r.client != "simulator" for r in reports) >= 5, "the backfill and the posted reports")
        backfill = [r for r in reports if r.client == "simulator"]
        posted = [r for r in reports if r.client != "simulator"]
        assert len(backfill) >= 30 and all(r.description.startswith("SIMULATED") for r in reports)
        assert len(posted) == 5 and any(r.photos for r in posted)
    finally:
        stop.set()
        t.join(timeout=30)
