"""Distributed mode raises exactly the alerts of the embedded mode (real Kafka on tansu, real PostgreSQL).

One recorded (SIMULATED, crafted) vessel stream goes through the embedded mode (in-process bus,
one detector runner) and through Kafka with 6 partitions and 3 detector runners that keep their
state per partition in PostgreSQL, as the ``detectors`` role does. The stream holds encounters
between vessels whose MMSIs land in different partitions (some straddling a map-cell border,
some drifting across one during the encounter) and storm warnings over vessels of many
partitions; the alert signals of both runs must be the same set of (fingerprint, status, time,
severity). Before broadcast warnings and cell-keyed encounters, the Kafka run missed every
encounter (each vessel's partition saw only one of the pair) and the storm-ban alerts of every
partition but the warning's.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import fresh_database
from kafka.partitioner.default import murmur2
from test_detector_state import Running, Signals
from test_distributed_e2e import CONSUMER_OPTIONS, publish, scalar, wait_for

from detectors.base import Detector
from detectors.runner import DetectorRunner
from detectors.vessels import ZoneIndex, build_vessel_detectors
from ioc.bus.base import Bus
from ioc.bus.kafka import KafkaBus
from ioc.bus.memory import MemoryBus
from ioc.cells import CellRouter
from ioc.config import BusSettings, MapCellSettings
from ioc.events import AlertSignal, Event, decode
from ioc.feeds.vessels.records import StormWarning, VesselPosition
from ioc.store.database import Store, open_store
from ioc.store.detector_state import PostgresSnapshotStore
from ioc.topics import ALERT_SIGNALS, TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]

PARTITIONS = 6
T0 = datetime(2026, 3, 1, tzinfo=UTC)
END_MINUTE = 300  # five hours of positions, one every two minutes per vessel
NOW = T0 + timedelta(hours=12)  # the wall clock of both runs: long after the recording
M_PER_DEG = 111_195.0
KNOT_M_PER_MIN = 1852 / 60
PAIRS = 8

Signature = tuple[str, str, datetime, str]


def kafka_partition(key: str) -> int:
    """The partition kafka-python's default partitioner gives ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def pair_mmsis() -> list[tuple[int, int]]:
    """Eight pairs whose two vessels are in different Kafka partitions (SIMULATED MMSIs, MID 999)."""
    pairs = []
    for k in range(PAIRS):
        a = 999_200_000 + 100 * k
        b = next(m for m in range(a + 1, a + 100) if kafka_partition(str(m)) != kafka_partition(str(a)))
        pairs.append((a, b))
    return pairs


def moved(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def position(mmsi: int, minute: int, lat: float, lon: float, sog: float) -> VesselPosition:
    return VesselPosition(time=T0 + timedelta(minutes=minute), source_id=str(mmsi), mmsi=mmsi,
                          lat=round(lat, 6), lon=round(lon, 6), sog=sog, cog=0.0, simulated=True)


def encounter_stream() -> list[VesselPosition]:
    """Pair ``k`` meets about ``(16.8 + 0.1 (k % 4), 107.7 + 0.1 (k // 4))``: vessel a drifts north at
    0.5 kn all along; vessel b waits 3.7 km east, comes alongside (100 m) at 6 kn from minute 40,
    drifts with a until minute 210 and leaves again. Even pairs meet astride a cell border (0.1°),
    odd pairs start 700 m south of one and drift across it while together."""
    out: list[VesselPosition] = []
    for k, (a, b) in enumerate(pair_mmsis()):
        lat0, lon0 = 16.8 + 0.1 * (k % 4) - (0.0 if k % 2 == 0 else 700 / M_PER_DEG), 107.7 + 0.1 * (k // 4)
        lat0, lon0 = moved(lat0, lon0, 0, 2000 + 50 * k)  # away from the cell's western border
        for m in range(0, END_MINUTE, 2):
            drift = 0.5 * KNOT_M_PER_MIN * m
            out.append(position(a, m, *moved(lat0, lon0, drift - 50, 0), 0.5))
            if m < 40 or m >= 230:
                east, sog = 3700.0, 0.5
            elif m < 60:
                east, sog = (60 - m) * 6 * KNOT_M_PER_MIN, 6.0
            elif m < 210:
                east, sog = 0.0, 0.5
            else:
                east, sog = (m - 210) * 6 * KNOT_M_PER_MIN, 6.0
            out.append(position(b, m + 1, *moved(lat0, lon0, drift + 50, east), sog))
    # Boats in transit at 8 kn through the storm area and past the meeting points: never an
    # encounter (too fast), sometimes a storm-ban alert.
    for j in range(6):
        mmsi = 999_300_000 + j
        for m in range(0, END_MINUTE, 2):
            lat, lon = moved(16.75 + 0.07 * j, 107.55, 0, 8 * KNOT_M_PER_MIN * m)
            out.append(position(mmsi, m, lat, lon, 8.0))
    return sorted(out, key=lambda p: (p.time, p.mmsi))


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1],
                                                [lon0, lat0]]]}


