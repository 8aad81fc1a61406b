"""The alerts service: alert signals become stored alerts; people move them through their lifecycle.

From detectors (:meth:`AlertService.apply_many`): a ``firing`` signal raises
an alert, or, when one with the same fingerprint is still active, updates
its count and last-seen time (never a second alert). A ``resolved`` signal
resolves it. Redelivered signals (same event time) change nothing, so the
bus's at-least-once delivery does not inflate counts. Noise control:

- an alert that fires again within ``flapping_minutes`` (event time) of
  resolving is *reopened*, not raised a second time;
- the flapping damper: an alert reopened that way ``flapping_reopens``
  times within ``flapping_minutes`` is *flapping*; a resolved signal then
  holds it open (``resolved_at`` keeps the time its condition cleared, no
  transition, no audit row) and a re-firing just counts. It resolves once its
  condition has stayed clear for ``flapping_minutes``: at the next signal of
  its fingerprint or at :meth:`AlertService.settle_flapping` (run with the
  escalation job). So a fingerprint writes a bounded number of audit rows and
  notifications per window, whatever its rule;
- a new alert joins the incident of its detector and area when that
  incident saw an alert within ``grouping_minutes``, else starts one;
- a signal matching an active silence is still stored (state
  ``silenced``, with the silence that holds it), so nothing is lost, but
  nobody is notified and nothing escalates until the silence ends.

From people (:meth:`acknowledge`, :meth:`assign`, :meth:`resolve`,
:meth:`silence`, :meth:`unsilence`, :meth:`reopen`, :meth:`comment`): each
checks the actor's role and the alert's state (:mod:`alerts.lifecycle`),
then compares-and-sets the alert's ``version`` so that of two officers
acting at once one wins and the other gets a :class:`StaleAlertError`
naming who was first. Every change writes an audit row (who, when, from
which state, note). Time comes from ``clock`` so tests can control it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from alerts import lifecycle as lc
from alerts.lifecycle import (
    SYSTEM_ACTOR,
    Actor,
    AlertError,
    AlertNotFound,
    NotAllowed,
    StaleAlertError,
    TransitionRefused,
)
from alerts.links import data_link, feed_of
from alerts.notify import enqueue, redact_urls
from alerts.settings import AlertSettings
from ioc.bus.base import Bus, Message
from ioc.bus.loop import BatchConsumer
from ioc.events import AlertSignal, EventDecodeError, decode
from ioc.store.writer import DeadLetter, StoreWriter
from ioc.topics import ALERT_SIGNALS

log = logging.getLogger(__name__)

__all__ = [
    "Actor",
    "Alert",
    "AlertChange",
    "AlertError",
    "AlertFilter",
    "AlertNotFound",
    "AlertService",
    "AlertSignalConsumer",
    "AuditEntry",
    "NoteRequired",
    "NotAllowed",
    "ShiftFigures",
    "Silence",
    "StaleAlertError",
    "TransitionRefused",
    "SYSTEM_ACTOR",
]

Clock = Callable[[], datetime]
ChangeAction = Literal["raised", "repeated", "resolved", "ignored", "reopened", "silenced", "held"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class NoteRequired(AlertError):
    """This action needs a note (resolve, silence): the next shift must know why."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class AlertChange:
    """What one signal did to the store."""

    action: ChangeAction
    alert_id: int | None


@dataclass(frozen=True)
class Alert:
    """An alert with everything the console shows and the lifecycle needs."""

    id: int
    fingerprint: str
    detector: str
    rule: str
    source_id: str
    area: str | None
    severity: str
    title: str
    state: str
    started_at: datetime
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    details: dict[str, Any]
    version: int
    incident_id: int | None
    assignee: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    silence_id: int | None
    silenced_until: datetime | None
    reopened_count: int

    @property
    def active(self) -> bool:
        return self.state != "resolved"

    @property
    def feed(self) -> str:
        return feed_of(self.detector, self.details)

    @property
    def link(self) -> tuple[str, str] | None:
        """(label, URL) of the data that raised it: the chart, the vessel, the camera frame."""
        return data_link(self.detector, self.source_id, self.details, self.last_seen)

    def summary(self) -> dict[str, Any]:
        """The alert as the JSON of a notification."""
        link = self.link
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "state": self.state,
            "detector": self.detector,
            "rule": self.rule,
            "source_id": self.source_id,
            "area": self.area,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "feed": self.feed,
            "link": link[1] if link else None,
            "incident_id": self.incident_id,
        }


