"""The store sink on the in-process bus and a real PostgreSQL (both capability levels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ingest.sink import StoreSink
from ioc.bus.memory import MemoryBus
from ioc.feeds.environment.records import EnvironmentReading
from ioc.store.database import Store
from ioc.store.writer import StoreWriter
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND

TOPIC = TOPIC_BY_KIND["environment.reading"]
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def publish_readings(bus: MemoryBus, n: int) -> list[EnvironmentReading]:
    pub = bus.publisher()
    out = []
    for i in range(n):
        r = EnvironmentReading(time=T0 + timedelta(seconds=i), source_id=f"st-{i % 4}", metric="pm25",
                               value=float(i), unit="µg/m³")
        pub.publish(TOPIC, r.key, r.to_wire())
        out.append(r)
    return out


def drain(sink: StoreSink) -> None:
    while sink.run_once():
        pass


def table(store: Store, sql: str) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchall()


def test_bad_record_is_dead_lettered_and_the_good_ones_stored(store: Store) -> None:
    bus = MemoryBus()
    sink = StoreSink(bus, StoreWriter(store.pool, store.caps))
    publish_readings(bus, 100)
    pub = bus.publisher()
    pub.publish(TOPIC, "st-x", b'{"kind": "environment.reading", "time": "2026-11-25T08:00:00Z", '
                               b'"source_id": "st-x", "metric": "pm25", "value": "high"}')
    pub.publish(TOPIC, "st-y", b"\x00\x01 binary junk")
    pub.publish(TOPIC, "st-z", json.dumps({"kind": "environment.reading", "time": "2026-11-25T08:00:00",
                                           "source_id": "st-z", "metric": "pm25", "value": 1}).encode())
    pub.publish(DEAD_LETTERS, "environment-sample", json.dumps(
        {"stage": "ingest", "feed": "environment-sample", "reason": "value is not a number",
         "payload": "2024,hue-air,pm25,abc"}).encode())
    drain(sink)
    assert table(store, "SELECT count(*) FROM readings") == [(100,)]
    reasons = {r[0]: r[1:] for r in table(store, "SELECT key, stage, source, reason FROM dead_letters")}
    assert set(reasons) == {"st-x", "st-y", "st-z", "environment-sample"}
    assert "value: Input should be a valid number" in reasons["st-x"][2]
    assert reasons["st-y"][2].startswith("not JSON")
    assert "timezone" in reasons["st-z"][2]
    assert reasons["environment-sample"] == ("ingest", "environment-sample", "value is not a number")
    assert {r[0] for r in reasons.values()} == {"sink", "ingest"}
    assert sink.health.extra == {"stored": 100, "duplicates": 0, "dead_letters": 4}


def test_redelivered_batch_after_a_crash_stores_each_row_once(store: Store) -> None:
    bus = MemoryBus()
    writer = StoreWriter(store.pool, store.caps)
    published = publish_readings(bus, 500)
    bus.publisher().publish(TOPIC, "junk", b"not json")
    # a first sink writes everything but "crashes" before committing its offsets
    crashed = StoreSink(bus, writer, batch_size=10_000)
    batch = crashed.consumer.subscription.poll(10_000, 0.1)
    crashed.store_batch(batch)
    crashed.consumer.subscription.close()  # leaves the group without committing
    # its replacement gets the same messages again and stores nothing twice
    replacement = StoreSink(bus, writer)
    drain(replacement)
    assert replacement.health.records == len(published) + 1
    assert replacement.health.extra["duplicates"] == 500
    assert table(store, "SELECT count(*), count(DISTINCT (station_id, time)) FROM readings") == [(500, 500)]
    assert table(store, "SELECT count(*) FROM dead_letters") == [(1,)]
    assert replacement.consumer.subscription.lag() == 0


def test_a_reading_whose_time_leaves_the_calendar_in_utc_is_a_dead_letter(store: Store) -> None:
    bus = MemoryBus()
    sink = StoreSink(bus, StoreWriter(store.pool, store.caps))
    publish_readings(bus, 10)
    bus.publisher().publish(TOPIC, "st-9999", json.dumps(
        {"kind": "environment.reading", "time": "9999-12-31T23:00:00-02:00", "source_id": "st-9999",
         "metric": "pm25", "value": 1}).encode())
    drain(sink)  # before: OverflowError, the batch failed and came back for ever
    assert table(store, "SELECT count(*) FROM readings") == [(10,)]
    [(key, reason)] = table(store, "SELECT key, reason FROM dead_letters")
    assert key == "st-9999" and "time: Value error" in reason and "UTC" in reason


def test_readings_in_every_wire_shape_are_stored_as_the_models_say(store: Store) -> None:
    """Offsets, lax values the model coerces, and canonical records share one batch."""
    bus = MemoryBus()
    sink = StoreSink(bus, StoreWriter(store.pool, store.caps))
    published = publish_readings(bus, 20)
    pub = bus.publisher()
    lax = [{"kind": "environment.reading", "time": "2026-11-25T15:00:00+07:00", "source_id": "st-hcm",
            "metric": "pm25", "value": "12.5"},  # a number in a string: the model coerces it
           {"kind": "environment.reading", "time": "2026-11-25T08:00:00.1234567Z", "source_id": "st-ns",
            "metric": "pm25", "value": 3}]  # sub-microsecond digits: truncated by the model
    for record in lax:
        pub.publish(TOPIC, str(record["source_id"]), json.dumps(record).encode())
    drain(sink)
    rows = dict(((r[0], r[1]), r[2]) for r in table(store, "SELECT station_id, time, value FROM readings"))
    assert rows[("st-hcm", T0)] == 12.5
    assert rows[("st-ns", T0 + timedelta(microseconds=123456))] == 3.0
    assert all(rows[(r.source_id, r.time)] == r.value for r in published)
    assert sink.health.extra == {"stored": 22, "duplicates": 0, "dead_letters": 0}


def test_text_with_a_nul_character_is_a_dead_letter_not_a_stuck_batch(store: Store) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000: such a record must not fail its whole batch."""
    bus = MemoryBus()
    sink = StoreSink(bus, StoreWriter(store.pool, store.caps))
    publish_readings(bus, 10)
    pub = bus.publisher()
    base = {"kind": "environment.reading", "time": "2026-11-25T09:00:00Z", "source_id": "st-nul",
            "metric": "pm25", "value": 1}
    pub.publish(TOPIC, "st-nul", json.dumps({**base, "unit": "µg\u0000"}).encode())
    signal = {"kind": "alert.signal", "time": "2026-11-25T09:00:00Z", "source_id": "cam-1",
              "detector": "crowd", "rule": "r", "fingerprint": "f", "status": "firing",
              "severity": "warning", "title": "t", "details": {"note": "a\u0000b"}}
    pub.publish(TOPIC, "cam-1", json.dumps(signal).encode())
    drain(sink)
    assert table(store, "SELECT count(*) FROM readings") == [(10,)]
    reasons = dict(table(store, "SELECT key, reason FROM dead_letters"))
    assert set(reasons) == {"st-nul", "cam-1"}
    assert all("NUL" in reason for reason in reasons.values()), reasons