def warnings() -> list[StormWarning]:
    """Two SIMULATED warnings over vessels of many partitions; the second is re-issued shorter."""
    north = StormWarning(time=T0, source_id="sim-nchmf", warning_id="sim-storm-north",
                         title="SIMULATED storm, northern waters", area=box(107.6, 16.95, 107.95, 17.2),
                         valid_from=T0 + timedelta(hours=2), valid_to=T0 + timedelta(hours=4))
    south = StormWarning(time=T0, source_id="sim-nchmf", warning_id="sim-storm-south",
                         title="SIMULATED storm, southern waters", area=box(107.6, 16.7, 107.95, 16.95),
                         valid_from=T0 + timedelta(hours=1), valid_to=T0 + timedelta(hours=4),
                         severity="warning")
    shortened = south.model_copy(update={"time": T0 + timedelta(minutes=5),
                                         "valid_to": T0 + timedelta(hours=3)})
    return [north, south, shortened]


def recorded() -> list[Event]:
    """What the ingest workers publish: warnings, then each position and its map-cell copies."""
    cells = CellRouter(MapCellSettings(size_deg=0.1, halo_m=5000, hold_minutes=45))
    out: list[Event] = [*warnings()]
    for p in encounter_stream():
        out.append(p)
        out.extend(cells.records(p))
    return out


def vessel_rules() -> list[Detector]:
    return build_vessel_detectors({"enabled": ["encounter", "storm_ban"]}, zones=ZoneIndex([]))  # type: ignore[return-value]


def runner(bus: Bus, group: str, live: bool = True, clock: Callable[[], datetime] = lambda: NOW,
           **options: Any) -> DetectorRunner:
    """The vessel rules' runner; ``live``: judging against the wall clock ``clock`` too."""
    return DetectorRunner(bus, vessel_rules(), group=group, use_wall_clock=live, clock=clock,
                          factory=vessel_rules, **options)


def signature(signals: Sequence[AlertSignal]) -> set[Signature]:
    return {(s.fingerprint, s.status, s.time, s.severity) for s in signals}