ALERT_COLUMNS = ", ".join(f.name for f in Alert.__dataclass_fields__.values())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditEntry:
    """One row of an alert's history."""

    id: int
    alert_id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class Silence:
    """Suppresses raising for alerts matching every matcher that is set, from ``starts_at`` to ``ends_at``."""

    id: int
    detector: str | None
    source_id: str | None
    area: str | None
    severity: str | None
    fingerprint: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None
    matched: int

    def active(self, now: datetime) -> bool:
        return self.expired_at is None and self.starts_at <= now < self.ends_at

    def describe(self) -> str:
        """``detector=threshold, source=hue-air-1`` (the matchers that are set)."""
        parts = [
            f"{k}={v}"
            for k, v in (
                ("detector", self.detector),
                ("source", self.source_id),
                ("area", self.area),
                ("severity", self.severity),
                ("fingerprint", self.fingerprint),
            )
            if v
        ]
        return ", ".join(parts)


SILENCE_COLUMNS = ", ".join(Silence.__dataclass_fields__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AlertFilter:
    """What the console asks for; empty means any."""

    feeds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    since: datetime | None = None  # last seen at or after
    limit: int = 500


@dataclass(frozen=True)
class ShiftFigures:
    """The current shift on one line: what is open, and how fast the shift answers."""

    shift_start: datetime
    shift_end: datetime
    open_by_severity: dict[str, int]
    unacknowledged: int
    raised: int
    acknowledged: int
    mean_time_to_acknowledge: timedelta | None
    resolved: int
    mean_time_to_resolve: timedelta | None
    notifications_failed: int
    silences_active: int


# --------------------------------------------------------------------------- SQL

_SELECT_ALERT = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = %s"

_AUDIT = """
INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, note, details)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""

_LAST_AUDIT = """
SELECT actor, action, at FROM alert_audit WHERE alert_id = %s AND action <> 'comment'
ORDER BY id DESC LIMIT 1
"""

_REPEAT = """
UPDATE alerts SET count = count + 1, last_seen = %(t)s, severity = %(severity)s, title = %(title)s,
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
                    first_seen, last_seen, details, incident_id, opened_at, silence_id, silenced_until)
VALUES (%(fp)s, %(detector)s, %(rule)s, %(source)s, %(area)s, %(severity)s, %(title)s, %(state)s,
        %(started)s, %(t)s, %(t)s, %(details)s, %(incident)s, %(now)s, %(silence)s, %(until)s)
RETURNING {ALERT_COLUMNS}
"""

_FLAP_REOPEN = f"""
UPDATE alerts SET state = %(state)s, resolved_at = NULL, closed_at = NULL, resolved_by = NULL,
    acknowledged_at = NULL, acknowledged_by = NULL, count = count + 1, last_seen = %(t)s,
    severity = %(severity)s, title = %(title)s, details = %(details)s, opened_at = %(now)s,
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

_RESUME_STATE = """
CASE WHEN assignee IS NOT NULL THEN 'assigned'
     WHEN acknowledged_at IS NOT NULL THEN 'acknowledged'
     WHEN reopened_count > 0 THEN 'reopened'
     ELSE 'open' END
"""

_RESUME = f"""
WITH old AS (SELECT id, state FROM alerts WHERE state = 'silenced' AND {{where}} FOR UPDATE)
UPDATE alerts a SET state = {_RESUME_STATE}, silence_id = NULL, silenced_until = NULL,
    opened_at = CASE WHEN a.acknowledged_at IS NULL THEN %(now)s ELSE a.opened_at END,
    version = a.version + 1, updated_at = now()
FROM old WHERE a.id = old.id
RETURNING {", ".join("a." + c for c in ALERT_COLUMNS.split(", "))}
"""

_SHIFT = """
SELECT count(*) FILTER (WHERE state <> 'resolved' AND severity = 'critical'),
       count(*) FILTER (WHERE state <> 'resolved' AND severity = 'warning'),
       count(*) FILTER (WHERE state <> 'resolved' AND severity = 'info'),
       count(*) FILTER (WHERE state IN ('open', 'reopened')),
       count(*) FILTER (WHERE opened_at >= %(start)s AND opened_at < %(end)s),
       count(*) FILTER (WHERE acknowledged_at >= %(start)s AND acknowledged_at < %(end)s),
       avg(acknowledged_at - opened_at) FILTER (WHERE acknowledged_at >= %(start)s
                                                  AND acknowledged_at < %(end)s),
       count(*) FILTER (WHERE closed_at >= %(start)s AND closed_at < %(end)s),
       avg(closed_at - opened_at) FILTER (WHERE closed_at >= %(start)s AND closed_at < %(end)s),
       (SELECT count(*) FROM notifications WHERE state = 'failed'),
       (SELECT count(*) FROM silences WHERE expired_at IS NULL AND starts_at <= %(now)s
                                       AND ends_at > %(now)s)
FROM alerts
WHERE state <> 'resolved' OR closed_at >= %(start)s OR acknowledged_at >= %(start)s
   OR opened_at >= %(start)s
"""


