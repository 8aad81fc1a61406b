"""Two namespaces (``IOC_BUS__NAMESPACE``) sharing one database keep their dead letters and their
detector state apart: both are kept under the broker's names (namespace included), not the bus's.

Before: a dead letter at the same logical position as another namespace's was dropped as already
stored, and a detector runner in a new namespace restored the other namespace's snapshot, sought
past the offsets it named and skipped its own records.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from test_distributed_e2e import kafka_bus, scalar, sql, wait_for

from detectors.runner import DetectorRunner
from detectors.threshold import ThresholdDetector
from ingest.sink import StoreSink
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.store.database import Store
from ioc.store.detector_state import PostgresSnapshotStore
from ioc.store.writer import StoreWriter
from ioc.topics import TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]

READINGS = TOPIC_BY_KIND["environment.reading"]
RULE = ThresholdRule(name="pm25-high", metric="pm25", above=100, for_minutes=10, clear_margin=10)
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_two_namespaces_on_one_database_keep_dead_letters_and_detector_state_apart(
        kafka_broker: str, plain_store: Store) -> None:
    run = uuid.uuid4().hex[:8]
    buses = [kafka_bus(kafka_broker, f"nsa{run}"), kafka_bus(kafka_broker, f"nsb{run}")]
    for bus in buses:  # the same records in both: a poison one, then three readings, one key
        pub = bus.publisher()
        pub.publish(READINGS, "st", b"not json")
        for minute in range(3):
            r = EnvironmentReading(time=T0.replace(minute=minute), source_id="st", metric="pm25", value=1.0)
            pub.publish(READINGS, r.key, r.to_wire())
        pub.close()
    writer = StoreWriter(plain_store.pool, plain_store.caps)
    # One consumer at a time, each polled until done and closed (as a role process would): two
    # members of this process polled in turn were slow to join their groups on a busy test broker.
    for n, bus in enumerate(buses, start=1):
        sink = StoreSink(bus, writer, topics=[READINGS])
        try:
            wait_for(f"sink {n}'s poison record kept", lambda s=sink, n=n: s.run_once() is not None
                     and scalar(plain_store.dsn, "SELECT count(*) FROM dead_letters") == n,
                     timeout=120, every=0)
        finally:
            sink.consumer.subscription.close()
    assert sorted(t for (t,) in sql(plain_store.dsn, "SELECT topic FROM dead_letters")) == sorted(
        bus.physical(READINGS) for bus in buses)  # the same logical position: two rows
    def folded(group_id: str) -> int:
        return int(scalar(plain_store.dsn, "SELECT coalesce(sum(next_offset), 0) FROM detector_state "
                          "WHERE group_id = %s", group_id))

    # Namespace A's runner folds its four records and saves where it stands; then B's, of the same
    # group name in its own namespace, reads its own four from the start.
    for bus in buses:
        runner = DetectorRunner(bus, [ThresholdDetector([RULE])], group="detectors",
                                state=PostgresSnapshotStore(plain_store.pool))
        try:
            wait_for(f"{bus.namespace}'s snapshot", lambda r=runner, b=bus: r.run_once(timeout=0.2)
                     is not None and folded(b.physical("detectors")) == 4, timeout=120, every=0)
            assert runner.slots_restored == 0 and runner.events_seen + runner.undecodable == 4
        finally:
            runner.close()
