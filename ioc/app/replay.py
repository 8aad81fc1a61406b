"""Replay: recorded facts through the rules again, in a namespace of their own, and back-tests.

A replay publishes recorded records in event-time order on a private in-process bus (with the
same fan-out as ingest: each vessel position also to its map cells), runs the detectors on it with
no wall clock (absence is judged on the records' own clocks), and applies their signals to an
alert service on a *replay database*: a database of its own on the same server, so live alerts,
notifications and escalations are never touched and several analysts can replay at once.

A back-test replays the same records under two rule sets and compares the alerts: added, removed
and changed (times, severity), per rule.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from alerts.service import AlertService
from alerts.settings import alert_settings
from detectors.registry import build_detectors
from detectors.runner import DetectorRunner
from ioc.bus.base import Bus
from ioc.bus.memory import MemoryBus
from ioc.cells import CellRouter
from ioc.config import Settings
from ioc.events import AlertSignal, Event, decode
from ioc.feeds import FEEDS
from ioc.store.database import Store, open_store
from ioc.store.detector_state import PostgresSnapshotStore
from ioc.topics import ALERT_SIGNALS, topic_for

REPLAY_DB_PREFIX = "ioc_replay_"
SPEEDS = {"1": 1.0, "10": 10.0, "60": 60.0, "max": None}


@dataclass(frozen=True)
class ReplayedAlert:
    """One alert a replay raised (an episode of a fingerprint)."""

    id: int
    fingerprint: str
    detector: str
    rule: str
    source_id: str
    severity: str
    title: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    title_template: str | None = None  # the title as a catalogue message (domain ``alerts``) and its fields
    title_params: dict[str, Any] | None = None


@dataclass
class ReplayRun:
    """What a replay did."""

    events: int = 0
    signals: int = 0
    alerts: list[ReplayedAlert] = field(default_factory=list)
    wall_s: float = 0.0
    first_time: datetime | None = None
    last_time: datetime | None = None

    @property
    def rate(self) -> float:
        """Records replayed per second of wall time."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0


def wire_copies(record: Event, settings: Any) -> Iterator[tuple[str, str, bytes]]:
    """``(topic, key, value)`` of everything ingest publishes for ``record``: the record, and the
    copies its feed fans out (:attr:`~ioc.feeds.base.FeedSpec.fan_out`)."""
    yield topic_for(record), record.key, record.to_wire()
    for feed in FEEDS:
        if feed.fan_out is not None and type(record) in feed.events:
            yield from feed.fan_out(record, settings)


_ALERTS = """
SELECT id, fingerprint, detector, rule, source_id, severity, title, first_seen, last_seen,
       resolved_at, count, title_template, title_params
FROM alerts ORDER BY first_seen, fingerprint, id
"""


def replayed_alerts(pool: ConnectionPool) -> list[ReplayedAlert]:
    """Every alert in a (replay) store, oldest first."""
    with pool.connection() as conn:
        return [ReplayedAlert(*r) for r in conn.execute(_ALERTS).fetchall()]


