"""One record never stops a role: what the store would refuse is refused at the edge, and what still
fails its batch is found by retrying the batch in parts and set aside as a dead letter.

On the in-process bus and a real PostgreSQL. Every case here once stopped its role for good: the
batch failed, was rewound and failed again (``bigint out of range``, a NUL in a dead letter's key,
a forged dead letter's partition of ``Infinity``, a signal of year 1 or with ``Infinity`` in its
details), or it was stored and held a station's threshold rule in the year 9999.
"""

from __future__ import annotations

import json
import math
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from alerts.consumer import AlertSignalConsumer
from alerts.service import AlertService
from ingest.sink import StoreSink
from ioc.bus.loop import BatchConsumer
from ioc.bus.memory import MemoryBus
from ioc.events import EVENT_TYPES, EventDecodeError, decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.records import FLOAT4_MAX, INT8_MAX
from ioc.store.database import Store
from ioc.store.writer import TABLES, StoreWriter
from ioc.topics import ALERT_SIGNALS, DEAD_LETTERS, TOPIC_BY_KIND
from tests.waiting import HANG_GUARD_S, wait_for

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # the receiving clock of these tests
T = "2026-05-01T00:00:00Z"
READINGS = TOPIC_BY_KIND["environment.reading"]


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchall()


def wire(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def reading(station: str, t: str = T, value: float = 12.5) -> bytes:
    return wire({"kind": "environment.reading", "v": 1, "time": t, "source_id": station, "metric": "pm25",
                 "value": value})


# ------------------------------------------------------------------------------------- the loop


def test_a_batch_failing_for_one_records_data_is_handled_in_parts_and_that_record_set_aside() -> None:
    bus = MemoryBus(partitions=1)
    pub = bus.publisher()
    values = [str(i).encode() for i in range(40)]
    values[17] = str(2**70).encode()  # a number no bigint column holds
    for v in values:
        pub.publish("t", "k", v)
    stored: list[int] = []
    set_aside: list[tuple[bytes, str]] = []
    calls: list[int] = []
    outage = iter([True])  # the store goes away once while the batch is handled in parts

    def handle(batch) -> None:  # noqa: ANN001 - one transaction: all of the batch or nothing
        calls.append(len(batch))
        numbers = [int(m.value) for m in batch]
        if len(calls) == 3 and next(outage, False):
            raise psycopg.OperationalError("connection refused")
        if any(n > INT8_MAX for n in numbers):
            raise psycopg.errors.NumericValueOutOfRange("bigint out of range")
        stored.extend(numbers)

    consumer = BatchConsumer("test", bus.subscribe(["t"], "g"), handle, batch_size=100, poll_timeout=0.05,
                             poison=lambda m, exc: set_aside.append((m.value, str(exc))))
    assert consumer.run_once(threading.Event()) == 40
    assert stored == [int(v) for i, v in enumerate(values) if i != 17]  # in order, none lost
    assert set_aside == [(str(2**70).encode(), "bigint out of range")]
    assert consumer.health.isolated == 1 and consumer.health.errors == 1
    assert consumer.health.waits == 1  # the outage was waited out, not taken for the record's fault
    assert len(calls) <= 2 + 2 * math.ceil(math.log2(40))  # halves, not one record at a time
    assert consumer.subscription.lag() == 0 and consumer.run_once() == 0  # committed: it moved on


def test_role_health_counts_the_records_waiting_behind_a_batch_that_keeps_failing() -> None:
    bus = MemoryBus(partitions=1)
    for i in range(5):
        bus.publisher().publish("t", "k", str(i).encode())

    def handle(batch) -> None:  # noqa: ANN001
        first, second = batch  # a bug of the code, not a record's fault: redelivered, never set aside
        raise AssertionError("unreachable")

    consumer = BatchConsumer("test", bus.subscribe(["t"], "g"), handle, poll_timeout=0.05,
                             poison=lambda m, exc: pytest.fail("a bug must not make dead letters"))
    with pytest.raises(ValueError, match="too many values to unpack"):
        consumer.run_once()
    assert consumer.health.lag == 5  # not 0 while nothing could be written


# ------------------------------------------------------------------------------------- the sink


def test_records_the_store_would_refuse_are_dead_letters_and_their_partition_moves_on(
        plain_store: Store) -> None:
    bus = MemoryBus(partitions=1)  # one partition: every poison record sits before the good ones
    sink = StoreSink(bus, StoreWriter(plain_store.pool, plain_store.caps), publisher=bus.publisher(),
                     clock=lambda: NOW)
    pub = bus.publisher()
    for i in range(3):
        pub.publish(READINGS, f"good-{i}", reading(f"good-{i}"))
    poison = {  # key: (topic, value, what the reason says)
        "imo": (TOPIC_BY_KIND["vessel.static"], wire({
            "kind": "vessel.static", "v": 1, "time": T, "source_id": "574333001", "mmsi": 574333001,
            "imo": 2**70}), "imo: Input should be less than or equal to"),
        "track": (TOPIC_BY_KIND["camera.detection"], wire({
            "kind": "camera.detection", "v": 1, "time": T, "source_id": "cam1", "label": "car", "score": 0.5,
            "box": {"x1": 0, "y1": 0, "x2": 1, "y2": 1e300}, "track_id": 2**70}), "track_id: Input should"),
        # a Suricata sid is 32 bits (the store refused it once its batch had failed)
        "signature": (TOPIC_BY_KIND["security.event"], wire({
            "kind": "security.event", "v": 1, "time": T, "source_id": "fw1", "log": "suricata",
            "action": "ids_alert", "signature_id": 2**70}), "signature_id: Input should be less than"),
        "y9999": (READINGS, reading("far", "9999-01-01T00:00:00Z"), "more than 24 h ahead of the clock"),
        "y2030": (READINGS, reading("ahead", "2030-01-01T00:00:00Z"), "more than 24 h ahead of the clock"),
        "year1": (READINGS, reading("never-set", "0001-01-01T00:00:00Z"), "before 1990"),
        "k\x00nul": (READINGS, b"junk", "not JSON"),
        "tomb": (READINGS, b"", "empty record (tombstone)"),
        "utf16": (READINGS, "{}".encode("utf-16"), "not UTF-8 text (byte 0xff at position 0)"),
    }
    for key, (topic, value, _) in poison.items():
        pub.publish(topic, key, value)
    forged = {  # dead letters on ioc.deadletters whose origin is no bus position
        "inf": b'{"stage":"sink","feed":"f","reason":"r","payload":"p",'
               b'"origin":{"topic":"ioc.x","partition":Infinity,"offset":1}}',
        "p2e40": wire({"reason": "r", "origin": {"topic": "ioc.x", "partition": 2**40, "offset": 1}}),
        "o2e70": wire({"reason": "r", "origin": {"topic": "ioc.x", "partition": 0, "offset": 2**70}}),
        "topic": wire({"reason": "r", "origin": {"topic": "a\x00b", "partition": 0, "offset": 1}}),
    }
    for key, value in forged.items():
        pub.publish(DEAD_LETTERS, key, value)
    pub.publish(DEAD_LETTERS, "nul\x00key",
                wire({"stage": "ingest", "feed": "csv\x00", "reason": "bad\x00row", "payload": "x"}))
    for i in range(3, 6):
        pub.publish(READINGS, f"good-{i}", reading(f"good-{i}"))
    while sink.run_once():
        pass
    assert rows(plain_store, "SELECT station_id FROM readings ORDER BY station_id") == [
        (f"good-{i}",) for i in range(6)]
    for table in ("vessel_static_reports", "camera_detections", "security_events"):
        assert rows(plain_store, f"SELECT count(*) FROM {table}") == [(0,)]
    letters = {r[0]: r[1:] for r in rows(plain_store, 'SELECT key, stage, reason, topic, "offset" '
                                                      "FROM dead_letters")}
    for key, (topic, _, says) in poison.items():
        stage, reason, where, _ = letters[key.replace("\x00", "\\x00")]  # the key kept, escaped
        assert stage == "sink" and where == topic and says in reason, (key, reason)
    for key in forged:
        stage, reason, where, _ = letters[key]
        assert where == DEAD_LETTERS and reason.startswith("unreadable dead-letter record: origin "), reason
    assert letters["nul\\x00key"][:2] == ("ingest", "bad\\x00row")
    assert sink.consumer.health.isolated == 0  # each refused as it was read: no batch failed
    # Each poison record is on the dead-letter topic too; the sink reads those back: no new row.
    before = len(letters)
    assert sink.dead_letters_published == len(poison)
    while sink.run_once():
        pass
    assert rows(plain_store, "SELECT count(*) FROM dead_letters") == [(before,)]


# ------------------------------------------------------------------------------------- alerts


def signal(fp: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "alert.signal", "v": 1, "time": T, "source_id": "s1", "detector": "threshold",
            "rule": "r", "fingerprint": fp, "status": "firing", "title": "t", **fields}


def test_one_signal_never_stops_the_alerts_service(plain_store: Store) -> None:
    bus = MemoryBus(partitions=1)
    consumer = AlertSignalConsumer(bus, AlertService(plain_store.pool),
                                   StoreWriter(plain_store.pool, plain_store.caps), clock=lambda: NOW)
    dead_topic = bus.subscribe([DEAD_LETTERS], "dead-letter-reader")
    pub = bus.publisher()
    rng = random.Random(1)
    noise = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(3000))  # incompressible
    poison = {  # key: (value, what the reason says)
        "s1\x00": (b"junk", "not JSON"),
        "year1": (wire(signal("fp-y1", time="0001-01-01T00:00:00Z")), "time: time 0001-01-01"),
        "y9999": (wire(signal("fp-y9", time="9999-12-31T23:59:00Z")), "more than 24 h ahead"),
        "started": (wire(signal("fp-st", started_at="0001-01-01T00:00:00Z")), "started_at: time 0001"),
        "inf": (b'{"kind":"alert.signal","v":1,"time":"2026-05-01T00:00:00Z","source_id":"s1",'
                b'"detector":"threshold","rule":"r","fingerprint":"fp-inf","status":"firing","title":"t",'
                b'"details":{"x":Infinity}}', "details: Value error, holds inf"),
        "nan": (b'{"kind":"alert.signal","v":1,"time":"2026-05-01T00:00:00Z","source_id":"s1",'
                b'"detector":"threshold","rule":"r","fingerprint":"fp-nan","status":"firing","title":"t",'
                b'"title_params":{"x":NaN}}', "title_params: Value error, holds nan"),
        # an area larger than an index row (the incidents index refused it, once the batch had failed)
        "area": (wire(signal("fp-area", area=noise)), "area: String should have at most 256 characters"),
    }
    for key, (value, _) in poison.items():
        pub.publish(ALERT_SIGNALS, key, value)
    pub.publish(ALERT_SIGNALS, "s1", wire(signal("fp-good")))
    while consumer.consumer.run_once():
        pass
    assert rows(plain_store, "SELECT fingerprint FROM alerts") == [("fp-good",)]
    letters = {r[0]: r[1:] for r in rows(plain_store, "SELECT key, stage, reason, topic FROM dead_letters")}
    assert set(letters) == {k.replace("\x00", "\\x00") for k in poison}
    for key, (_, says) in poison.items():
        stage, reason, topic = letters[key.replace("\x00", "\\x00")]
        assert stage == "alerts" and topic == ALERT_SIGNALS and says in reason, (key, reason)
    assert consumer.consumer.health.isolated == 0  # each refused as it was read: no batch failed
    # the README's contract: each is on the dead-letter topic too, with its origin
    published = [json.loads(m.value) for m in dead_topic.poll(100, 0.1)]
    assert sorted(p["origin"]["key"] for p in published) == sorted(poison)  # each once: none was
    assert {p["origin"]["topic"] for p in published} == {ALERT_SIGNALS}  # published by a failed try


