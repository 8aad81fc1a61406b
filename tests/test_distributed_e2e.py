"""Distributed mode end to end: real Kafka (tansu), real TimescaleDB, every role its own process.

100,000 environment readings and 10,000 vessel positions are produced through
Kafka while two ``ioc run sink`` processes, one ``ioc run detectors`` and one
``ioc run alerts`` consume them. Every record must be stored exactly once and
every expected alert raised exactly once.

The helpers at the top (:class:`Deployment`, :class:`Role`, :func:`wait_for`,
...) are shared by the other distributed-mode tests (crash recovery, database
outage, detector state, poison records).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ioc.bus.kafka import KafkaBus
from ioc.config import BusSettings
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.vessels.records import VesselPosition
from ioc.topics import TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]

ROOT = Path(__file__).resolve().parents[1]
READINGS = TOPIC_BY_KIND["environment.reading"]
POSITIONS = TOPIC_BY_KIND["vessel.position"]
PARTITIONS = 4
#: Short group timeouts: a member that died is noticed in ~3 s, a join takes ~1.5 s on tansu.
CONSUMER_OPTIONS = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500}

# ----------------------------------------------------------------------------- shared helpers


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.2,
             roles: Sequence[Role] = ()) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` (and role logs) on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        for role in roles:
            if role.proc.poll() is not None:
                pytest.fail(f"{role.name} exited with {role.proc.returncode} while waiting for {what}:\n"
                            f"{role.log_tail()}")
        time.sleep(every)
    tails = "\n".join(f"--- {r.name}\n{r.log_tail()}" for r in roles)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})\n{tails}")


def sql(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(query, params or None).fetchall()  # type: ignore[arg-type]


def scalar(dsn: str, query: str, *params: Any) -> Any:
    return sql(dsn, query, *params)[0][0]


def write_config(path: Path, thresholds: Sequence[dict[str, Any]] = (),
                 stale: Sequence[dict[str, Any]] = ()) -> Path:
    """A TOML settings file with the given rules and no feeds."""
    def table(name: str, rule: dict[str, Any]) -> str:
        lines = [f"[[rules.{name}]]"]
        for k, v in rule.items():
            lines.append(f"{k} = {json.dumps(v)}")
        return "\n".join(lines)

    body = ['city = "Testville"', 'timezone = "UTC"', "[rules]", "stale_check_seconds = 1.0"]
    body += [table("thresholds", r) for r in thresholds]
    body += [table("stale", r) for r in stale]
    path.write_text("\n\n".join(body) + "\n")
    return path


@dataclass
class Role:
    """One ``ioc run ROLE`` process started by a test (stopped by its PID only)."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log()[-chars:]

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait; a role that does not stop is asked for its threads' stacks (SIGUSR1,
        printed with the test's output), then killed."""
        if self.alive:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.dump_stacks()
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def dump_stacks(self, timeout: float = 10) -> str:
        """Where every thread of the running role is (``ioc`` answers SIGUSR1 with faulthandler)."""
        before = len(self.log())
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        dump, seen = "", -1
        while time.monotonic() < deadline and ("most recent call first" not in dump or len(dump) != seen):
            seen, dump = len(dump), self.log()[before:]  # written thread by thread: until it stops growing
            time.sleep(0.2)
        print(f"--- {self.name} did not stop; its threads:\n{dump}")
        return dump


