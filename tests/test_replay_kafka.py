"""Replay on Kafka (distributed mode's bus, in a namespace of the replay's own) raises exactly the
alerts of the in-process replay and of the live run: same fingerprints, times and severities.

Four partitions per topic, read as the distributed mode reads them: detectors of their own per
topic-partition. Read by one set of detectors for all four, a poll's records of one partition ran
minutes of event time ahead of another's, and the ``ais_gap`` alert of boat 999100004 came 4 to
7 minutes early (03:52:48 or 03:55:48 against 03:59:48): the lagging partition's vessel was judged
silent against the leading partition's clock before its last position was read.
"""

from __future__ import annotations

import uuid

from conftest import migrated_database

from ioc.app.replay import replay_database, replayed_alerts, run_replay
from ioc.bus.kafka import KafkaBus
from ioc.config import BusSettings
from ioc.store.database import open_store
from ioc.store.embedded import EmbeddedPostgres
from tests.test_replay import fingerprints, fleet_records, live_run, vessel_settings

pytest_plugins = ["kafka_broker"]


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
    namespace = f"replay-{uuid.uuid4().hex[:8]}"  # a replay's topics and groups never meet the live ones
    cfg = BusSettings(kind="kafka", bootstrap_servers=kafka_broker, partitions=4, namespace=namespace)
    bus = KafkaBus(cfg, client_id="replay", consumer_options={"session_timeout_ms": 6000,
                                                         "heartbeat_interval_ms": 1000})
    try:
        with replay_database(pg_plain.dsn) as replay:
            on_kafka = run_replay(records, settings, replay.pool, bus=bus)
    finally:
        bus.close()
    assert on_kafka.events == len(records) and on_kafka.signals > 0
    assert fingerprints(on_kafka.alerts) == fingerprints(embedded.alerts) == fingerprints(live_alerts)