def _params(s: AlertSignal, now: datetime) -> dict[str, Any]:
    return {
        "fp": s.fingerprint,
        "detector": s.detector,
        "rule": s.rule,
        "source": s.source_id,
        "area": s.area,
        "severity": s.severity,
        "title": s.title,
        "started": s.started_at or s.time,
        "t": s.time,
        "details": json.dumps(s.details, default=str),
        "now": now,
    }


def current_shift(now: datetime, tz: ZoneInfo, starts: Sequence[str]) -> tuple[datetime, datetime]:
    """The shift containing ``now``: from the latest configured start (local time) to the next one."""
    local = now.astimezone(tz)
    times = sorted(time(int(s[:2]), int(s[3:5])) for s in starts)
    candidates = [
        datetime.combine(local.date() + timedelta(days=d), t, tz) for d in (-1, 0, 1) for t in times
    ]
    start = max(c for c in candidates if c <= local)
    end = min(c for c in candidates if c > local)
    return start.astimezone(UTC), end.astimezone(UTC)


# --------------------------------------------------------------------------- the service


class AlertService:
    """Owns the alerts table: raising, deduplicating and resolving from signals; people's actions."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock

    # -- detector side ---------------------------------------------------------------
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
                    self._audit(
                        conn,
                        active[0],
                        now,
                        SYSTEM_ACTOR,
                        "resolve",
                        active[1],
                        "resolved",
                        "condition cleared",
                    )
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
        note = f"condition clear since {cleared:%H:%M:%S} UTC: flapping settled"
        self._audit(conn, alert_id, now, SYSTEM_ACTOR, "resolve", state, "resolved", note)

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
            note = f"fired again {gap:.0f} min after it resolved (flapping): reopened, not raised anew"
            if silence:
                note += f"; silenced by silence #{silence[0]} ({silence[2]})"
            self._audit(conn, alert.id, now, SYSTEM_ACTOR, "reopen", "resolved", alert.state, note,
                        {"event_time": s.time.isoformat()})
            if alert.incident_id is not None:
                conn.execute(
                    "UPDATE incidents SET last_at = greatest(last_at, %s) WHERE id = %s",
                    (s.time, alert.incident_id),
                )
            self._after_appearing(conn, alert, silence, "reopened")
            return AlertChange("silenced" if silence else "reopened", alert.id)
        incident = self._incident_for(conn, s)
        row = conn.execute(_INSERT, {**p, **sp, "state": state, "incident": incident}).fetchone()
        alert = Alert(*row)  # type: ignore[misc]
        note = s.title if not silence else f"{s.title} — silenced by silence #{silence[0]} ({silence[2]})"
        self._audit(conn, alert.id, now, SYSTEM_ACTOR, "raise", None, state, note)
        self._after_appearing(conn, alert, silence, "raised")
        return AlertChange("silenced" if silence else "raised", alert.id)

    def _after_appearing(
        self, conn: psycopg.Connection, alert: Alert, silence: tuple | None, reason: str
    ) -> None:
        if silence:
            conn.execute("UPDATE silences SET matched = matched + 1 WHERE id = %s", (silence[0],))
            return
        channels = self.settings.notifications.on_raise.get(alert.severity, [])
        if channels:
            verb = "reopened" if reason == "reopened" else "new"
            enqueue(
                conn,
                alert_id=alert.id,
                channels=channels,
                recipient="duty",
                reason=reason,
                subject=f"[{alert.severity.upper()}] {verb}: {alert.title}",
                payload={
                    "message": f"{verb.capitalize()} {alert.severity} alert: {alert.title}",
                    "alert": alert.summary(),
                    "critical": alert.severity == "critical",
                },
                now=self.clock(),
            )

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

    # -- people's actions ------------------------------------------------------------
    def acknowledge(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """open/reopened -> acknowledged; stops escalation. Of two officers at once, one wins."""
        return self._transition(
            alert_id,
            actor,
            "acknowledge",
            note,
            expected_version,
            "acknowledged_at = %(now)s, acknowledged_by = %(actor)s",
            {},
        )

    def assign(
        self, alert_id: int, actor: Actor, assignee: str, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """Give the alert to an active console user (acknowledging it, if nobody had)."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT role FROM users WHERE name = %s AND active", (assignee,)).fetchone()
        if row is None:
            raise AlertError(f"Cannot assign to {assignee!r}: no active console user of that name.")
        if not lc.may(row[0], "be_assigned"):
            raise NotAllowed(
                f"Cannot assign to {assignee} ({lc.label(row[0])}): that role cannot act on alerts; "
                f"assign to a {lc.label(lc.MIN_ROLE['be_assigned'])} or above."
            )
        return self._transition(
            alert_id,
            actor,
            "assign",
            note,
            expected_version,
            "assignee = %(assignee)s, acknowledged_at = coalesce(acknowledged_at, %(now)s), "
            "acknowledged_by = coalesce(acknowledged_by, %(actor)s)",
            {"assignee": assignee},
            details={"assignee": assignee},
        )

    def resolve(self, alert_id: int, actor: Actor, note: str, expected_version: int | None = None) -> Alert:
        """Close the alert by hand (a note is required). A condition still present re-fires as reopened."""
        self._need_note(note, "resolve")
        return self._transition(
            alert_id,
            actor,
            "resolve",
            note,
            expected_version,
            "resolved_at = last_seen, closed_at = %(now)s, resolved_by = %(actor)s, silenced_until = NULL",
            {},
        )

    def silence(
        self,
        alert_id: int,
        actor: Actor,
        until: datetime,
        note: str,
        scope: Literal["alert", "source"] = "alert",
        expected_version: int | None = None,
    ) -> Alert:
        """Silence this alert until ``until``: a silence on its fingerprint (or on its detector and source).

        The silence also holds any re-firing of the same condition (and, with
        ``scope="source"``, every alert of this detector at this source) until it ends.
        """
        self._need_note(note, "silence")
        now = self.clock()
        if until <= now:
            raise AlertError("A silence must end in the future.")
        with self.pool.connection() as conn, conn.transaction():
            alert = self._read(conn, alert_id)
            self._check(conn, actor, "silence", alert, expected_version)
            matchers = (
                {"fingerprint": alert.fingerprint}
                if scope == "alert"
                else {"detector": alert.detector, "source_id": alert.source_id}
            )
            silence = self._insert_silence(conn, actor, matchers, now, until, note)
            updated = self._cas(
                conn,
                alert,
                actor,
                "silenced",
                "silence_id = %(silence)s, silenced_until = %(until)s",
                {"silence": silence.id, "until": until, "now": now},
            )
            self._audit(
                conn,
                alert.id,
                now,
                actor,
                "silence",
                alert.state,
                "silenced",
                note,
                {"silence_id": silence.id, "until": until.isoformat(), "version": updated.version},
            )
            if scope == "source":
                self._silence_active(conn, silence, actor, now)
        return updated

    def unsilence(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """End this alert's silence now: it returns to where it was (open alerts escalate from now)."""
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            alert = self._read(conn, alert_id)
            self._check(conn, actor, "unsilence", alert, expected_version)
            target = (
                "assigned"
                if alert.assignee
                else "acknowledged"
                if alert.acknowledged_at
                else "reopened"
                if alert.reopened_count
                else "open"
            )
            extra = "silence_id = NULL, silenced_until = NULL"
            if alert.acknowledged_at is None:
                extra += ", opened_at = %(now)s"
            updated = self._cas(conn, alert, actor, target, extra, {"now": now})
            if alert.silence_id is not None:  # a silence made for this alert alone ends with it
                conn.execute(
                    "UPDATE silences SET expired_at = %s, expired_by = %s WHERE id = %s "
                    "AND fingerprint = %s AND expired_at IS NULL",
                    (now, actor.name, alert.silence_id, alert.fingerprint),
                )
            self._audit(
                conn,
                alert.id,
                now,
                actor,
                "unsilence",
                "silenced",
                target,
                note,
                {"version": updated.version},
            )
            if target in lc.UNACKNOWLEDGED:
                self._after_appearing(conn, updated, None, "unsilenced")
        return updated

    def reopen(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """resolved -> reopened by hand (resolved by mistake); it needs acknowledging again."""
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            alert = self._read(conn, alert_id)
            self._check(conn, actor, "reopen", alert, expected_version)
            newer = conn.execute(
                "SELECT id FROM alerts WHERE fingerprint = %s AND state <> 'resolved'", (alert.fingerprint,)
            ).fetchone()
            if newer is not None:
                raise TransitionRefused(
                    f"Alert #{alert.id} cannot be reopened: the same condition is "
                    f"already active as alert #{newer[0]}; work on that one."
                )
            try:
                with conn.transaction():
                    updated = self._cas(
                        conn,
                        alert,
                        actor,
                        "reopened",
                        "resolved_at = NULL, closed_at = NULL, resolved_by = NULL, acknowledged_at = NULL, "
                        "acknowledged_by = NULL, opened_at = %(now)s, reopened_count = reopened_count + 1",
                        {"now": now},
                    )
            except psycopg.errors.UniqueViolation:
                raise TransitionRefused(
                    f"Alert #{alert.id} cannot be reopened: the same condition was raised again a moment ago."
                ) from None
            self._audit(
                conn,
                alert.id,
                now,
                actor,
                "reopen",
                "resolved",
                "reopened",
                note,
                {"version": updated.version},
            )
            self._after_appearing(conn, updated, None, "reopened")
        return updated

    def comment(self, alert_id: int, actor: Actor, note: str) -> AuditEntry:
        """Add a note to the alert's history without changing it (operators and above)."""
        if not note.strip():
            raise NoteRequired("Write the note first.")
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            alert = self._read(conn, alert_id)
            lc.check(actor, "comment", alert.state, alert.id)
            self._audit(conn, alert.id, now, actor, "comment", alert.state, alert.state, note)
            row = conn.execute(
                "SELECT id, alert_id, at, actor, action, from_state, to_state, note, details "
                "FROM alert_audit WHERE alert_id = %s ORDER BY id DESC LIMIT 1",
                (alert.id,),
            ).fetchone()
        return AuditEntry(*row)  # type: ignore[misc]

    def acknowledge_incident(self, incident_id: int, actor: Actor, note: str = "") -> list[Alert]:
        """Acknowledge every unacknowledged alert of an incident; those others got to first are skipped."""
        with self.pool.connection() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM alerts WHERE incident_id = %s AND state IN ('open', 'reopened') "
                    "ORDER BY id",
                    (incident_id,),
                ).fetchall()
            ]
        done = []
        for alert_id in ids:
            try:
                done.append(self.acknowledge(alert_id, actor, note))
            except TransitionRefused:
                continue
        return done

    # -- silences --------------------------------------------------------------------
    def create_silence(
        self,
        actor: Actor,
        *,
        reason: str,
        ends_at: datetime,
        starts_at: datetime | None = None,
        detector: str | None = None,
        source_id: str | None = None,
        area: str | None = None,
        severity: str | None = None,
        fingerprint: str | None = None,
    ) -> Silence:
        """A silence on the given matchers; alerts already active that match are silenced too."""
        if not actor.is_system and not lc.may(actor.role, "manage_silences"):
            raise NotAllowed(
                f"{actor.name} ({lc.label(actor.role)}) may not create silences; "
                "that needs a duty officer or above"
            )
        self._need_note(reason, "silence")
        now = self.clock()
        starts_at = starts_at or now
        if ends_at <= starts_at:
            raise AlertError("A silence must end after it starts.")
        matchers = {
            "detector": detector,
            "source_id": source_id,
            "area": area,
            "severity": severity,
            "fingerprint": fingerprint,
        }
        if not any(matchers.values()):
            raise AlertError("A silence needs at least one matcher (detector, source, area, severity).")
        with self.pool.connection() as conn, conn.transaction():
            silence = self._insert_silence(conn, actor, matchers, starts_at, ends_at, reason)
            if silence.active(now):
                self._silence_active(conn, silence, actor, now)
        return silence

    def expire_silence(self, silence_id: int, actor: Actor, note: str = "") -> Silence:
        """End a silence now; the alerts it held come back (and escalate from now)."""
        if not actor.is_system and not lc.may(actor.role, "manage_silences"):
            raise NotAllowed(f"{actor.name} ({lc.label(actor.role)}) may not end silences")
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                f"UPDATE silences SET expired_at = %s, expired_by = %s WHERE id = %s AND expired_at IS NULL "
                f"RETURNING {SILENCE_COLUMNS}",
                (now, actor.name, silence_id),
            ).fetchone()
            if row is None:
                exists = conn.execute(
                    "SELECT expired_by FROM silences WHERE id = %s", (silence_id,)
                ).fetchone()
                if exists is None:
                    raise AlertNotFound(f"No silence #{silence_id}.")
                raise TransitionRefused(f"Silence #{silence_id} was already ended by {exists[0]}.")
            self._resume(
                conn,
                "silence_id = %(silence)s",
                {"silence": silence_id, "now": now},
                actor,
                note or f"silence #{silence_id} ended by {actor.name}",
            )
        return Silence(*row)

    def end_expired_silences(self) -> int:
        """Alerts whose silence has run out come back (system); returns how many."""
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            return self._resume(
                conn, "silenced_until <= %(now)s", {"now": now}, SYSTEM_ACTOR, "silence ended"
            )

    def silences(self, include_ended: bool = False, limit: int = 100) -> list[Silence]:
        """Silences, newest first; only those not yet ended unless ``include_ended``."""
        where = "" if include_ended else "WHERE expired_at IS NULL AND ends_at > %(now)s"
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(Silence)) as cur:
            return cur.execute(
                f"SELECT {SILENCE_COLUMNS} FROM silences {where} ORDER BY id DESC LIMIT %(limit)s",
                {"now": self.clock(), "limit": limit},
            ).fetchall()

    def _insert_silence(
        self,
        conn: psycopg.Connection,
        actor: Actor,
        matchers: dict[str, str | None],
        starts_at: datetime,
        ends_at: datetime,
        reason: str,
    ) -> Silence:
        cols = ["detector", "source_id", "area", "severity", "fingerprint"]
        row = conn.execute(
            f"INSERT INTO silences ({', '.join(cols)}, starts_at, ends_at, created_by, reason) "
            f"VALUES ({', '.join(['%s'] * len(cols))}, %s, %s, %s, %s) RETURNING {SILENCE_COLUMNS}",
            (*[matchers.get(c) for c in cols], starts_at, ends_at, actor.name, reason.strip()),
        ).fetchone()
        return Silence(*row)  # type: ignore[misc]

    def _silence_active(
        self, conn: psycopg.Connection, silence: Silence, actor: Actor, now: datetime
    ) -> None:
        rows = conn.execute(
            """
            WITH old AS (
                SELECT id, state FROM alerts
                WHERE state IN ('open', 'reopened', 'acknowledged', 'assigned')
                  AND (%(detector)s::text IS NULL OR detector = %(detector)s)
                  AND (%(source)s::text IS NULL OR source_id = %(source)s)
                  AND (%(area)s::text IS NULL OR area = %(area)s)
                  AND (%(severity)s::text IS NULL OR severity = %(severity)s)
                  AND (%(fp)s::text IS NULL OR fingerprint = %(fp)s)
                FOR UPDATE
            )
            UPDATE alerts a SET state = 'silenced', silence_id = %(id)s, silenced_until = %(until)s,
                version = a.version + 1, updated_at = now()
            FROM old WHERE a.id = old.id RETURNING a.id, old.state, a.version
            """,
            {
                "detector": silence.detector,
                "source": silence.source_id,
                "area": silence.area,
                "severity": silence.severity,
                "fp": silence.fingerprint,
                "id": silence.id,
                "until": silence.ends_at,
            },
        ).fetchall()
        for alert_id, old_state, version in rows:
            self._audit(
                conn,
                alert_id,
                now,
                actor,
                "silence",
                old_state,
                "silenced",
                f"silence #{silence.id}: {silence.reason}",
                {"silence_id": silence.id, "version": version},
            )
        if rows:
            conn.execute("UPDATE silences SET matched = matched + %s WHERE id = %s", (len(rows), silence.id))

    def _resume(
        self, conn: psycopg.Connection, where: str, params: dict[str, Any], actor: Actor, note: str
    ) -> int:
        rows = conn.execute(_RESUME.format(where=where), params).fetchall()
        for row in rows:
            alert = Alert(*row)
            self._audit(
                conn,
                alert.id,
                params["now"],
                actor,
                "unsilence",
                "silenced",
                alert.state,
                note,
                {"version": alert.version},
            )
            if alert.state in lc.UNACKNOWLEDGED:
                self._after_appearing(conn, alert, None, "unsilenced")
        return len(rows)

    # -- reading ---------------------------------------------------------------------
    def get(self, alert_id: int) -> Alert:
        """One alert; :class:`AlertNotFound` if there is none."""
        with self.pool.connection() as conn:
            return self._read(conn, alert_id)

    def history(self, alert_id: int) -> list[AuditEntry]:
        """The alert's audit trail, oldest first."""
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(AuditEntry)) as cur:
            return cur.execute(
                "SELECT id, alert_id, at, actor, action, from_state, to_state, note, details "
                "FROM alert_audit WHERE alert_id = %s ORDER BY id",
                (alert_id,),
            ).fetchall()

    def alerts(self, flt: AlertFilter | None = None) -> list[Alert]:
        """Alerts for the console: active ones first (worst, then newest), then the rest by last seen."""
        flt = flt or AlertFilter()
        where, params = ["true"], {"limit": max(1, min(int(flt.limit), 5000))}
        if flt.severities:
            where.append("severity = ANY(%(sev)s)")
            params["sev"] = list(flt.severities)
        if flt.states:
            where.append("state = ANY(%(states)s)")
            params["states"] = list(flt.states)
        if flt.areas:
            where.append("coalesce(area, '') = ANY(%(areas)s)")
            params["areas"] = list(flt.areas)
        if flt.since is not None:
            where.append("(last_seen >= %(since)s OR state <> 'resolved')")
            params["since"] = flt.since
        sql = (
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} "
            "ORDER BY (state = 'resolved'), "
            "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END, "
            "last_seen DESC, id DESC LIMIT %(limit)s"
        )
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(Alert)) as cur:
            rows = cur.execute(sql, params).fetchall()  # type: ignore[arg-type]
        if flt.feeds:
            rows = [a for a in rows if a.feed in flt.feeds]
        return rows

    def incident_alerts(self, incident_id: int) -> list[Alert]:
        """Every alert of one incident, newest first."""
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(Alert)) as cur:
            return cur.execute(
                f"SELECT {ALERT_COLUMNS} FROM alerts WHERE incident_id = %s ORDER BY last_seen DESC, id DESC",
                (incident_id,),
            ).fetchall()

    def areas(self) -> list[str]:
        """Areas alerts were raised in, for the console's filter."""
        with self.pool.connection() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT area FROM alerts WHERE area IS NOT NULL ORDER BY 1"
                ).fetchall()
            ]

    def notifications_of(self, alert_id: int) -> list[dict[str, Any]]:
        """The notifications sent (or failing) about one alert, newest first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, channel, recipient, reason, state, attempts, last_error, created_at, sent_at "
                "FROM notifications WHERE alert_id = %s ORDER BY id DESC LIMIT 50",
                (alert_id,),
            ).fetchall()
        keys = (
            "id",
            "channel",
            "recipient",
            "reason",
            "state",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        )
        return [_shown(dict(zip(keys, r, strict=True))) for r in rows]

    def failed_notifications(self, limit: int = 10) -> list[dict[str, Any]]:
        """Notifications that gave up, newest first: the console shows them so none is lost silently."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, alert_id, channel, recipient, attempts, last_error FROM notifications "
                "WHERE state = 'failed' ORDER BY id DESC LIMIT %s",
                (limit,),
            ).fetchall()
        keys = ("id", "alert_id", "channel", "recipient", "attempts", "last_error")
        return [_shown(dict(zip(keys, r, strict=True))) for r in rows]

    def console_notices(self, after_id: int = 0, limit: int = 20) -> list[dict[str, Any]]:
        """Console-channel notices newer than ``after_id`` (the page flashes and chimes for critical ones)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, alert_id, reason, subject, recipient, "
                "coalesce((payload->>'critical')::boolean, false) "
                "FROM notifications WHERE channel = 'console' AND id > %s ORDER BY id DESC LIMIT %s",
                (after_id, limit),
            ).fetchall()
        keys = ("id", "alert_id", "reason", "subject", "recipient", "critical")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def shift_figures(self, tz: ZoneInfo | str = "UTC") -> ShiftFigures:
        """Open alerts by severity, and mean times to acknowledge and to resolve in the current shift."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        now = self.clock()
        start, end = current_shift(now, zone, self.settings.shift_starts)
        with self.pool.connection() as conn:
            r = conn.execute(_SHIFT, {"start": start, "end": end, "now": now}).fetchone()
        assert r is not None
        return ShiftFigures(
            shift_start=start,
            shift_end=end,
            open_by_severity={"critical": int(r[0]), "warning": int(r[1]), "info": int(r[2])},
            unacknowledged=int(r[3]),
            raised=int(r[4]),
            acknowledged=int(r[5]),
            mean_time_to_acknowledge=r[6],
            resolved=int(r[7]),
            mean_time_to_resolve=r[8],
            notifications_failed=int(r[9]),
            silences_active=int(r[10]),
        )

    # -- internals -------------------------------------------------------------------
    @staticmethod
    def _need_note(note: str, action: str) -> None:
        if not (note or "").strip():
            raise NoteRequired(f"Write a note to {action}: the next shift needs to know why.")

    @staticmethod
    def _read(conn: psycopg.Connection, alert_id: int) -> Alert:
        row = conn.execute(_SELECT_ALERT, (alert_id,)).fetchone()
        if row is None:
            raise AlertNotFound(f"No alert #{alert_id}.")
        return Alert(*row)

    @staticmethod
    def _last(conn: psycopg.Connection, alert_id: int) -> tuple[str, str, datetime | None] | None:
        row = conn.execute(_LAST_AUDIT, (alert_id,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def _check(
        self, conn: psycopg.Connection, actor: Actor, action: str, alert: Alert, expected_version: int | None
    ) -> None:
        if not actor.is_system and not lc.may(actor.role, action):
            lc.check(actor, action, alert.state, alert.id)  # raises NotAllowed
        if expected_version is not None and alert.version != expected_version:
            raise StaleAlertError(self._stale_message(conn, alert.id, action))
        lc.check(actor, action, alert.state, alert.id, self._last(conn, alert.id))

    def _stale_message(self, conn: psycopg.Connection, alert_id: int, action: str) -> str:
        last = self._last(conn, alert_id)
        if last is None:
            return f"Alert #{alert_id} changed while you were acting; your {action} was not applied."
        actor, did, at = last
        when = f" at {at:%H:%M:%S} UTC" if at else ""
        return (
            f"Alert #{alert_id} was just {lc.PAST.get(did, did)} by {actor}{when}; "
            f"your {action} was not applied. Look at it again."
        )

    def _cas(
        self,
        conn: psycopg.Connection,
        alert: Alert,
        actor: Actor,
        to_state: str,
        set_sql: str,
        params: dict[str, Any],
    ) -> Alert:
        """Compare-and-set: update only if the version is still the one read; else name who was first."""
        row = conn.execute(
            f"UPDATE alerts SET state = %(to)s, {set_sql}, version = version + 1, updated_at = now() "
            f"WHERE id = %(id)s AND version = %(version)s RETURNING {ALERT_COLUMNS}",
            {**params, "to": to_state, "id": alert.id, "version": alert.version, "actor": actor.name},
        ).fetchone()
        if row is None:
            raise StaleAlertError(self._stale_message(conn, alert.id, _ACTION_OF.get(to_state, "change")))
        return Alert(*row)

    def _transition(
        self,
        alert_id: int,
        actor: Actor,
        action: str,
        note: str,
        expected_version: int | None,
        set_sql: str,
        params: dict[str, Any],
        details: dict[str, Any] | None = None,
    ) -> Alert:
        now = self.clock()
        _, to_state = lc.TRANSITIONS[action]
        assert to_state is not None
        with self.pool.connection() as conn, conn.transaction():
            alert = self._read(conn, alert_id)
            self._check(conn, actor, action, alert, expected_version)
            updated = self._cas(conn, alert, actor, to_state, set_sql, {**params, "now": now})
            self._audit(
                conn,
                alert.id,
                now,
                actor,
                action,
                alert.state,
                to_state,
                note,
                {**(details or {}), "version": updated.version},
            )
        return updated

    @staticmethod
    def _audit(
        conn: psycopg.Connection,
        alert_id: int,
        at: datetime,
        actor: Actor,
        action: str,
        from_state: str | None,
        to_state: str,
        note: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            _AUDIT,
            (
                alert_id,
                at,
                actor.name,
                action,
                from_state,
                to_state,
                (note or "").strip() or None,
                json.dumps(details or {}, default=str),
            ),
        )


_ACTION_OF = {
    "acknowledged": "acknowledge",
    "assigned": "assign",
    "resolved": "resolve",
    "silenced": "silence",
    "reopened": "reopen",
    "open": "unsilence",
}


def _shown(notification: dict[str, Any]) -> dict[str, Any]:
    """A notification as any console user may see it: URLs in its error cut to scheme and host.

    Errors stored before URLs were kept out of them may still hold a webhook's secret URL.
    """
    notification["last_error"] = redact_urls(notification["last_error"])
    return notification


def actions_for(role: str, state: str) -> list[str]:
    """The lifecycle actions ``role`` may take on an alert in ``state`` (for enabling buttons)."""
    return [a for a, (sources, _) in lc.TRANSITIONS.items() if state in sources and lc.may(role, a)]


# --------------------------------------------------------------------------- the consumer


class AlertSignalConsumer:
    """Reads ``ioc.alerts.signals`` and applies each signal; commits after the store write."""

    def __init__(self, bus: Bus, service: AlertService, writer: StoreWriter, group: str = "alerts") -> None:
        self.service = service
        self.writer = writer
        self.consumer = BatchConsumer(
            "alerts", bus.subscribe([ALERT_SIGNALS], group), self.handle, batch_size=500
        )
        self.health = self.consumer.health
        self.health.extra.update(raised=0, resolved=0, reopened=0, silenced=0, undecodable=0)

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
            if change.action in ("raised", "resolved", "reopened", "silenced"):
                self.health.extra[change.action] += 1

    def run(self, stop) -> None:  # noqa: ANN001 - threading.Event
        self.consumer.run(stop)
