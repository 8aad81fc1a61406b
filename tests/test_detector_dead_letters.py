"""Bad records of the topics only the detector runner reads become dead letters, once; a record of a
kind its topic does not carry is refused by whichever role reads it.

The fan-out topics (``ioc.vessels.cells``, ``ioc.reports.areas``: kinds the store keeps no table for)
are read by no store sink, so the runner publishes their poison records on ``ioc.deadletters`` with
their origin, and the sink stores each as one ``dead_letters`` row however often it is published; the
poison records of the topics the sink reads stay the sink's. On the in-process bus and on a real
Kafka-protocol broker in a namespace, with a real PostgreSQL.

Before: the runner counted such records and went on (nothing was kept), and a record on the wrong
topic was taken for what it said it was: a plain position on the cell topic reached the pairwise
rules, an environment reading on the vessel topic was stored as a reading.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from test_distributed_e2e import kafka_bus

from detectors.runner import DetectorRunner
from ingest.sink import StoreSink
from ioc.bus.base import Bus
from ioc.bus.memory import MemoryBus
from ioc.events import AlertSignal, Event
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.reports import area_copies
from ioc.feeds.reports.records import FieldReport
from ioc.feeds.vessels.records import VesselCellPosition, VesselPosition
from ioc.store.database import Store
from ioc.store.detector_state import PostgresSnapshotStore
from ioc.store.writer import StoreWriter
from ioc.topics import DEAD_LETTERS, STORED_TOPICS, TOPIC_BY_KIND, misplaced, replay_topic
from tests.waiting import wait_for

pytest_plugins = ["kafka_broker"]

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # the receiving clock of these tests
T = NOW - timedelta(minutes=5)
CELLS = TOPIC_BY_KIND["vessel.cell_position"]
AREAS = TOPIC_BY_KIND["reports.area_report"]
POSITIONS = TOPIC_BY_KIND["vessel.position"]
REPORTS = TOPIC_BY_KIND["reports.report"]


class Observer:
    """A detector that keeps what it is given (kind, source) and decides nothing."""

    name = "observer"
    kinds = frozenset({"vessel.position", "vessel.cell_position", "reports.report", "reports.area_report"})

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def observe(self, event: Event) -> list[AlertSignal]:
        self.seen.append((getattr(event, "kind", "?"), event.source_id))
        return []

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        return []

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


def position(mmsi: int, when: datetime = T) -> VesselPosition:
    return VesselPosition(time=when, source_id=str(mmsi), mmsi=mmsi, lat=16.5, lon=107.6)


def cell_position(mmsi: int, when: datetime = T) -> VesselCellPosition:
    return VesselCellPosition(time=when, source_id=str(mmsi), mmsi=mmsi, lat=16.5, lon=107.6,
                              cell="83:537", cell_deg=0.2)


def report(rid: str) -> FieldReport:
    return FieldReport(time=T, source_id=rid, service_code="pothole", category="Pothole", lat=16.46,
                       lon=107.59, ward="Phu Hoi", client="app", department="roads", assignee_group="crew",
                       ack_due=T + timedelta(hours=4), resolve_due=T + timedelta(days=3))


def reading(station: str) -> EnvironmentReading:
    return EnvironmentReading(time=T, source_id=station, metric="pm25", value=12.5)


def stamped(record: Event, when: str) -> bytes:
    """``record``'s wire form with an event time no model refuses and no source can have."""
    return json.dumps({**json.loads(record.to_wire()), "time": when}).encode()


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchall()


def letters(store: Store) -> dict[str, tuple[str, str, str]]:
    """The dead letters kept: key -> (stage, topic, reason)."""
    return {r[0]: r[1:] for r in rows(store, "SELECT key, stage, topic, reason FROM dead_letters")}


def publish(bus: Bus, records: dict[str, tuple[str, bytes]]) -> None:
    pub = bus.publisher()
    for key, (topic, value) in records.items():
        pub.publish(topic, key, value)
    pub.close()


_, AREA_KEY, AREA_COPY = next(iter(area_copies(report("r-good"))))
GOOD = {  # key: (topic, value)
    "cell-good": (CELLS, cell_position(574000001).to_wire()),
    AREA_KEY: (AREAS, AREA_COPY),
    "pos-good": (POSITIONS, position(574000002).to_wire()),
}
#: key: (topic, value, what the reason says); on the topics only the runner reads
RUNNERS = {
    "junk": (CELLS, b"not json", "not JSON"),
    "no-cell": (CELLS, json.dumps({**json.loads(cell_position(1).to_wire()), "cell": None}).encode(), "cell"),
    "reading": (CELLS, reading("hue-aq-1").to_wire(),
                "record of kind 'environment.reading' on topic 'ioc.vessels.cells'"),
    "plain": (CELLS, position(574000003).to_wire(), "record of kind 'vessel.position' on topic "
              "'ioc.vessels.cells' (its topic is 'ioc.vessels.positions')"),
    "year1": (CELLS, stamped(cell_position(574000004), "0001-01-01T00:00:00Z"), "before 1990"),
    "ahead": (CELLS, stamped(cell_position(574000005), "2030-01-01T00:00:00Z"), "more than 24 h ahead"),
    "tomb": (AREAS, b"", "empty record (tombstone)"),
    "report": (AREAS, report("r-1").to_wire(),
               "record of kind 'reports.report' on topic 'ioc.reports.areas'"),
}
#: on a topic the sink reads: the sink's dead letters, never the runner's
SINKS = {
    "copy": (POSITIONS, cell_position(574000006).to_wire(),
             "record of kind 'vessel.cell_position' on topic 'ioc.vessels.positions'"),
    "air": (POSITIONS, reading("hue-aq-2").to_wire(),
            "record of kind 'environment.reading' on topic 'ioc.vessels.positions'"),
    "junk-pos": (POSITIONS, b"\x00\xff junk", "not JSON"),
}