@dataclass
class Deployment:
    """What the role processes of one test share: broker, namespace, database, settings file."""

    bootstrap: str
    dsn: str
    config: Path
    logs: Path
    namespace: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    roles: list[Role] = field(default_factory=list)
    _count: int = 0

    def env(self, dsn: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        env.update({
            "IOC_CONFIG": str(self.config),
            "IOC_BUS__KIND": "kafka",
            "IOC_BUS__BOOTSTRAP_SERVERS": self.bootstrap,
            "IOC_BUS__NAMESPACE": self.namespace,
            "IOC_BUS__PARTITIONS": str(PARTITIONS),
            "IOC_BUS__CONSUMER_OPTIONS": json.dumps(CONSUMER_OPTIONS),
            "IOC_DATABASE__DSN": dsn or self.dsn,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self, role: str, dsn: str | None = None, name: str | None = None) -> Role:
        self._count += 1
        name = name or f"{role}-{self._count}"
        log_path = self.logs / f"{name}.log"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "ioc.app.cli", "run", role],
                                    env=self.env(dsn), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        started = Role(name, proc, log_path)
        self.roles.append(started)
        return started

    def bus(self) -> KafkaBus:
        return kafka_bus(self.bootstrap, self.namespace)

    def settle(self, roles: Sequence[Role] = (), timeout: float = 60) -> None:
        """Wait until the roles' consumer groups have committed everything published (see
        :func:`kafka_broker.settled`): past this, a late duplicate or second alert would have shown."""
        from kafka_broker import settled

        wait_for("every consumer group caught up", lambda: settled(self.bootstrap, self.namespace),
                 timeout=timeout, every=0.5, roles=roles)

    def stop_all(self) -> None:
        for role in self.roles:
            if role.alive:
                role.kill9()


def kafka_bus(bootstrap: str, namespace: str, consumer_options: dict[str, Any] | None = None) -> KafkaBus:
    settings = BusSettings(kind="kafka", bootstrap_servers=bootstrap, partitions=PARTITIONS,
                           namespace=namespace)
    return KafkaBus(settings, client_id="test", consumer_options=consumer_options or CONSUMER_OPTIONS)


@pytest.fixture
def deployment_factory(kafka_broker: str, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Makes :class:`Deployment` objects; kills (by PID) every role process they started."""
    made: list[Deployment] = []

    def make(dsn: str, config: Path) -> Deployment:
        logs = tmp_path / f"logs{len(made)}"
        logs.mkdir()
        d = Deployment(kafka_broker, dsn, config, logs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop_all()


def migrate(dsn: str, timescaledb: bool = True) -> None:
    """Create the schema before role processes start (they would too, under a lock)."""
    from ioc.store.database import open_store

    open_store(dsn, pool_max=1, want_timescaledb=timescaledb).close()


def publish(bus: KafkaBus, events: Sequence[Any], chunk: int = 20_000) -> None:
    pub = bus.publisher()
    try:
        for i in range(0, len(events), chunk):
            for e in events[i:i + chunk]:
                pub.publish(TOPIC_BY_KIND[e.kind], e.key, e.to_wire())
            pub.flush(60)
    finally:
        pub.close()


def stored(dsn: str, table: str, key: str) -> tuple[int, int]:
    """(rows, distinct natural keys) of a table."""
    row = sql(dsn, f"SELECT count(*), count(DISTINCT ({key})) FROM {table}")[0]
    return int(row[0]), int(row[1])


class SteadyProducer(threading.Thread):
    """Publishes readings in chunks at about ``rate`` per second until stopped; counts them.

    Reading ``i`` is station ``i % stations`` at step ``i // stations`` (``step`` apart in
    event time from ``t0``), valued ``value(station, step)``.
    """

    def __init__(self, d: Deployment, rate: int = 4000, chunk: int = 1000, stations: int = 300,
                 step: timedelta = timedelta(seconds=1), t0: datetime | None = None,
                 value: Callable[[int, int], float] = lambda station, step: float((station + step) % 97),
                 ) -> None:
        super().__init__(daemon=True)
        self.bus = d.bus()
        self.rate, self.chunk, self.stations, self.step, self.value = rate, chunk, stations, step, value
        self.t0 = t0 or datetime(2026, 6, 1, tzinfo=UTC)
        self.sent = 0
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def reading(self, i: int) -> EnvironmentReading:
        station, step = i % self.stations, i // self.stations
        return EnvironmentReading(time=self.t0 + step * self.step, source_id=f"hue-aq-{station:03d}",
                                  metric="pm25", value=self.value(station, step))

    def run(self) -> None:
        pub = self.bus.publisher()
        try:
            start = time.monotonic()
            while not self.halt.is_set():
                for i in range(self.sent, self.sent + self.chunk):
                    r = self.reading(i)
                    pub.publish(READINGS, r.key, r.to_wire())
                pub.flush(60)
                self.sent += self.chunk
                ahead = self.sent / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    self.halt.wait(ahead)
        except BaseException as exc:  # pragma: no cover - reported by the test
            self.error = exc
        finally:
            pub.close()


# ----------------------------------------------------------------------------- the data

STATIONS = 500
MINUTES = 200  # 500 stations x 200 minutes = 100,000 readings
VESSELS = 100
FIXES = 100  # 100 vessels x 100 positions = 10,000
#: Every 10th station breaches twice: high from minute 60 to 89 and from 130 to 149.
EPISODES = ((60, 90), (130, 150))
RULE = {"name": "pm25-high", "metric": "pm25", "above": 100.0, "for_minutes": 10.0,
        "clear_margin": 10.0, "severity": "warning"}


def alarm_station(s: int) -> bool:
    return s % 10 == 0


def pm25(s: int, minute: int) -> float:
    if alarm_station(s) and any(lo <= minute < hi for lo, hi in EPISODES):
        return 150.0 + s % 5
    return 20.0 + (s * 7 + minute) % 30


def readings(t0: datetime) -> list[EnvironmentReading]:
    return [EnvironmentReading(time=t0 + timedelta(minutes=m), source_id=f"hue-aq-{s:03d}", metric="pm25",
                               value=pm25(s, m), unit="µg/m³")
            for m in range(MINUTES) for s in range(STATIONS)]


def positions(t0: datetime) -> list[VesselPosition]:
    return [VesselPosition(time=t0 + timedelta(minutes=m), source_id=str(574_000_000 + v),
                           mmsi=574_000_000 + v, lat=16.5 + v * 0.001 + m * 0.0001, lon=107.6 + v * 0.001,
                           sog=5.0, cog=90.0)
            for m in range(FIXES) for v in range(VESSELS)]


def test_two_sinks_and_a_detector_store_everything_once_and_raise_each_alert_once(
        deployment_factory: Callable[..., Deployment], pg_timescale: Any, tmp_path: Path) -> None:
    from conftest import migrated_database

    dsn = migrated_database(pg_timescale, timescaledb=True)
    migrate(dsn)
    d = deployment_factory(dsn, write_config(tmp_path / "ioc.toml", thresholds=[RULE]))
    sinks = [d.start("sink"), d.start("sink")]
    detector, alerts = d.start("detectors"), d.start("alerts")
    roles = [*sinks, detector, alerts]
    t0 = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
    data = readings(t0)
    vessels = positions(t0)
    # Interleave as live feeds would: both kinds, in event-time order.
    step = len(data) // len(vessels)
    mixed: list[Any] = []
    for i, v in enumerate(vessels):
        mixed.extend(data[i * step:(i + 1) * step])
        mixed.append(v)
    mixed.extend(data[len(vessels) * step:])
    started = time.monotonic()
    publish(d.bus(), mixed)
    produced_s = time.monotonic() - started

    expected_alerts = (STATIONS // 10) * len(EPISODES)
    wait_for("every record stored and every alert raised and resolved", lambda: (
        scalar(dsn, "SELECT count(*) FROM readings") >= len(data)
        and scalar(dsn, "SELECT count(*) FROM vessel_positions") >= len(vessels)
        and scalar(dsn, "SELECT count(*) FROM alerts WHERE state = 'resolved'") >= expected_alerts),
        timeout=150, every=0.5, roles=roles)
    elapsed = time.monotonic() - started
    d.settle(roles)  # anything late (a duplicate, a second alert) would show now

    assert stored(dsn, "readings", "station_id, metric, time") == (len(data), len(data))
    assert stored(dsn, "vessel_positions", "mmsi, time") == (len(vessels), len(vessels))
    counts = dict(sql(dsn, "SELECT kind, n FROM stored_counts"))
    assert counts["environment.reading"] == len(data) and counts["vessel.position"] == len(vessels)
    assert scalar(dsn, "SELECT count(*) FROM dead_letters") == 0

    rows = sql(dsn, "SELECT fingerprint, started_at, count, state FROM alerts "
                    "ORDER BY fingerprint, started_at")
    expected = sorted((f"threshold:pm25-high:hue-aq-{s:03d}", t0 + timedelta(minutes=lo), 1, "resolved")
                      for s in range(STATIONS) if alarm_station(s) for lo, _ in EPISODES)
    assert rows == expected
    assert scalar(dsn, "SELECT count(*) FROM alert_audit WHERE action = 'raise'") == expected_alerts

    # The detector's per-partition snapshots cover every reading it judged.
    assert scalar(dsn, "SELECT sum(next_offset) FROM detector_state WHERE topic = %s", READINGS) == len(data)
    # Both sinks took part (each reports the records it stored in its heartbeat).
    def sinks_that_stored() -> list[tuple[Any, ...]] | None:
        rows = sql(dsn, "SELECT instance, (details->>'records')::int FROM role_health "
                        "WHERE role = 'sink' AND (details->>'records')::int > 0")
        return rows if len(rows) == 2 else None

    beats = wait_for("both sinks' heartbeats", sinks_that_stored, timeout=15, roles=roles)
    assert len(beats) == 2
    assert all(r.alive for r in roles)
    print(f"\nproduced {len(mixed)} records in {produced_s:.1f} s; all stored and "
          f"{expected_alerts} alerts resolved {elapsed:.1f} s after the first was produced")
    for r in roles:
        assert r.stop() == 0, r.log_tail()