# ------------------------------------------------------------------------------------- the edge


def test_a_tombstone_and_bytes_that_are_not_utf8_are_named_for_what_they_are() -> None:
    for value, says in ((b"", "empty record (tombstone)"),
                        (b"\x00\xff\xfe !AIVDM", "not JSON: not UTF-8 text (byte 0xff at position 1)"),
                        (b"\xff\xfe{\x00}\x00", "not JSON: not UTF-8 text (byte 0xff at position 0)")):
        with pytest.raises(EventDecodeError) as refused:
            decode(value)
        assert says in str(refused.value) and "utf-16" not in str(refused.value)


#: numbers a record may hold beyond its column's type (none now): the store would refuse such a
#: record and the sink's loop set it aside, record by record
KNOWN_UNBOUNDED: set[tuple[str, str]] = set()
_RANGES = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1),
           "float4": (-FLOAT4_MAX, FLOAT4_MAX)}


def _bounds(schema: dict[str, Any]) -> tuple[float, float]:
    options = schema.get("anyOf", [schema])
    numeric = [o for o in options if o.get("type") in ("integer", "number")]
    assert numeric, schema
    low = min(o.get("minimum", o.get("exclusiveMinimum", -math.inf)) for o in numeric)
    high = max(o.get("maximum", o.get("exclusiveMaximum", math.inf)) for o in numeric)
    return low, high