def embedded_signals(events: Sequence[Event]) -> set[Signature]:
    """The embedded mode, live: the stream is published ten minutes at a time and the runner keeps
    up (its clock reads the end of what was published); at last the clock reads :data:`NOW`."""
    bus = MemoryBus(partitions=4)
    pub = bus.publisher()
    now = {"t": T0}
    one = runner(bus, "detectors", clock=lambda: now["t"])
    rounds = sorted({e.time.replace(minute=e.time.minute // 10 * 10) for e in events})
    for start in [*rounds, NOW]:
        cut = start + timedelta(minutes=10) if start < NOW else NOW
        for e in events:
            if start <= e.time < cut:
                pub.publish(TOPIC_BY_KIND[e.kind], e.key, e.to_wire())  # type: ignore[attr-defined]
        now["t"] = cut
        while one.run_once(max_records=500, timeout=0.01):
            pass
    one.close()
    assert one.detector_errors == 0
    reader = bus.subscribe([ALERT_SIGNALS], "check")
    return signature([decode(m.value) for m in reader.poll(max_records=100_000, timeout=0.1)])  # type: ignore[misc]


@pytest.fixture
def state_store(pg_plain: Any) -> Iterator[Store]:
    st = open_store(fresh_database(pg_plain), pool_max=6, want_timescaledb=False)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def members() -> Iterator[list[Running]]:
    running: list[Running] = []
    yield running
    for r in running:
        r.halt()


def test_three_kafka_detectors_on_six_partitions_raise_the_alerts_of_the_embedded_mode(
        kafka_broker: str, state_store: Store, members: list[Running]) -> None:
    events = recorded()
    pairs = pair_mmsis()
    assert all(kafka_partition(str(a)) != kafka_partition(str(b)) for a, b in pairs)
    expected = embedded_signals(events)
    # The embedded mode itself raises what the stream holds: every pair's encounter, fired once
    # two hours after b came alongside and resolved after it left; storm-ban alerts in both areas.
    encounters = {(f, st, t) for f, st, t, _ in expected if f.startswith("encounter:")}
    assert encounters == {(f"encounter:{a}:{b}", status, T0 + timedelta(minutes=minute))
                          for a, b in pairs for status, minute in (("firing", 180), ("resolved", 230))}
    storm = {(f.rsplit(":", 1)[0], st, sev) for f, st, _, sev in expected if f.startswith("storm_ban:")}
    assert storm == {("storm_ban:sim-storm-north", s, "critical") for s in ("firing", "resolved")} | {
        ("storm_ban:sim-storm-south", s, "warning") for s in ("firing", "resolved")}
    storm_vessels = {f.rsplit(":", 1)[1] for f, *_ in expected if f.startswith("storm_ban:")}
    assert len({kafka_partition(m) for m in storm_vessels}) >= 4  # warned vessels all over the partitions

    bus = KafkaBus(BusSettings(kind="kafka", bootstrap_servers=kafka_broker, partitions=PARTITIONS,
                               namespace=f"eq{uuid.uuid4().hex[:8]}"),
                   client_id="test", consumer_options=CONSUMER_OPTIONS)
    signals = Signals(bus)
    try:
        publish(bus, events)
        group = f"detectors-{uuid.uuid4().hex[:8]}"
        for _ in range(3):
            members.append(Running(runner(bus, group, state=PostgresSnapshotStore(state_store.pool)),
                                   max_records=500))
        topics = set(members[0].runner.topics)
        records = sum(1 for e in events if TOPIC_BY_KIND[e.kind] in topics)  # type: ignore[attr-defined]

        def folded() -> int:
            return int(scalar(state_store.dsn, "SELECT coalesce(sum(next_offset), 0) FROM detector_state "
                              "WHERE group_id = %s AND topic = ANY(%s)", bus.physical(group), sorted(topics)))

        wait_for("every record folded by the three detectors", lambda: folded() == records,
                 timeout=90, every=0.5)

        def all_read() -> bool:
            """The expected signals are in, and so is every signal the members published: one
            published twice (an encounter judged twice) is read before the comparison."""
            seen = signals.read()
            published = sum(r.runner.signals_published for r in members)
            return signature(seen) >= expected and len(seen) >= published

        # the last signals (decided against the clock) may still be on their way
        wait_for("every expected signal and every one published read", all_read, timeout=30, every=0.2)
        got = signature(signals.read())
        missed, extra = sorted(expected - got), sorted(got - expected)
        assert (missed, extra) == ([], [])
        # the work was shared (waited on: on a loaded machine a member may be rejoining the group)
        wait_for("each of the three members holding partitions", lambda: all(r.owned() for r in members),
                 timeout=60)
        assert sum(r.runner.signals_published for r in members) >= len(expected)
    finally:
        signals.close()


def test_a_warning_reaches_a_detector_restored_from_a_snapshot_taken_before_it(
        kafka_broker: str, state_store: Store) -> None:
    """Warnings are re-read from the broadcast topic on every start: a partition restored from a
    snapshot saved before a warning was issued still bans its vessels."""
    bus = KafkaBus(BusSettings(kind="kafka", bootstrap_servers=kafka_broker, partitions=PARTITIONS,
                               namespace=f"wr{uuid.uuid4().hex[:8]}"),
                   client_id="test", consumer_options=CONSUMER_OPTIONS)
    signals = Signals(bus)
    group = f"detectors-{uuid.uuid4().hex[:8]}"
    vessels = [999_400_000 + i for i in range(12)]
    try:
        publish(bus, [position(m, minute, 16.8, 107.7 + 0.001 * i, 0.5)
                      for minute in range(0, 30, 2) for i, m in enumerate(vessels)])
        first = Running(runner(bus, group, live=False, state=PostgresSnapshotStore(state_store.pool)))
        wait_for("the first detector's snapshots", lambda: scalar(
            state_store.dsn, "SELECT coalesce(sum(next_offset), 0) FROM detector_state WHERE group_id = %s "
            "AND topic = %s", bus.physical(group), TOPIC_BY_KIND["vessel.position"]) == 15 * len(vessels),
            timeout=60)
        first.halt()
        ban = StormWarning(time=T0 + timedelta(minutes=30), source_id="sim-nchmf", warning_id="sim-ban",
                           area=box(107.6, 16.7, 107.9, 16.9), valid_from=T0 + timedelta(minutes=40),
                           valid_to=T0 + timedelta(hours=2))
        publish(bus, [ban, *[position(m, minute, 16.8, 107.7 + 0.001 * i, 0.5)
                             for minute in range(30, 60, 2) for i, m in enumerate(vessels)]])
        second = Running(runner(bus, group, live=False, state=PostgresSnapshotStore(state_store.pool)))
        try:
            wait_for("a storm-ban alert per vessel", lambda: {
                s.fingerprint for s in signals.read() if s.status == "firing"} == {
                f"storm_ban:sim-ban:{m}" for m in vessels}, timeout=60, every=0.5)
            assert second.runner.slots_restored >= 1
        finally:
            second.halt()
    finally:
        signals.close()
