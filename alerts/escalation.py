"""Escalation: unacknowledged alerts climb their severity's policy; reminders keep them in sight.

:class:`Escalator` is run by apscheduler (``register_alert_jobs``) with a
clock; each run, for every policy (one per severity, in
:class:`alerts.settings.AlertSettings`):

- each step whose time has come (``opened_at + after_minutes``) fires once per
  episode of an alert still ``open`` or ``reopened`` and unacknowledged: it
  notifies the step's recipient on the step's channels and writes an
  ``escalate`` audit row. Acknowledging (or assigning, or silencing) stops it.
  A reopened alert starts a new episode and escalates anew.
- ``remind_every_minutes`` sends a reminder to acknowledge every N minutes
  while nobody has (only the latest one due: a scheduler that slept does not
  send a burst).
- ``remind_acknowledged_every_minutes`` nudges whoever acknowledged or was
  assigned an alert that stays unresolved.

Each firing is a row of ``alert_escalations`` keyed by (alert, episode,
kind, seq), inserted with ``ON CONFLICT DO NOTHING`` on rows locked with
``SKIP LOCKED``: several schedulers never fire a step twice, and an
acknowledgement committing at the same moment wins. Silences that ran out
are ended at the start of each run, and flapping alerts held open whose
condition stayed clear for the flapping window are resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.intake import SignalIntake
from alerts.ledger import Clock, utcnow, write_audit
from alerts.lifecycle import SYSTEM_ACTOR
from alerts.models import ALERT_COLUMNS, Alert
from alerts.notify import NotificationSender, build_channels, enqueue
from alerts.settings import AlertSettings, EscalationPolicy
from alerts.silences import Silences
from alerts.wording import Wording, recipient_language

log = logging.getLogger(__name__)


@dataclass
class EscalationRun:
    """What one run did."""

    escalated: int = 0
    reminded: int = 0
    silences_ended: int = 0
    flaps_settled: int = 0


_DUE_STEP = f"""
WITH due AS (
    SELECT id FROM alerts
    WHERE state IN ('open', 'reopened') AND acknowledged_at IS NULL AND severity = %(severity)s
      AND opened_at + %(after)s <= %(now)s
    FOR UPDATE SKIP LOCKED
), fired AS (
    INSERT INTO alert_escalations (alert_id, episode, kind, seq, due_at, fired_at, target)
    SELECT a.id, a.reopened_count, 'step', %(seq)s, a.opened_at + %(after)s, %(now)s, %(target)s
    FROM alerts a JOIN due ON due.id = a.id
    ON CONFLICT DO NOTHING
    RETURNING alert_id
)
SELECT {", ".join("a." + c for c in ALERT_COLUMNS.split(", "))}
FROM alerts a JOIN fired ON fired.alert_id = a.id
ORDER BY a.id
"""

# reminders: seq is the number of whole periods since the base time; only the latest is sent
_DUE_REMINDER = f"""
WITH due AS (
    SELECT id, floor(extract(epoch FROM %(now)s - {{base}}) / %(every)s)::int AS seq FROM alerts
    WHERE state = ANY(%(states)s) AND severity = %(severity)s AND {{base}} IS NOT NULL
      AND {{base}} + make_interval(secs => %(every)s) <= %(now)s {{extra}}
    FOR UPDATE SKIP LOCKED
), fired AS (
    INSERT INTO alert_escalations (alert_id, episode, kind, seq, due_at, fired_at, target)
    SELECT a.id, a.reopened_count, %(kind)s, due.seq,
           {{base_a}} + make_interval(secs => due.seq * %(every)s), %(now)s, %(target)s
    FROM alerts a JOIN due ON due.id = a.id
    ON CONFLICT DO NOTHING
    RETURNING alert_id, seq
)
SELECT fired.seq, {", ".join("a." + c for c in ALERT_COLUMNS.split(", "))}
FROM alerts a JOIN fired ON fired.alert_id = a.id ORDER BY a.id
"""


class Escalator:
    """Runs the escalation policies against the store at the time its clock says."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock
        self.silences = Silences(pool, self.settings, clock)
        self.intake = SignalIntake(pool, self.settings, clock)

    def run_once(self) -> EscalationRun:
        """One pass: end silences that ran out, then fire every step and reminder due now."""
        run = EscalationRun()
        run.silences_ended = self.silences.end_expired_silences()
        run.flaps_settled = self.intake.settle_flapping()
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            for policy in self.settings.escalation:
                run.escalated += self._steps(conn, policy, now)
                run.reminded += self._reminders(conn, policy, now)
        return run

    def _steps(self, conn: psycopg.Connection, policy: EscalationPolicy, now: datetime) -> int:
        n = 0
        for seq, step in enumerate(policy.steps):
            who = self.settings.recipients.get(step.notify)
            target = who.name if who and who.name else step.notify
            rows = conn.execute(
                _DUE_STEP,
                {
                    "severity": policy.severity,
                    "after": timedelta(minutes=step.after_minutes),
                    "now": now,
                    "seq": seq,
                    "target": step.notify,
                },
            ).fetchall()
            for row in rows:
                alert = Alert(*row)
                words = Wording("escalation", alert, {"minutes": step.after_minutes, "target": target,
                                                      "channels": ", ".join(step.channels)})
                self._record(
                    conn,
                    alert,
                    now,
                    "escalate",
                    words,
                    step.channels,
                    step.notify,
                    {"step": seq + 1, "after_minutes": step.after_minutes},
                )
                n += 1
        return n

    def _reminders(self, conn: psycopg.Connection, policy: EscalationPolicy, now: datetime) -> int:
        n = 0
        plans: list[tuple[str, float | None, list[str], str, str]] = [
            (
                "remind",
                policy.remind_every_minutes,
                ["open", "reopened"],
                "opened_at",
                "AND acknowledged_at IS NULL",
            ),
            (
                "remind_ack",
                policy.remind_acknowledged_every_minutes,
                ["acknowledged", "assigned"],
                "acknowledged_at",
                "",
            ),
        ]
        for kind, every, states, base, extra in plans:
            if not every:
                continue
            sql = _DUE_REMINDER.format(base=base, base_a=f"a.{base}", extra=extra)
            rows = conn.execute(
                sql,
                {
                    "severity": policy.severity,
                    "every": every * 60.0,
                    "now": now,
                    "states": states,
                    "kind": kind,
                    "target": "duty",
                },
            ).fetchall()
            for seq, *cols in rows:
                alert = Alert(*cols)
                recipient = "duty" if kind == "remind" else alert.assignee or alert.acknowledged_by or "duty"
                fields: dict[str, Any] = {"n": seq, "minutes": every * seq}
                if kind != "remind":
                    fields["recipient"] = recipient
                self._record(
                    conn,
                    alert,
                    now,
                    "remind",
                    Wording(kind, alert, fields),
                    policy.remind_channels,
                    recipient,
                    {"reminder": seq},
                )
                n += 1
        return n

    def _record(
        self,
        conn: psycopg.Connection,
        alert: Alert,
        now: datetime,
        action: str,
        words: Wording,
        channels: list[str],
        recipient: str,
        extra: dict[str, Any],
    ) -> None:
        """The audit row (the English note, with its template for other readers) and the
        notification, worded in ``recipient``'s language."""
        note, note_text = words.note()
        write_audit(
            conn,
            alert.id,
            now,
            SYSTEM_ACTOR,
            action,
            alert.state,
            alert.state,
            note,
            {**extra, "channels": channels, "recipient": recipient, **note_text},
        )
        who = self.settings.recipients.get(recipient)
        lang = recipient_language(conn, self.settings, recipient)
        enqueue(
            conn,
            alert_id=alert.id,
            channels=channels,
            recipient=recipient,
            reason=words.reason,
            subject=words.subject(lang),
            payload={
                **words.payload(lang, self.settings.timezone),
                "alert": alert.summary(),
                "critical": alert.severity == "critical",
                "recipient_name": who.name if who else recipient,
                "console_user": who.user if who else None,
                **extra,
            },
            now=now,
        )


def register_alert_jobs(
    scheduler: Any, pool: ConnectionPool, settings: AlertSettings, clock: Clock = utcnow
) -> tuple[Escalator, NotificationSender]:
    """Add the escalation job and the notification sender to an apscheduler ``BaseScheduler``."""
    escalator = Escalator(pool, settings, clock)
    sender = NotificationSender(pool, build_channels(settings), settings.notifications, clock)
    scheduler.add_job(
        _guarded,
        "interval",
        args=("alerts_escalation", escalator.run_once),
        seconds=settings.escalation_check_seconds,
        id="alerts_escalation",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        _guarded,
        "interval",
        args=("alerts_notifications", sender.run_once),
        seconds=settings.notifications.send_every_seconds,
        id="alerts_notifications",
        coalesce=True,
        max_instances=1,
    )
    return escalator, sender


def _guarded(name: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception as exc:  # a failed run is logged; the next run tries again
        log.warning("scheduled job %s failed: %s", name, exc)