def run_replay(records: Iterable[Event], settings: Settings, pool: ConnectionPool, *,
               speed: float | None = None, chunk: int = 2000,
               progress: Callable[[ReplayRun], float | None] | None = None,
               stop: threading.Event | None = None, report_every_s: float = 1.0,
               bus: Bus | None = None) -> ReplayRun:
    """Replay ``records`` (event-time order) through the rules of ``settings`` into the store of ``pool``.

    ``speed``: event seconds per wall second (``None``: as fast as possible). ``progress`` is called
    every ``chunk`` records and at least every ``report_every_s`` of wall time, with the signals so far
    applied; it may return the seconds it held the replay (a pause), which the pacing then leaves out.
    ``bus``: the bus to replay on (default a private in-process one); on one that delivers after it
    accepts (Kafka, in a namespace of the replay's own), each drain waits until the rules have read
    every record published and every signal they raised is applied, so the result does not depend
    on delivery timing.
    """
    stop = stop or threading.Event()
    settle = bus is not None and not isinstance(bus, MemoryBus)
    bus = bus or MemoryBus(partitions=1)  # one ordered stream: no partition runs ahead of another
    # On a bus of partitions (Kafka) the rules run as the distributed mode runs them: detectors of
    # their own per topic-partition, their state in the replay database. One set of detectors over
    # several partitions would take one partition's event time for another's (a lagging partition's
    # vessels judged silent against a partition read ahead of it). At each drain, once all that was
    # published is read, every partition is judged at the replay's watermark (as the embedded
    # mode's one stream is, and as the wall clock does live).
    state = PostgresSnapshotStore(pool, instance="replay") if settle else None
    runner = DetectorRunner(bus, build_detectors(settings), group="replay", use_wall_clock=False,
                            state=state, factory=lambda: build_detectors(settings))
    signals = bus.subscribe([ALERT_SIGNALS], "replay-alerts")
    publisher = bus.publisher()
    now: list[datetime] = [datetime.now(UTC)]
    service = AlertService(pool, alert_settings(settings), clock=lambda: now[0])
    cells = CellRouter(settings.bus.cells)  # one router for the whole replay: it holds cell state
    run = ReplayRun()
    started = time.monotonic()
    held = [0.0]  # wall seconds the replay was held by ``progress`` (left out of pacing and wall time)
    last_report = [started]

    read_by_rules = {*runner.topics, *runner.broadcast_topics}
    fed = [0]  # records published on topics the rules read

    def drain() -> None:
        publisher.flush()
        while settle and runner.events_seen < fed[0]:
            runner.run_once(max_records=5000, timeout=0.2)
        while runner.run_once(max_records=5000, timeout=0.0) > 0:
            pass
        runner.run_once(max_records=5000, timeout=0.0)  # caught up: absence judged at the watermark
        if state is not None:  # every record published is read, and none published later is older:
            runner.judge_at_watermarks()  # every partition is judged at the replay's time, not its own
        while (batch := signals.poll(max_records=5000, timeout=0.2 if settle else 0.0)) or (
                settle and run.signals < runner.signals_published):
            for message in batch:
                signal = decode(message.value)
                assert isinstance(signal, AlertSignal)
                now[0] = signal.time  # processing times of a replay follow its event time
                service.apply(signal)
                run.signals += 1
            signals.commit()

    def report() -> None:
        drain()
        run.wall_s = time.monotonic() - started - held[0]
        if progress is not None:
            held[0] += progress(run) or 0.0
        last_report[0] = time.monotonic()

    try:
        for record in records:
            if stop.is_set():
                break
            if run.first_time is None:
                run.first_time = record.time
            if speed is not None:  # pace by event time
                due = (record.time - run.first_time).total_seconds() / speed
                while not stop.is_set() and (ahead := due - (time.monotonic() - started - held[0])) > 0:
                    if stop.wait(min(ahead, report_every_s)):
                        break
                    if time.monotonic() - last_report[0] >= report_every_s:
                        report()
                if stop.is_set():
                    break
            for topic, key, value in wire_copies(record, cells):
                publisher.publish(topic, key, value)
                fed[0] += topic in read_by_rules
            run.events += 1
            run.last_time = record.time
            if run.events % chunk == 0 or time.monotonic() - last_report[0] >= report_every_s:
                report()
        drain()
    finally:
        runner.close()
        signals.close()
        publisher.close()
    run.wall_s = time.monotonic() - started - held[0]
    run.alerts = replayed_alerts(pool)
    return run