def test_every_number_a_record_may_hold_fits_the_column_that_keeps_it() -> None:
    """A value beyond its column's type passes a bare ``int`` and then fails the whole batch's write."""
    gaps = set()
    for kind, spec in TABLES.items():
        schema = EVENT_TYPES[kind].model_json_schema()
        fields = dict(schema["properties"])
        for nested in schema.get("$defs", {}).values():  # a camera detection's box
            fields.update(nested.get("properties", {}))
        for column, pg_type in spec.columns:
            if pg_type not in _RANGES or column not in fields:
                continue
            low, high = _bounds(fields[column])
            if low < _RANGES[pg_type][0] or high > _RANGES[pg_type][1]:
                gaps.add((kind, column))
    assert gaps == KNOWN_UNBOUNDED


def test_readings_stamped_out_of_this_world_never_reach_a_rule() -> None:
    """The live detector runner does not observe a reading of the year 9999 (it held the station's
    threshold rule in that year: every later real reading was dropped as too late)."""
    from detectors.runner import DetectorRunner
    from detectors.threshold import ThresholdDetector
    from ioc.feeds.environment.settings import ThresholdRule

    bus = MemoryBus()
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    rule = ThresholdRule(name="pm25-high", metric="pm25", above=100, for_minutes=10, clear_margin=10)
    now = [NOW]
    runner = DetectorRunner(bus, [ThresholdDetector([rule])], use_wall_clock=True, clock=lambda: now[0])
    pub = bus.publisher()
    for station, t in (("victim", "9999-01-01T00:00:00Z"), ("victim-2030", "2030-01-01T00:00:00Z"),
                       ("victim-1", "0001-01-01T00:00:00Z")):
        pub.publish(READINGS, station, reading(station, t, 1.0))
    for minute in (0, 5, 11, 16):
        for station in ("control", "victim", "victim-2030", "victim-1"):
            r = EnvironmentReading(time=NOW + timedelta(minutes=minute - 20), source_id=station,
                                   metric="pm25", value=500.0)
            pub.publish(READINGS, station, r.to_wire())
    while runner.run_once(timeout=0.01):
        pass
    runner.close()
    fired = {decode(m.value).source_id for m in wall.poll(100, 0.1)}
    assert fired == {"control", "victim", "victim-2030", "victim-1"}
    assert runner.implausible_times == 3


