"""The alerts service: alert signals become stored alerts, deduplicated by fingerprint.

A ``firing`` signal raises an alert, or, when an alert with the same
fingerprint is still active, updates its count and last-seen time (never a
second alert). A ``resolved`` signal resolves the active alert. Every change
of state writes an audit row. Redelivered signals (same event time) change
nothing, so the bus's at-least-once delivery does not inflate counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from psycopg_pool import ConnectionPool

from ioc.bus.base import Bus, Message
from ioc.bus.loop import BatchConsumer
from ioc.events import AlertSignal, EventDecodeError, decode
from ioc.store.writer import DeadLetter, StoreWriter
from ioc.topics import ALERT_SIGNALS

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class AlertChange:
    """What one signal did to the store."""

    action: Literal["raised", "repeated", "resolved", "ignored"]
    alert_id: int | None


_RAISE = """
INSERT INTO alerts AS a (fingerprint, detector, rule, source_id, area, severity, title,
                         started_at, first_seen, last_seen, details)
SELECT %(fp)s, %(detector)s, %(rule)s, %(source)s, %(area)s, %(severity)s, %(title)s,
       %(started)s, %(t)s, %(t)s, %(details)s
WHERE NOT EXISTS (
    SELECT 1 FROM alerts r WHERE r.fingerprint = %(fp)s AND r.state = 'resolved'
      AND r.resolved_at >= %(t)s AND r.first_seen <= %(t)s)
ON CONFLICT (fingerprint) WHERE state <> 'resolved' DO UPDATE
SET count = a.count + (excluded.last_seen > a.last_seen)::int,
    last_seen = greatest(a.last_seen, excluded.last_seen),
    severity = excluded.severity, title = excluded.title, details = excluded.details,
    updated_at = now()
RETURNING id, (xmax = 0) AS inserted
"""

_RESOLVE = """
WITH old AS (
    SELECT id, state FROM alerts
    WHERE fingerprint = %(fp)s AND state <> 'resolved' AND first_seen <= %(t)s
    FOR UPDATE
)
UPDATE alerts a SET state = 'resolved', resolved_at = %(t)s,
    last_seen = greatest(a.last_seen, %(t)s), version = a.version + 1, updated_at = now()
FROM old WHERE a.id = old.id
RETURNING a.id, old.state
"""

_AUDIT = """
INSERT INTO alert_audit (alert_id, actor, action, from_state, to_state, note)
VALUES (%s, %s, %s, %s, %s, %s)
"""


class AlertService:
    """Owns the alerts table: raising, deduplicating and resolving from signals."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def apply(self, signal: AlertSignal) -> AlertChange:
        """Apply one detector signal in its own transaction."""
        return self.apply_many([signal])[0]

    def apply_many(self, signals: Sequence[AlertSignal]) -> list[AlertChange]:
        """Apply signals in order, in one transaction."""
        changes: list[AlertChange] = []
        with self.pool.connection() as conn, conn.transaction():
            for s in signals:
                params = {
                    "fp": s.fingerprint, "detector": s.detector, "rule": s.rule,
                    "source": s.source_id, "area": s.area, "severity": s.severity,
                    "title": s.title, "started": s.started_at or s.time, "t": s.time,
                    "details": json.dumps(s.details, default=str),
                }
                if s.status == "firing":
                    row = conn.execute(_RAISE, params).fetchone()
                    if row is None:
                        changes.append(AlertChange("ignored", None))
                    elif row[1]:
                        conn.execute(_AUDIT, (row[0], SYSTEM_ACTOR, "raise", None, "open", s.title))
                        changes.append(AlertChange("raised", row[0]))
                    else:
                        changes.append(AlertChange("repeated", row[0]))
                else:
                    row = conn.execute(_RESOLVE, params).fetchone()
                    if row is None:
                        changes.append(AlertChange("ignored", None))
                    else:
                        conn.execute(_AUDIT, (row[0], SYSTEM_ACTOR, "resolve", row[1], "resolved",
                                              "condition cleared"))
                        changes.append(AlertChange("resolved", row[0]))
        return changes


class AlertSignalConsumer:
    """Reads ``ioc.alerts.signals`` and applies each signal; commits after the store write."""

    def __init__(self, bus: Bus, service: AlertService, writer: StoreWriter,
                 group: str = "alerts") -> None:
        self.service = service
        self.writer = writer
        self.consumer = BatchConsumer("alerts", bus.subscribe([ALERT_SIGNALS], group), self.handle,
                                      batch_size=500)
        self.health = self.consumer.health
        self.health.extra.update(raised=0, resolved=0, undecodable=0)

    def handle(self, batch: Sequence[Message]) -> None:
        signals: list[AlertSignal] = []
        dead: list[DeadLetter] = []
        for message in batch:
            try:
                event = decode(message.value)
                if not isinstance(event, AlertSignal):
                    raise EventDecodeError(f"expected an alert signal, got {event.kind!r}")  # type: ignore[attr-defined]
            except EventDecodeError as exc:
                dead.append(DeadLetter.for_message(message, "alerts", str(exc)))
                continue
            signals.append(event)
        if dead:
            self.health.extra["undecodable"] += self.writer.write_dead_letters(dead)
        for change in self.service.apply_many(signals):
            if change.action in ("raised", "resolved"):
                self.health.extra[change.action] += 1

    def run(self, stop) -> None:  # noqa: ANN001 - threading.Event
        self.consumer.run(stop)
