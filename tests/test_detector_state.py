"""Detector state across restarts and rebalances (real Kafka on tansu, real PostgreSQL).

The runner keeps one set of detectors per topic-partition and saves each as a
snapshot (detector states + the partition's next offset) after the signals
are flushed and before the offsets are committed (``ioc/store/detector_state.py``).

- A partition that moves to another member takes its windows with it: a
  breaching run that started under one member fires, once, under the next,
  with the right start time.
- A restored detector in live mode reads what arrived while it was down
  before it judges silence against the clock.
- ``kill -9`` of the detector process, even between publishing signals and
  saving its state, raises each alert exactly once (the alerts service
  ignores a republished signal).
- A snapshot that cannot be used is not: one past the end of its partition
  (the topic was recreated) or holding an impossible event time (saved before
  such times were refused at intake) starts its partition empty.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import test_distributed_e2e as e2e
from conftest import migrated_database
from psycopg.types.json import Jsonb
from test_distributed_e2e import (
    CONSUMER_OPTIONS,
    PARTITIONS,
    Deployment,
    kafka_bus,
    migrate,
    publish,
    scalar,
    sql,
    wait_for,
    write_config,
)

from detectors.runner import DetectorRunner
from detectors.runner.clocks import clock_of_topic
from detectors.runner.slots import CLOCKS_KEY
from detectors.stale import StaleSensorDetector
from detectors.threshold import ThresholdDetector
from ioc.bus.kafka import KafkaBus
from ioc.config import StaleRule
from ioc.events import AlertSignal, decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.store.database import Store, open_store
from ioc.store.detector_state import MemorySnapshotStore, PostgresSnapshotStore, SlotSnapshot
from ioc.topics import ALERT_SIGNALS, TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]
deployment_factory = e2e.deployment_factory  # the fixture, shared with the end-to-end test

READINGS = TOPIC_BY_KIND["environment.reading"]
RULE = ThresholdRule(name="pm25-high", metric="pm25", above=100, for_minutes=10, clear_margin=10)
STATIONS = [f"hue-aq-{i:02d}" for i in range(12)]


def reading(t0: datetime, minute: int, station: str, value: float) -> EnvironmentReading:
    return EnvironmentReading(time=t0 + timedelta(minutes=minute), source_id=station, metric="pm25",
                              value=value, unit="µg/m³")


def episode(t0: datetime, minutes: range) -> list[EnvironmentReading]:
    """Every station: low until minute 10, high (150) from 10 to 29, low again from 30."""
    return [reading(t0, m, s, 150.0 if 10 <= m < 30 else 40.0) for m in minutes for s in STATIONS]


class Signals:
    """Reads the alert signals topic in a group of its own."""

    def __init__(self, bus: KafkaBus) -> None:
        self.sub = bus.subscribe([ALERT_SIGNALS], f"signal-reader-{uuid.uuid4().hex[:8]}")
        self.seen: list[AlertSignal] = []
        wait_for("the signal reader's group join", lambda: self.read() is not None and self.sub.assignment(),
                 timeout=20, every=0)

    def read(self) -> list[AlertSignal]:
        for m in self.sub.poll(1000, 0.2):
            s = decode(m.value)
            assert isinstance(s, AlertSignal)
            self.seen.append(s)
        self.sub.commit()
        return self.seen

    def close(self) -> None:
        self.sub.close()


@pytest.fixture
def signal_readers() -> Iterator[Callable[[KafkaBus], Signals]]:
    """Signal readers that leave their group at the end (a member that never polls again
    would hold up the next rebalance of its group)."""
    made: list[Signals] = []

    def make(bus: KafkaBus) -> Signals:
        made.append(Signals(bus))
        return made[-1]

    yield make
    for reader in made:
        reader.close()


class Running:
    """A runner looping in a thread of the test, as the ``detectors`` role does."""

    def __init__(self, runner: DetectorRunner, max_records: int = 500) -> None:
        self.runner = runner
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, args=(max_records,), daemon=True)
        self.thread.start()

    def _loop(self, max_records: int) -> None:
        try:
            while not self.stop.is_set():
                self.runner.run_once(max_records=max_records, timeout=0.2, stop=self.stop)
        except BaseException as exc:  # pragma: no cover - surfaced by the test
            self.error = exc

    def owned(self) -> set[tuple[str, int]]:
        return {k for k in self.runner._slots}

    def halt(self, commit: bool = True) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()
        self.runner.close(commit=commit)
        assert self.error is None, self.error


@pytest.fixture
def state_store(pg_plain: Any) -> Iterator[Store]:
    st = open_store(migrated_database(pg_plain), pool_max=4, want_timescaledb=False)
    try:
        yield st
    finally:
        st.close()


def saved_offsets(store: Store, group: str) -> dict[tuple[str, int], int]:
    with store.pool.connection() as conn:
        rows = conn.execute("SELECT topic, partition, next_offset FROM detector_state WHERE group_id = %s",
                            (group,)).fetchall()
    return {(t, p): o for t, p, o in rows}


def test_snapshot_store_round_trip_and_last_writer_wins(store: Store) -> None:
    snapshots = PostgresSnapshotStore(store.pool, instance="host:1")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    snapshots.save("g", [SlotSnapshot("ioc.x", 0, 10, t, {"threshold": {"a": [1, "b"]}}),
                         SlotSnapshot("ioc.x", 1, 20, None, {})])
    snapshots.save("g", [SlotSnapshot("ioc.x", 0, 7, t, {"threshold": {"a": 2}})])
    snapshots.save("other", [SlotSnapshot("ioc.x", 0, 99, t, {})])
    got = snapshots.load("g", [("ioc.x", 0), ("ioc.x", 1), ("ioc.x", 2)])
    assert set(got) == {("ioc.x", 0), ("ioc.x", 1)}
    assert (got[("ioc.x", 0)].next_offset, got[("ioc.x", 0)].detectors) == (7, {"threshold": {"a": 2}})
    assert got[("ioc.x", 0)].watermark == t and got[("ioc.x", 0)].saved_by == "host:1"
    assert got[("ioc.x", 1)].watermark is None
    memory = MemorySnapshotStore()
    memory.save("g", [SlotSnapshot("ioc.x", 0, 10, t, {"threshold": {"a": [1]}})])
    assert memory.load("g", [("ioc.x", 0)])[("ioc.x", 0)].detectors == {"threshold": {"a": [1]}}


def test_a_partition_moves_to_another_member_with_its_windows(
        kafka_broker: str, state_store: Store, signal_readers: Callable[[KafkaBus], Signals]) -> None:
    bus = kafka_bus(kafka_broker, f"mv{uuid.uuid4().hex[:8]}")
    signals = signal_readers(bus)
    t0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    group = f"detectors-{uuid.uuid4().hex[:8]}"
    state_group = bus.physical(group)  # snapshots are kept under the group's name on the broker

    def runner() -> DetectorRunner:
        return DetectorRunner(bus, [ThresholdDetector([RULE])], group=group,
                              state=PostgresSnapshotStore(state_store.pool))

    # Member A owns every partition and sees the first 20 minutes: each station's breaching
    # run starts at minute 10, ten minutes are not over yet, nothing fires.
    a = Running(runner())
    publish(bus, episode(t0, range(0, 20)))
    part1 = 20 * len(STATIONS)
    wait_for("A's snapshots of the first 20 minutes",
             lambda: sum(saved_offsets(state_store, state_group).values()) == part1, timeout=30)
    assert len(saved_offsets(state_store, state_group)) >= 3  # the stations spread over the partitions
    assert signals.read() == []
    # Member B joins: half the partitions move to it, with the runs they hold.
    b = Running(runner())
    wait_for("the partitions split between A and B",
             lambda: a.owned() and b.owned() and len(a.owned() | b.owned()) == 4
             and not (a.owned() & b.owned()), timeout=30)
    assert b.runner.slots_restored == len(b.owned())
    publish(bus, episode(t0, range(20, 40)))
    # Both handled and saved everything (a runner publishes its signals before it saves the offsets
    # that made them), and the reader has read every signal either published: one too many shows now.
    wait_for("every reading handled and each signal published read", lambda: sum(
        saved_offsets(state_store, state_group).values()) == 40 * len(STATIONS) and len(signals.read())
        >= max(2 * len(STATIONS), a.runner.signals_published + b.runner.signals_published), timeout=30)
    got = sorted((s.source_id, s.status, s.time, s.started_at) for s in signals.read())
    start = t0 + timedelta(minutes=10)
    expected = sorted([(s, "firing", t0 + timedelta(minutes=20), start) for s in STATIONS]
                      + [(s, "resolved", t0 + timedelta(minutes=30), start) for s in STATIONS])
    assert got == expected  # every run kept its start across the move; nothing twice
    # Both members decided some of them: B fired for runs that had started under A.
    assert a.runner.signals_published > 0 and b.runner.signals_published > 0
    a.halt()
    b.halt()
    assert sum(saved_offsets(state_store, state_group).values()) == 40 * len(STATIONS)


def test_a_restored_detector_reads_the_backlog_before_judging_silence(
        kafka_broker: str, state_store: Store, signal_readers: Callable[[KafkaBus], Signals]) -> None:
    """Down for an hour: the station that kept reporting is not called silent; the one that stopped is."""
    bus = kafka_bus(kafka_broker, f"wc{uuid.uuid4().hex[:8]}")
    signals = signal_readers(bus)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    stale = StaleRule(name="aq-silent", after_minutes=15)
    group = f"detectors-live-{uuid.uuid4().hex[:8]}"
    state_group = bus.physical(group)  # snapshots are kept under the group's name on the broker
    talkers = [f"hue-aq-talk-{i}" for i in range(6)]
    quiet = "hue-aq-quiet"

    def runner(now: datetime, on: KafkaBus = bus) -> DetectorRunner:
        return DetectorRunner(on, [StaleSensorDetector([stale])], group=group, use_wall_clock=True,
                              clock=lambda: now, state=PostgresSnapshotStore(state_store.pool))

    before = [reading(t0, m, s, 30.0) for m in range(0, 31) for s in [*talkers, quiet]]
    publish(bus, before)
    a = Running(runner(t0 + timedelta(minutes=30)))
    wait_for("A's snapshots", lambda: sum(saved_offsets(state_store, state_group).values()) == len(before),
             timeout=30)
    a.halt(commit=False)  # it dies: nothing more is committed
    # While no detector runs, the talkers report for another hour; the quiet one says nothing.
    during = [reading(t0, m, s, 30.0) for m in range(35, 91, 5) for s in talkers]
    one_per_batch = KafkaBus(bus.settings, client_id="test",
                             producer_options={"batch_size": 1, "linger_ms": 0})
    publish(one_per_batch, during)
    assert signals.read() == []
    # B starts an hour later by the wall clock and reads the backlog in small fetches (as any
    # member does with a backlog larger than a fetch): a poll returning fewer records than
    # asked for does not mean the member is caught up.
    small_fetches = kafka_bus(kafka_broker, bus.namespace,
                              {**CONSUMER_OPTIONS, "max_partition_fetch_bytes": 1024})
    b = Running(runner(t0 + timedelta(minutes=90), small_fetches))
    wait_for("B caught up and its signals read", lambda: sum(saved_offsets(state_store, state_group).values())
             == len(before) + len(during) and len(signals.read()) >= max(1, b.runner.signals_published),
             timeout=30)
    got = [(s.source_id, s.status, s.time) for s in signals.read()]
    assert got == [(quiet, "firing", t0 + timedelta(minutes=45))]
    assert b.runner.slots_restored >= 1
    b.halt()


def run_until_folded(bus: KafkaBus, store: Store, group: str, signals: Signals, folded: int,
                     use_wall_clock: bool = False) -> DetectorRunner:
    """A threshold runner of ``group`` looping until it saved snapshots covering ``folded`` records and
    its signals were read; the runner, halted."""
    running = Running(DetectorRunner(bus, [ThresholdDetector([RULE])], group=group,
                                     use_wall_clock=use_wall_clock, state=PostgresSnapshotStore(store.pool)))
    try:
        wait_for("every reading folded and each signal read", lambda: sum(
            saved_offsets(store, bus.physical(group)).values()) == folded and len(signals.read())
            >= max(1, running.runner.signals_published), timeout=60)
    finally:
        running.halt()
    return running.runner


def episode_signals(t0: datetime) -> list[tuple[str, str, datetime, datetime]]:
    """What :func:`episode` over minutes 0-39 decides: each station fires at minute 20, clears at 30."""
    start = t0 + timedelta(minutes=10)
    return sorted([(s, "firing", t0 + timedelta(minutes=20), start) for s in STATIONS]
                  + [(s, "resolved", t0 + timedelta(minutes=30), start) for s in STATIONS])


def test_a_snapshot_past_the_end_of_its_partition_is_not_used(
        kafka_broker: str, state_store: Store, signal_readers: Callable[[KafkaBus], Signals],
        caplog: pytest.LogCaptureFixture) -> None:
    """The topic was deleted and recreated: the snapshots say "up to offset 5000", the partitions now
    end at a few hundred. Read from 5000, the partitions were never read again (tansu answers nothing
    there); now each snapshot is dropped and its partition read from its beginning."""
    bus = kafka_bus(kafka_broker, f"re{uuid.uuid4().hex[:8]}")
    signals = signal_readers(bus)
    t0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    group = f"detectors-{uuid.uuid4().hex[:8]}"
    old = {"threshold": ThresholdDetector([RULE]).state(),
           CLOCKS_KEY: {clock_of_topic(READINGS): t0.isoformat()}}
    PostgresSnapshotStore(state_store.pool).save(bus.physical(group), [
        SlotSnapshot(READINGS, p, 5000, t0, old) for p in range(PARTITIONS)])
    publish(bus, episode(t0, range(0, 40)))
    runner = run_until_folded(bus, state_store, group, signals, 40 * len(STATIONS))
    got = sorted((s.source_id, s.status, s.time, s.started_at) for s in signals.read())
    assert got == episode_signals(t0)
    assert runner.snapshots_discarded == PARTITIONS and runner.slots_restored == 0
    assert "offset 5000 is past the partition's end" in caplog.text


def test_a_snapshot_holding_an_impossible_time_is_not_restored(
        kafka_broker: str, state_store: Store, signal_readers: Callable[[KafkaBus], Signals],
        caplog: pytest.LogCaptureFixture) -> None:
    """Saved before impossible event times were refused at intake, a snapshot held readings of the year
    9999 (in the threshold rule's state, or in the partition's watermark): restored, every later real
    reading of those stations was dropped as late and none fired."""
    bus = kafka_bus(kafka_broker, f"im{uuid.uuid4().hex[:8]}")
    signals = signal_readers(bus)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    group = f"detectors-live-{uuid.uuid4().hex[:8]}"
    far = datetime(9999, 1, 1, tzinfo=UTC)
    held = ThresholdDetector([RULE])
    for station in STATIONS:
        held.observe(reading(far, 0, station, 1.0))
    clock = clock_of_topic(READINGS)
    snapshots = [  # even partitions: the rule's state holds 9999; odd ones: the partition's watermark
        SlotSnapshot(READINGS, p, 0, t0, {"threshold": held.state(), CLOCKS_KEY: {clock: t0.isoformat()}})
        if p % 2 == 0 else
        SlotSnapshot(READINGS, p, 0, far, {"threshold": ThresholdDetector([RULE]).state(),
                                           CLOCKS_KEY: {clock: far.isoformat()}})
        for p in range(PARTITIONS)]
    PostgresSnapshotStore(state_store.pool).save(bus.physical(group), snapshots)
    publish(bus, episode(t0, range(0, 40)))
    runner = run_until_folded(bus, state_store, group, signals, 40 * len(STATIONS), use_wall_clock=True)
    got = sorted((s.source_id, s.status, s.time, s.started_at) for s in signals.read())
    assert got == episode_signals(t0)
    assert runner.snapshots_discarded == PARTITIONS and runner.slots_restored == 0
    assert "the state of detector threshold: time 9999-01-01" in caplog.text
    assert f"the {clock} watermark: time 9999-01-01" in caplog.text


# ----------------------------------------------------------------------------- kill -9 of the role


def test_kill_9_of_the_detector_process_raises_each_alert_once(
        deployment_factory: Callable[..., Deployment], pg_timescale: Any, tmp_path: Path,
        signal_readers: Callable[[KafkaBus], Signals]) -> None:
    dsn = migrated_database(pg_timescale, timescaledb=True)
    migrate(dsn)
    rule = {"name": "pm25-high", "metric": "pm25", "above": 100.0, "for_minutes": 10.0, "clear_margin": 10.0}
    d = deployment_factory(dsn, write_config(tmp_path / "ioc.toml", thresholds=[rule]))
    bus = d.bus()
    signals = signal_readers(bus)
    t0 = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    alerts = d.start("alerts")
    detector = d.start("detectors")
    # Minutes 0-19: every station's run starts at minute 10; nothing fires yet.
    publish(bus, episode(t0, range(0, 20)))
    part1 = 20 * len(STATIONS)
    wait_for("the detector's snapshots of minutes 0-19", lambda: scalar(
        dsn, "SELECT coalesce(sum(next_offset), 0) FROM detector_state WHERE topic = %s", READINGS) == part1,
        timeout=60, roles=[detector, alerts])
    saved = sql(dsn, "SELECT group_id, topic, partition, next_offset, watermark, state FROM detector_state")
    detector.kill9()
    # Minutes 20-39 arrive while it is dead: the runs cross ten minutes at minute 20, clear at 30.
    publish(bus, episode(t0, range(20, 40)))
    detector = d.start("detectors")
    wait_for("an alert per station, resolved", lambda: scalar(
        dsn, "SELECT count(*) FROM alerts WHERE state = 'resolved'") == len(STATIONS),
        timeout=60, roles=[detector, alerts])
    first_round = len([s for s in signals.read() if s.status == "firing"])
    # Now the worst case: kill -9 after the signals were published but before the state was
    # saved. Put the state back as it was after minute 19: the next process decides every
    # signal again and publishes it a second time.
    detector.kill9()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM detector_state")
        for row in saved:
            conn.execute("INSERT INTO detector_state (group_id, topic, partition, next_offset, watermark, "
                         "state) VALUES (%s, %s, %s, %s, %s, %s)", (*row[:5], Jsonb(row[5])))
    detector = d.start("detectors")
    wait_for("every signal published a second time",
             lambda: len([s for s in signals.read() if s.status == "firing"]) >= first_round + len(STATIONS),
             timeout=60, roles=[detector, alerts])
    wait_for("the alerts service caught up", lambda: scalar(
        dsn, "SELECT coalesce(sum(next_offset), 0) FROM detector_state WHERE topic = %s", READINGS)
        == 40 * len(STATIONS), timeout=30, roles=[detector, alerts])
    d.settle([detector, alerts])  # the alerts role has applied the republished signals
    rows = sql(dsn, "SELECT source_id, started_at, first_seen, resolved_at, count, state FROM alerts "
                    "ORDER BY source_id")
    assert rows == [(s, t0 + timedelta(minutes=10), t0 + timedelta(minutes=20), t0 + timedelta(minutes=30),
                     1, "resolved") for s in sorted(STATIONS)]
    assert scalar(dsn, "SELECT count(*) FROM alert_audit WHERE action = 'raise'") == len(STATIONS)
    firings = [s for s in signals.read() if s.status == "firing"]
    assert len(firings) >= 2 * len(STATIONS)  # the second process did republish them all
    assert {(s.time, s.started_at) for s in firings} == {
        (t0 + timedelta(minutes=20), t0 + timedelta(minutes=10))}
    assert "state restored" in detector.log()
    assert detector.stop() == 0 and alerts.stop() == 0