def test_a_forged_dead_letter_claiming_a_position_first_never_hides_the_real_one(plain_store: Store) -> None:
    """Anyone who may publish on ``ioc.deadletters`` can claim a position before its record is read:
    the claim was stored and the sink's own letter about that record dropped as a duplicate."""
    bus = MemoryBus(partitions=1)
    writer = StoreWriter(plain_store.pool, plain_store.caps)
    sink = StoreSink(bus, writer, publisher=bus.publisher(), clock=lambda: NOW)
    again = StoreSink(bus, writer, group="store-sink-again", clock=lambda: NOW)  # reads it all once more
    pub = bus.publisher()
    pub.publish(READINGS, "good-0", reading("good-0"))
    # the next record of the readings' partition will be at offset 1: claimed before it exists
    forged = {"stage": "sink", "feed": "f", "reason": "forged", "payload": "x",
              "origin": {"topic": READINGS, "partition": 0, "offset": 1}}
    pub.publish(DEAD_LETTERS, "forger", wire(forged))
    while sink.run_once():
        pass
    pub.publish(READINGS, "poison", b"junk")
    pub.publish(READINGS, "good-1", reading("good-1"))
    real = "not JSON: Expecting value: line 1 column 1 (char 0)"
    for each in (sink, again):  # the sink, then a redelivery of everything (its letter read back included)
        while each.run_once():
            pass
        with plain_store.pool.connection() as conn:
            kept = conn.execute('SELECT stage, reason, payload, key FROM dead_letters WHERE topic = %s '
                                'AND "offset" = 1 ORDER BY id', (READINGS,)).fetchall()
        assert kept == [("sink", "forged", b"x", None),  # the claim, kept for what it is
                        ("sink", real, b"junk", "poison")]
        assert rows(plain_store, "SELECT by_reader FROM dead_letters ORDER BY id") == [(False,), (True,)]
        assert rows(plain_store, "SELECT count(*) FROM dead_letters") == [(2,)]  # the echo: no third row
    assert again.health.records == 5  # it did read everything again
    assert rows(plain_store, "SELECT station_id FROM readings ORDER BY station_id") == [
        ("good-0",), ("good-1",)]


