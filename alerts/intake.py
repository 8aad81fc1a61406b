"""Signal intake: detector signals become stored alerts, deduplicated, damped and grouped.

:meth:`SignalIntake.apply_many`: a ``firing`` signal raises an alert, or,
when one with the same fingerprint is still active, updates its count and
last-seen time (never a second alert). A ``resolved`` signal resolves it.
Redelivered signals (same event time) change nothing, so the bus's
at-least-once delivery does not inflate counts. Noise control:

- an alert that fires again within ``flapping_minutes`` (event time) of
  resolving is *reopened*, not raised a second time;
- the flapping damper: an alert reopened that way ``flapping_reopens``
  times within ``flapping_minutes`` is *flapping*; a resolved signal then
  holds it open (``resolved_at`` keeps the time its condition cleared, no
  transition, no audit row) and a re-firing just counts. It resolves once its
  condition has stayed clear for ``flapping_minutes``: at the next signal of
  its fingerprint or at :meth:`SignalIntake.settle_flapping` (run with the
  escalation job). So a fingerprint writes a bounded number of audit rows and
  notifications per window, whatever its rule;
- a new alert joins the incident of its detector and area when that
  incident saw an alert within ``grouping_minutes``, else starts one;
- a signal matching an active silence is still stored (state
  ``silenced``, with the silence that holds it), so nothing is lost, but
  nobody is notified and nothing escalates until the silence ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.ledger import Clock, announce, utcnow, write_audit
from alerts.lifecycle import SYSTEM_ACTOR
from alerts.models import ALERT_COLUMNS, Alert, AlertChange
from alerts.settings import AlertSettings
from alerts.wording import noted
from ioc.events import AlertSignal
from ioc.records import UnstorableValue

_REPEAT = """
UPDATE alerts SET count = count + 1, last_seen = %(t)s, severity = %(severity)s, title = %(title)s,
    title_template = %(title_template)s, title_params = %(title_params)s,
    details = %(details)s, resolved_at = NULL, updated_at = now()
WHERE id = %(id)s AND last_seen < %(t)s
"""

_LATE = """
SELECT 1 FROM alerts WHERE fingerprint = %(fp)s AND state = 'resolved'
  AND resolved_at >= %(t)s AND first_seen <= %(t)s LIMIT 1
"""

_LAST_RESOLVED = """
SELECT id, resolved_at FROM alerts WHERE fingerprint = %(fp)s AND state = 'resolved'
ORDER BY resolved_at DESC NULLS LAST, id DESC LIMIT 1
"""

_MATCHING_SILENCE = """
SELECT id, ends_at, reason FROM silences
WHERE expired_at IS NULL AND starts_at <= %(now)s AND ends_at > %(now)s
  AND (detector IS NULL OR detector = %(detector)s)
  AND (source_id IS NULL OR source_id = %(source)s)
  AND (area IS NULL OR area = %(area)s)
  AND (severity IS NULL OR severity = %(severity)s)
  AND (fingerprint IS NULL OR fingerprint = %(fp)s)
ORDER BY ends_at DESC, id LIMIT 1
"""

_INSERT = f"""
INSERT INTO alerts (fingerprint, detector, rule, source_id, area, severity, title, state, started_at,
                    first_seen, last_seen, details, incident_id, opened_at, silence_id, silenced_until,
                    created_at, title_template, title_params)
VALUES (%(fp)s, %(detector)s, %(rule)s, %(source)s, %(area)s, %(severity)s, %(title)s, %(state)s,
        %(started)s, %(t)s, %(t)s, %(details)s, %(incident)s, %(now)s, %(silence)s, %(until)s, %(now)s,
        %(title_template)s, %(title_params)s)
RETURNING {ALERT_COLUMNS}
"""

_FLAP_REOPEN = f"""
UPDATE alerts SET state = %(state)s, resolved_at = NULL, closed_at = NULL, resolved_by = NULL,
    acknowledged_at = NULL, acknowledged_by = NULL, count = count + 1, last_seen = %(t)s,
    severity = %(severity)s, title = %(title)s, details = %(details)s, opened_at = %(now)s,
    title_template = %(title_template)s, title_params = %(title_params)s,
    reopened_count = reopened_count + 1, silence_id = %(silence)s, silenced_until = %(until)s,
    version = version + 1, updated_at = now()
