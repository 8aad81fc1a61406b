"""What every writer of the alerts table shares, inside the caller's transaction.

Read one alert (:func:`read_alert`), write a row of its history
(:func:`write_audit`), and tell the duty channels that an alert appeared
(:func:`announce`: raised, reopened, or back from a silence). Signal intake,
people's transitions, silences and escalation all use these, so an alert's
history and its notifications read the same whoever changed it.

A person's note is checked before it gets here (:func:`alerts.lifecycle.check_note`: at most
:data:`~alerts.lifecycle.MAX_NOTE_CHARS`, refused if longer); the service's own notes quote one (a
silence's reason), so :func:`write_audit` keeps at most :data:`MAX_AUDIT_NOTE_CHARS`, a bound no
checked note reaches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from alerts.lifecycle import MAX_NOTE_CHARS, Actor, AlertNotFound
from alerts.models import ALERT_COLUMNS, Alert
from alerts.notify import enqueue
from alerts.settings import AlertSettings
from alerts.wording import Wording, recipient_language

Clock = Callable[[], datetime]

#: the longest note an audit row keeps: a person's longest note and the service's words around it
MAX_AUDIT_NOTE_CHARS = MAX_NOTE_CHARS + 200

_SELECT_ALERT = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = %s"

_AUDIT = """
INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, note, details)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def read_alert(conn: psycopg.Connection, alert_id: int) -> Alert:
    """One alert; :class:`AlertNotFound` if there is none (:class:`TypeError` for an id that is no
    integer: ``1.5`` is not alert 1)."""
    if isinstance(alert_id, bool) or not isinstance(alert_id, int):
        raise TypeError(f"an alert id is an integer, not {type(alert_id).__name__}")
    row = conn.execute(_SELECT_ALERT, (alert_id,)).fetchone()
    if row is None:
        raise AlertNotFound("No alert #{id}.", id=alert_id)
    return Alert(*row)


def write_audit(
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
    """One row of the alert's history: who, when, from which state to which, and why (the note cut
    to :data:`MAX_AUDIT_NOTE_CHARS`, which no note a person may write reaches)."""
    note = (note or "").strip()
    if len(note) > MAX_AUDIT_NOTE_CHARS:
        note = note[: MAX_AUDIT_NOTE_CHARS - 1] + "…"
    conn.execute(
        _AUDIT,
        (
            alert_id,
            at,
            actor.name,
            action,
            from_state,
            to_state,
            note or None,
            json.dumps(details or {}, default=str),
        ),
    )


def announce(
    conn: psycopg.Connection,
    settings: AlertSettings,
    alert: Alert,
    silence: tuple | None,
    reason: str,
    clock: Clock,
) -> None:
    """An alert appeared (``reason``: raised, reopened, unsilenced): notify the duty channels of its
    severity, or, when a ``silence`` row (id first) holds it, count it on that silence instead."""
    if silence:
        conn.execute("UPDATE silences SET matched = matched + 1 WHERE id = %s", (silence[0],))
        return
    channels = settings.notifications.on_raise.get(alert.severity, [])
    if channels:
        words = Wording(reason if reason in ("reopened", "unsilenced") else "raised", alert)
        lang = recipient_language(conn, settings, "duty")
        enqueue(
            conn,
            alert_id=alert.id,
            channels=channels,
            recipient="duty",
            reason=reason,
            subject=words.subject(lang),
            payload={
                **words.payload(lang, settings.timezone),
                "alert": alert.summary(),
                "critical": alert.severity == "critical",
            },
            now=clock(),
        )