@contextmanager
def replay_database(server_dsn: str, keep: bool = False, want_timescaledb: bool = False,
                    created: Callable[[str], None] | None = None) -> Iterator[Store]:
    """A new, migrated database beside ``server_dsn``'s for one replay (dropped after unless ``keep``);
    ``created`` is told its name as soon as it exists (so another process can drop it if this one dies)."""
    name = f"{REPLAY_DB_PREFIX}{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    params = conninfo_to_dict(server_dsn)
    admin = make_conninfo(**{**params, "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    if created is not None:
        try:
            created(name)
        except BaseException:
            drop_replay_database(server_dsn, name)
            raise
    store = open_store(make_conninfo(**{**params, "dbname": name}), 1, 4, want_timescaledb=want_timescaledb)
    try:
        yield store
    finally:
        store.close()
        if not keep:
            drop_replay_database(server_dsn, name)


def drop_replay_database(server_dsn: str, name: str) -> None:
    """Drop a replay database beside ``server_dsn``'s (one of an abandoned run, say); only names
    :func:`replay_database` makes are accepted."""
    if not re.fullmatch(REPLAY_DB_PREFIX + r"\d{14}_[0-9a-f]{6}", name):
        raise ValueError(f"not a replay database: {name!r}")
    admin = make_conninfo(**{**conninfo_to_dict(server_dsn), "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- back-tests --------------------------------------------------------------------------------

@dataclass
class BacktestDiff:
    """How the alerts of a changed rule set differ from the baseline's."""

    added: list[ReplayedAlert] = field(default_factory=list)
    removed: list[ReplayedAlert] = field(default_factory=list)
    changed: list[tuple[ReplayedAlert, ReplayedAlert]] = field(default_factory=list)
    same: int = 0

    def per_rule(self) -> dict[str, dict[str, int]]:
        """``rule -> {"added": n, "removed": n, "changed": n}``."""
        out: dict[str, dict[str, int]] = {}
        for what, alerts in (("added", self.added), ("removed", self.removed)):
            for a in alerts:
                out.setdefault(a.rule, {"added": 0, "removed": 0, "changed": 0})[what] += 1
        for before, _ in self.changed:
            out.setdefault(before.rule, {"added": 0, "removed": 0, "changed": 0})["changed"] += 1
        return dict(sorted(out.items()))


def _episodes(alerts: list[ReplayedAlert]) -> dict[str, list[ReplayedAlert]]:
    out: dict[str, list[ReplayedAlert]] = {}
    for a in sorted(alerts, key=lambda a: (a.first_seen, a.id)):
        out.setdefault(a.fingerprint, []).append(a)
    return out


def compare(baseline: list[ReplayedAlert], changed: list[ReplayedAlert]) -> BacktestDiff:
    """Match alerts by fingerprint and episode order; what differs in time or severity is changed."""
    diff = BacktestDiff()
    before, after = _episodes(baseline), _episodes(changed)
    for fp in sorted(set(before) | set(after)):
        b, a = before.get(fp, []), after.get(fp, [])
        for old, new in zip(b, a, strict=False):
            if (old.severity, old.first_seen, old.resolved_at) != (
                    new.severity, new.first_seen, new.resolved_at):
                diff.changed.append((old, new))
            else:
                diff.same += 1
        diff.removed += b[len(a):]
        diff.added += a[len(b):]
    return diff


# -- as JSON, for the replay page ---------------------------------------------------------------

def alert_json(a: ReplayedAlert) -> dict[str, Any]:
    """An alert as the replay page reads it back (times as ISO text)."""
    return {"fingerprint": a.fingerprint, "detector": a.detector, "rule": a.rule, "source_id": a.source_id,
            "severity": a.severity, "title": a.title, "first_seen": a.first_seen.isoformat(),
            "last_seen": a.last_seen.isoformat(),
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None, "count": a.count,
            "title_template": a.title_template, "title_params": a.title_params}


def diff_json(diff: BacktestDiff) -> dict[str, Any]:
    """A back-test's difference: counts per rule and the alerts behind each."""
    return {"per_rule": diff.per_rule(), "same": diff.same,
            "added": [alert_json(a) for a in diff.added], "removed": [alert_json(a) for a in diff.removed],
            "changed": [{"before": alert_json(old), "after": alert_json(new)} for old, new in diff.changed]}
