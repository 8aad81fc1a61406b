"""Replay on Kafka (distributed mode's bus, in a namespace of the replay's own) raises exactly the
alerts of the in-process replay and of the live run: same fingerprints, times and severities.

Four partitions per topic, read as the distributed mode reads them: detectors of their own per
topic-partition. Read by one set of detectors for all four, a poll's records of one partition ran
minutes of event time ahead of another's, and the ``ais_gap`` alert of boat 999100004 came 4 to
7 minutes early (03:52:48 or 03:55:48 against 03:59:48): the lagging partition's vessel was judged
silent against the leading partition's clock before its last position was read. Per partition,
a partition whose vessels all fell silent before the end would never see the silence judged (its
own clock stops with its last position): at each drain, once everything published is read, the
replay judges every partition at the replay's watermark, as the embedded mode's one stream is.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from conftest import migrated_database
from kafka.partitioner.default import murmur2

from ioc.app.replay import ReplayRun, replay_database, replayed_alerts, run_replay
from ioc.bus.kafka import KafkaBus
from ioc.config import BusSettings, Settings
from ioc.events import Event
from ioc.feeds.vessels.records import VesselPosition
from ioc.store.database import open_store
from ioc.store.embedded import EmbeddedPostgres
from tests.test_replay import T0, fingerprints, fleet_records, live_run, vessel_settings

pytest_plugins = ["kafka_broker"]
PARTITIONS = 4


def replay_on_kafka(records: list[Event], settings: Settings, pg: EmbeddedPostgres,
                    bootstrap: str) -> ReplayRun:
    """``run_replay`` on Kafka, four partitions a topic, in a namespace and a replay database of its own."""
    namespace = f"replay-{uuid.uuid4().hex[:8]}"  # a replay's topics and groups never meet the live ones
    cfg = BusSettings(kind="kafka", bootstrap_servers=bootstrap, partitions=PARTITIONS, namespace=namespace)
    bus = KafkaBus(cfg, client_id="replay", consumer_options={"session_timeout_ms": 6000,
                                                         "heartbeat_interval_ms": 1000})
    try:
        with replay_database(pg.dsn) as replay:
            return run_replay(records, settings, replay.pool, bus=bus)
    finally:
        bus.close()


def kafka_partition(key: str) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def test_a_replay_on_kafka_raises_the_alerts_of_the_live_run_and_of_the_embedded_replay(
        pg_plain: EmbeddedPostgres, kafka_broker: str) -> None:
    records = fleet_records()
    settings = vessel_settings()
    live = open_store(migrated_database(pg_plain), 1, 4, want_timescaledb=False)
    try:
        live_run(records, settings, live)
        live_alerts = replayed_alerts(live.pool)
    finally:
        live.close()
    with replay_database(pg_plain.dsn) as replay:
        embedded = run_replay(records, settings, replay.pool)
    on_kafka = replay_on_kafka(records, settings, pg_plain, kafka_broker)
    assert on_kafka.events == len(records) and on_kafka.signals > 0
    assert fingerprints(on_kafka.alerts) == fingerprints(embedded.alerts) == fingerprints(live_alerts)


def test_a_partition_whose_vessels_fell_silent_before_the_end_is_judged_at_the_replays_time(
        pg_plain: EmbeddedPostgres, kafka_broker: str) -> None:
    # the vessels of one partition stop sending two hours before the end (the others go on): their
    # one-hour AIS gaps are due well inside the period, but that partition's own clock stops with
    # its last position; judged against it alone they would never be raised
    silent_from = T0 + timedelta(hours=12)
    quiet = kafka_partition(next(r.key for r in fleet_records() if isinstance(r, VesselPosition)
                                 and r.mmsi == 999100006))
    records = [r for r in fleet_records() if not (isinstance(r, VesselPosition) and r.time > silent_from
                                                  and kafka_partition(r.key) == quiet)]
    settings = vessel_settings()
    with replay_database(pg_plain.dsn) as replay:
        embedded = run_replay(records, settings, replay.pool)
    fell_silent = {a.fingerprint for a in embedded.alerts
                   if a.rule == "ais_gap" and a.first_seen > silent_from}
    assert fell_silent and all(kafka_partition(f.split(":")[1]) == quiet for f in fell_silent), fell_silent
    on_kafka = replay_on_kafka(records, settings, pg_plain, kafka_broker)
    assert fingerprints(on_kafka.alerts) == fingerprints(embedded.alerts)