def check_letters(kept: dict[str, tuple[str, str, str]], topic_name: Any = lambda t: t) -> None:
    assert set(kept) == set(RUNNERS) | set(SINKS)  # each poison record once, by one role
    for stage, poison in (("detectors", RUNNERS), ("sink", SINKS)):
        for key, (topic, _, says) in poison.items():
            assert kept[key][:2] == (stage, topic_name(topic)) and says in kept[key][2], (key, kept[key])


def test_the_topics_only_the_runner_reads_come_from_the_feeds() -> None:
    assert {CELLS, AREAS}.isdisjoint(STORED_TOPICS) and {POSITIONS, REPORTS} <= STORED_TOPICS
    runner = DetectorRunner(MemoryBus(), [Observer()])
    assert runner.dead_letter_topics == {CELLS, AREAS}
    runner.close()
    assert misplaced(CELLS, "vessel.cell_position") is None
    assert misplaced(replay_topic(CELLS, "analyst-1"), "vessel.cell_position") is None
    assert misplaced(REPORTS, "reports.status") is None  # one topic, two kinds
    assert misplaced(replay_topic(CELLS, "analyst-1"), "vessel.position") is not None


def test_poison_records_of_fan_out_topics_are_dead_letters_once_on_the_in_process_bus(
        plain_store: Store) -> None:
    bus = MemoryBus(partitions=2)
    # every group joins first: the in-process bus trims what every group reading a topic committed
    sink = StoreSink(bus, StoreWriter(plain_store.pool, plain_store.caps), publisher=bus.publisher(),
                     clock=lambda: NOW)
    observer = Observer()
    runner = DetectorRunner(bus, [observer], use_wall_clock=True, clock=lambda: NOW)
    # a second group reads it all again, as a member would after a lost commit
    again = DetectorRunner(bus, [Observer()], group="detectors-again", use_wall_clock=True,
                           clock=lambda: NOW)
    publish(bus, {**GOOD, **{k: (t, v) for k, (t, v, _) in {**RUNNERS, **SINKS}.items()}})
    while runner.run_once(timeout=0.01):
        pass
    runner.close()
    assert sorted(observer.seen) == sorted([("vessel.cell_position", "574000001"),
                                            ("reports.area_report", "r-good"),
                                            ("vessel.position", "574000002")])
    assert runner.dead_letters == len(RUNNERS)
    while sink.run_once():
        pass
    check_letters(letters(plain_store))
    assert rows(plain_store, "SELECT mmsi FROM vessel_positions") == [(574000002,)]
    assert rows(plain_store, "SELECT count(*) FROM readings") == [(0,)]
    # Published again: still one row each.
    while again.run_once(timeout=0.01):
        pass
    again.close()
    assert again.dead_letters == len(RUNNERS)
    while sink.run_once():
        pass
    assert rows(plain_store, "SELECT count(*) FROM dead_letters") == [(len(RUNNERS) + len(SINKS),)]


def test_poison_records_of_fan_out_topics_are_dead_letters_once_on_kafka_in_a_namespace(
        kafka_broker: str, plain_store: Store) -> None:
    bus = kafka_bus(kafka_broker, f"dl{uuid.uuid4().hex[:8]}")
    try:
        records = {**GOOD, **{k: (t, v) for k, (t, v, _) in {**RUNNERS, **SINKS}.items()}}
        publish(bus, records)
        mine = sum(topic in (CELLS, AREAS, POSITIONS) for topic, _ in records.values())
        observer = Observer()
        runner = DetectorRunner(bus, [observer], use_wall_clock=True, clock=lambda: NOW,
                                state=PostgresSnapshotStore(plain_store.pool), factory=lambda: [observer])
        try:  # one consumer at a time, each polled until done and closed (as a role process would)
            wait_for(lambda: runner.run_once(timeout=0.2) is not None
                     and runner.events_seen + runner.undecodable == mine, "the runner's records read",
                     interval=0)
        finally:
            runner.close()
        assert runner.dead_letters == len(RUNNERS)
        assert sorted(observer.seen) == sorted([("vessel.cell_position", "574000001"),
                                                ("reports.area_report", "r-good"),
                                                ("vessel.position", "574000002")])
        sink = StoreSink(bus, StoreWriter(plain_store.pool, plain_store.caps),
                         topics=[POSITIONS, DEAD_LETTERS], publisher=bus.publisher(), clock=lambda: NOW)
        # the sink's topics: the positions, the runner's dead letters and its own, read back
        expected = sum(topic == POSITIONS for topic, _ in records.values()) + len(RUNNERS) + len(SINKS)
        try:
            wait_for(lambda: sink.run_once() is not None and sink.health.records == expected
                     and sink.consumer.subscription.lag() == 0, "the sink's records read", interval=0)
        finally:
            sink.consumer.subscription.close()
        check_letters(letters(plain_store), bus.physical)  # kept under the broker's names
        assert sink.dead_letters_published == len(SINKS)
        assert rows(plain_store, "SELECT mmsi FROM vessel_positions") == [(574000002,)]
    finally:
        bus.close()