WHERE id = %(id)s
RETURNING {ALERT_COLUMNS}
"""

_FLAPS = """
SELECT count(*) FROM alert_audit WHERE alert_id = %s AND action = 'reopen' AND actor = 'system'
  AND (details->>'event_time')::timestamptz >= %s
"""

_HOLD = """
UPDATE alerts SET resolved_at = %(t)s, last_seen = greatest(last_seen, %(t)s), updated_at = now()
WHERE id = %(id)s
"""

_SETTLED = """
SELECT id, state, resolved_at FROM alerts
WHERE state <> 'resolved' AND resolved_at IS NOT NULL AND resolved_at < %s FOR UPDATE SKIP LOCKED
"""

_SIGNAL_RESOLVE = """
UPDATE alerts SET state = 'resolved', resolved_at = %(t)s, last_seen = greatest(last_seen, %(t)s),
    closed_at = %(now)s, resolved_by = 'system', silenced_until = NULL, version = version + 1,
    updated_at = now()
WHERE id = %(id)s
"""


def _json(value: dict[str, Any]) -> str:
    """``value`` as ``jsonb`` takes it; NaN and Infinity are no JSON: the signal's fault, not a wait's."""
    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError as exc:
        raise UnstorableValue(f"not storable as JSON: {exc}") from None


def _params(s: AlertSignal, now: datetime) -> dict[str, Any]:
    return {
        "fp": s.fingerprint,
        "detector": s.detector,
        "rule": s.rule,
        "source": s.source_id,
        "area": s.area,
        "severity": s.severity,
        "title": s.title,
        "title_template": s.title_template,
        "title_params": _json(s.title_params),
        "started": s.started_at or s.time,
        "t": s.time,
        "details": _json(s.details),
        "now": now,
    }


class SignalIntake:
    """Applies detector signals to the alerts table, one transaction per batch."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock

    def apply(self, signal: AlertSignal) -> AlertChange:
        """Apply one detector signal in its own transaction."""
        return self.apply_many([signal])[0]

    def apply_many(self, signals: Sequence[AlertSignal]) -> list[AlertChange]:
        """Apply signals in order, in one transaction."""
        changes: list[AlertChange] = []
        now = self.clock()
        window = timedelta(minutes=self.settings.flapping_minutes)
        with self.pool.connection() as conn, conn.transaction():
            for s in signals:
                p = _params(s, now)
                active = conn.execute(
                    "SELECT id, state, first_seen, resolved_at FROM alerts WHERE fingerprint = %s "
                    "AND state <> 'resolved' FOR UPDATE",
                    (s.fingerprint,),
                ).fetchone()
                if active is not None and active[3] is not None and s.time - active[3] > window:
                    self._settle(conn, active[0], active[1], active[3], now)  # held, and clear since
                    active = None
                if s.status == "firing":
                    changes.append(self._fire(conn, s, p, active))
                elif active is not None and active[2] <= s.time and self._flapping(conn, active[0], s.time):
                    conn.execute(_HOLD, {"t": s.time, "id": active[0]})
                    changes.append(AlertChange("held", active[0]))
                elif active is not None and active[2] <= s.time:
                    conn.execute(_SIGNAL_RESOLVE, {**p, "id": active[0]})
                    note, said = noted("condition cleared")
                    write_audit(conn, active[0], now, SYSTEM_ACTOR, "resolve", active[1], "resolved", note,
                                said)
                    changes.append(AlertChange("resolved", active[0]))
                else:
                    changes.append(AlertChange("ignored", None))
        return changes

    def _flapping(self, conn: psycopg.Connection, alert_id: int, t: datetime) -> bool:
        """Reopened by re-firing ``flapping_reopens`` times within ``flapping_minutes`` before ``t``."""
        window = timedelta(minutes=self.settings.flapping_minutes)
        if not window:
            return False
        row = conn.execute(_FLAPS, (alert_id, t - window)).fetchone()
        return row is not None and int(row[0]) >= self.settings.flapping_reopens

    def _settle(
        self, conn: psycopg.Connection, alert_id: int, state: str, cleared: datetime, now: datetime
    ) -> None:
        """A flapping alert held open whose condition stayed clear for the window resolves."""
        conn.execute(_SIGNAL_RESOLVE, {"t": cleared, "now": now, "id": alert_id})
        note, said = noted("condition clear since {time} UTC: flapping settled", time=f"{cleared:%H:%M:%S}")
        write_audit(conn, alert_id, now, SYSTEM_ACTOR, "resolve", state, "resolved", note, said)

    def settle_flapping(self) -> int:
        """Resolve flapping alerts held open whose condition has been clear for the window (by the
        clock: in live running, event time); returns how many. The escalation job runs it."""
        now = self.clock()
        cutoff = now - timedelta(minutes=self.settings.flapping_minutes)
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(_SETTLED, (cutoff,)).fetchall()
            for alert_id, state, cleared in rows:
                self._settle(conn, alert_id, state, cleared, now)
        return len(rows)

    def _fire(
        self,
        conn: psycopg.Connection,
        s: AlertSignal,
        p: dict[str, Any],
        active: tuple[int, str, datetime] | None,
    ) -> AlertChange:
        now = p["now"]
        if active is not None:
            conn.execute(_REPEAT, {**p, "id": active[0]})
            return AlertChange("repeated", active[0])
        if conn.execute(_LATE, p).fetchone() is not None:  # a late repeat of an episode already closed
            return AlertChange("ignored", None)
        silence = conn.execute(_MATCHING_SILENCE, p).fetchone()
        state = "silenced" if silence else "open"
        sp = {"silence": silence[0] if silence else None, "until": silence[1] if silence else None}
        last = conn.execute(_LAST_RESOLVED, p).fetchone()
        window = timedelta(minutes=self.settings.flapping_minutes)
        if last is not None and last[1] is not None and window and s.time - last[1] <= window:
            row = conn.execute(
                _FLAP_REOPEN, {**p, **sp, "id": last[0], "state": state if silence else "reopened"}
            ).fetchone()
            alert = Alert(*row)  # type: ignore[misc]
            gap = max(0.0, (s.time - last[1]).total_seconds() / 60)
            again = "fired again {minutes} min after it resolved (flapping): reopened, not raised anew"
            if silence:
                note, said = noted(again + "; silenced by silence #{silence} ({reason})", minutes=round(gap),
                                   silence=silence[0], reason=silence[2])
            else:
                note, said = noted(again, minutes=round(gap))
            write_audit(
                conn,
                alert.id,
                now,
                SYSTEM_ACTOR,
                "reopen",
                "resolved",
                alert.state,
                note,
                {"event_time": s.time.isoformat(), **said},
            )
            if alert.incident_id is not None:
                conn.execute(
                    "UPDATE incidents SET last_at = greatest(last_at, %s) WHERE id = %s",
                    (s.time, alert.incident_id),
                )
            announce(conn, self.settings, alert, silence, "reopened", self.clock)
            return AlertChange("silenced" if silence else "reopened", alert.id)
        incident = self._incident_for(conn, s)
        row = conn.execute(_INSERT, {**p, **sp, "state": state, "incident": incident}).fetchone()
        alert = Alert(*row)  # type: ignore[misc]
        if silence:  # the title is said in each reader's language (dashboards/console/details.py)
            note, said = noted("{title} — silenced by silence #{silence} ({reason})", title=s.title,
                               silence=silence[0], reason=silence[2])
        else:
            note, said = s.title, {}
        write_audit(conn, alert.id, now, SYSTEM_ACTOR, "raise", None, state, note, said)
        announce(conn, self.settings, alert, silence, "raised", self.clock)
        return AlertChange("silenced" if silence else "raised", alert.id)

    def _incident_for(self, conn: psycopg.Connection, s: AlertSignal) -> int:
        """The incident a new alert joins: same detector and area, active within the grouping window."""
        key = f"{s.detector}|{s.area or s.source_id}"
        window = timedelta(minutes=self.settings.grouping_minutes)
        row = conn.execute(
            "SELECT id FROM incidents WHERE group_key = %s AND last_at >= %s AND first_at <= %s "
            "ORDER BY last_at DESC LIMIT 1",
            (key, s.time - window, s.time + window),
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE incidents SET last_at = greatest(last_at, %s), first_at = least(first_at, %s), "
                "alerts = alerts + 1 WHERE id = %s",
                (s.time, s.time, row[0]),
            )
            return int(row[0])
        row = conn.execute(
            "INSERT INTO incidents (group_key, detector, area, first_at, last_at, alerts) "
            "VALUES (%s, %s, %s, %s, %s, 1) RETURNING id",
            (key, s.detector, s.area, s.time, s.time),
        ).fetchone()
        return int(row[0])  # type: ignore[index]