def test_how_far_ahead_a_record_may_be_is_the_deployments_to_set(plain_store: Store) -> None:
    """``[bus] max_event_ahead_hours`` reaches the sink of a running role: 30 h ahead is stored under
    48 h, 50 h is a dead letter (the default, 24 h, refuses both)."""
    from ioc.app.runtime import Runtime
    from ioc.config import Settings

    settings = Settings.model_validate({"database": {"dsn": plain_store.dsn},
                                        "bus": {"max_event_ahead_hours": 48}})
    runtime = Runtime(settings)
    runtime.open_store()
    bus = runtime.open_bus()
    runtime.add_sink()
    [worker] = runtime.workers
    now = datetime.now(UTC)
    pub = bus.publisher()
    for station, hours in (("ahead-30h", 30), ("ahead-50h", 50)):
        pub.publish(READINGS, station, reading(station, (now + timedelta(hours=hours)).isoformat()))
    pub.flush()
    runtime._start_worker(worker)
    try:
        wait_for(lambda: rows(plain_store, "SELECT count(*) FROM dead_letters") == [(1,)]
                 and rows(plain_store, "SELECT count(*) FROM readings") == [(1,)], "one stored, one refused")
    finally:
        worker.stop.set()
        worker.thread.join(timeout=HANG_GUARD_S)
        runtime.store.close()  # type: ignore[union-attr]
        bus.close()
    assert rows(plain_store, "SELECT station_id FROM readings") == [("ahead-30h",)]
    [(key, reason)] = rows(plain_store, "SELECT key, reason FROM dead_letters")
    assert key == "ahead-50h" and "more than 48 h ahead" in reason, reason
    with pytest.raises(ValueError, match="max_event_ahead_hours"):
        Settings.model_validate({"bus": {"max_event_ahead_hours": 0}})
