"""A poison record on Kafka: dead-letter topic and table, once, without blocking its partition.

A real ``ioc run sink`` process reads a partition in which a malformed
reading sits between good ones, and a vessel topic with binary junk. The good
records are all stored; each poison record becomes one ``dead_letters`` row
(its reason, its bus position) and one message on ``ioc.deadletters``
carrying its origin. The sink also consumes ``ioc.deadletters``, and the row
it would write from its own dead-letter message is the same row (keyed by
the origin's position), so the table still holds one row per poison record
after the sink has read the topic to its end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import test_distributed_e2e as e2e
from conftest import migrated_database
from kafka import KafkaAdminClient
from test_distributed_e2e import (
    Deployment,
    migrate,
    scalar,
    sql,
    wait_for,
    write_config,
)

from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.vessels.records import VesselPosition
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]
deployment_factory = e2e.deployment_factory  # the fixture, shared with the end-to-end test

READINGS = TOPIC_BY_KIND["environment.reading"]
POSITIONS = TOPIC_BY_KIND["vessel.position"]
BAD_READING = (b'{"kind": "environment.reading", "v": 1, "time": "yesterday at noon", '
               b'"source_id": "hue-aq-001", "metric": "pm25", "value": 12.5}')
JUNK = b"\x00\xff\xfe !AIVDM,1,1,,B,garbage"


def test_a_poison_record_is_dead_lettered_once_and_its_partition_moves_on(
        deployment_factory: Callable[..., Deployment], pg_timescale: Any, tmp_path: Path) -> None:
    dsn = migrated_database(pg_timescale, timescaledb=True)
    migrate(dsn)
    d = deployment_factory(dsn, write_config(tmp_path / "ioc.toml"))
    sink = d.start("sink")
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    bus = d.bus()
    pub = bus.publisher()
    good = [EnvironmentReading(time=t0 + timedelta(minutes=i), source_id="hue-aq-001", metric="pm25",
                               value=float(i)) for i in range(200)]
    for r in good[:100]:
        pub.publish(READINGS, r.key, r.to_wire())
    pub.publish(READINGS, "hue-aq-001", BAD_READING)  # same key: the same partition, offset 100
    for r in good[100:]:
        pub.publish(READINGS, r.key, r.to_wire())
    fixes = [VesselPosition(time=t0 + timedelta(minutes=i), source_id="574000001", mmsi=574000001,
                            lat=16.6, lon=107.7) for i in range(20)]
    for f in fixes[:10]:
        pub.publish(POSITIONS, f.key, f.to_wire())
    pub.publish(POSITIONS, "574000001", JUNK)
    for f in fixes[10:]:
        pub.publish(POSITIONS, f.key, f.to_wire())
    # A dead letter published by an ingest worker (no origin): kept under its own position.
    pub.publish(DEAD_LETTERS, "hue-csv", json.dumps({"stage": "ingest", "feed": "hue-csv",
                                                     "reason": "value is not a number",
                                                     "payload": "2026-05-01,hue-aq-9,pm25,abc"}).encode())
    pub.close()

    wait_for("the good records stored and three dead letters", lambda: (
        scalar(dsn, "SELECT count(*) FROM readings") == 200
        and scalar(dsn, "SELECT count(*) FROM vessel_positions") == 20
        and scalar(dsn, "SELECT count(*) FROM dead_letters") >= 3), timeout=60, roles=[sink])

    # The dead-letter topic carries each poison record, its reason and where it came from.
    reader = bus.subscribe([DEAD_LETTERS], f"dlq-reader-{uuid.uuid4().hex[:8]}")
    on_topic: list[dict[str, Any]] = []

    def read_all() -> bool:
        for m in reader.poll(100, 0.3):
            on_topic.append(json.loads(m.value))
        return len([r for r in on_topic if "origin" in r]) >= 2

    wait_for("the sink's dead-letter messages", read_all, timeout=30, every=0)
    reader.commit()
    dlq_end = sum(reader.consumer.highwater(tp) or 0 for tp in reader.consumer.assignment())
    reader.close()
    origins = {(r["origin"]["topic"], r["origin"]["offset"]): r for r in on_topic if "origin" in r}
    assert set(origins) == {(READINGS, 100), (POSITIONS, 10)}
    bad = origins[(READINGS, 100)]
    assert bad["stage"] == "sink" and bad["origin"]["key"] == "hue-aq-001"
    assert "time" in origins[(READINGS, 100)]["reason"]
    assert origins[(READINGS, 100)]["payload"] == BAD_READING.decode()
    assert origins[(POSITIONS, 10)]["reason"].startswith("not JSON")

    # The sink has read its own dead-letter messages back (its committed offset on the topic
    # reached the end) and the table still has one row per poison record.
    admin = KafkaAdminClient(bootstrap_servers=d.bootstrap, client_id="test-admin")
    try:
        def sink_read_the_topic() -> bool:
            group = bus.physical("store-sink")  # group ids carry the namespace too
            offsets = admin.list_group_offsets(group).get(group, {})
            done = sum(meta.offset for tp, meta in offsets.items()
                       if tp.topic == bus.physical(DEAD_LETTERS) and meta.offset >= 0)
            return done >= dlq_end

        wait_for("the sink's commit on the dead-letter topic", sink_read_the_topic, timeout=30)
    finally:
        admin.close()
    rows = sql(dsn, 'SELECT stage, source, key, reason, payload, topic, "offset" FROM dead_letters '
                    "ORDER BY topic, \"offset\"")
    assert len(rows) == 3
    # rows are kept under the broker's topic names: another namespace on this database has its own
    by_topic = {r[5]: r for r in rows}
    assert set(by_topic) == {bus.physical(t) for t in (READINGS, POSITIONS, DEAD_LETTERS)}
    stage, source, key, reason, payload, _, offset = by_topic[bus.physical(READINGS)]
    assert (stage, source, key, offset, bytes(payload)) == ("sink", READINGS, "hue-aq-001", 100, BAD_READING)
    assert "time" in reason
    junk = by_topic[bus.physical(POSITIONS)]
    assert junk[6] == 10 and bytes(junk[4]) == JUNK
    assert by_topic[bus.physical(DEAD_LETTERS)][:4] == ("ingest", "hue-csv", "hue-csv",
                                                          "value is not a number")
    # Nothing was held up: every good record after the poison ones is stored.
    assert scalar(dsn, "SELECT max(time) FROM readings") == good[-1].time
    assert scalar(dsn, "SELECT max(time) FROM vessel_positions") == fixes[-1].time
    assert "dead letter: ioc.environment.readings" in sink.log()
    assert sink.stop() == 0
