"""People's actions on an alert: acknowledge, assign, resolve, silence, unsilence, reopen, comment.

Each checks the actor's role and the alert's state (:mod:`alerts.lifecycle`),
then compares-and-sets the alert's ``version`` so that of two officers
acting at once one wins and the other gets a :class:`StaleAlertError`
naming who was first. Every change writes an audit row (who, when, from
which state, note). Time comes from ``clock`` so tests can control it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg_pool import ConnectionPool

from alerts import lifecycle as lc
from alerts.ledger import Clock, announce, read_alert, utcnow, write_audit
from alerts.lifecycle import Actor, AlertError, NotAllowed, NoteRequired, StaleAlertError, TransitionRefused
from alerts.models import ALERT_COLUMNS, Alert, AuditEntry
from alerts.settings import AlertSettings
from alerts.silences import check_window, insert_silence, silence_matching
from ioc.records import unkeepable

_LAST_AUDIT = """
SELECT actor, action, at FROM alert_audit WHERE alert_id = %s AND action <> 'comment'
ORDER BY id DESC LIMIT 1
"""

_ACTION_OF = {
    "acknowledged": "acknowledge",
    "assigned": "assign",
    "resolved": "resolve",
    "silenced": "silence",
    "reopened": "reopen",
    "open": "unsilence",
}


def actions_for(role: str, state: str) -> list[str]:
    """The lifecycle actions ``role`` may take on an alert in ``state`` (for enabling buttons)."""
    return [a for a, (sources, _) in lc.TRANSITIONS.items() if state in sources and lc.may(role, a)]


class Transitions:
    """Moves alerts through their lifecycle on people's behalf, one transaction per action."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock

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
        if not isinstance(assignee, str):
            raise TypeError(f"an assignee is a user's name, not {type(assignee).__name__}")
        if unkeepable(assignee) is not None:  # no name holds one (and the store could not look it up)
            raise AlertError("Cannot assign to {assignee}: no active console user of that name.",
                             assignee=ascii(assignee))
        with self.pool.connection() as conn:
            row = conn.execute("SELECT role FROM users WHERE name = %s AND active", (assignee,)).fetchone()
        if row is None:
            raise AlertError("Cannot assign to {assignee}: no active console user of that name.",
                             assignee=assignee)
        if not lc.may(row[0], "be_assigned"):
            raise NotAllowed(
                "Cannot assign to {assignee} ({role}): that role cannot act on alerts; "
                "assign to a {need} or above.",
                assignee=assignee, role=lc.Term(lc.label(row[0])),
                need=lc.Term(lc.label(lc.MIN_ROLE["be_assigned"])),
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
        note = lc.require_note(note, "resolve")
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
        ``scope="source"``, every alert of this detector at this source) until it ends. It lasts at
        most ``max_silence_days`` (7); ``until`` must be timezone-aware.
        """
        note = lc.require_note(note, "silence")
        now = self.clock()
        check_window(now, until, now, self.settings.max_silence_days)
        with self.pool.connection() as conn, conn.transaction():
            alert = read_alert(conn, alert_id)
            self._check(conn, actor, "silence", alert, expected_version)
            matchers = (
                {"fingerprint": alert.fingerprint}
                if scope == "alert"
                else {"detector": alert.detector, "source_id": alert.source_id}
            )
            silence = insert_silence(conn, actor, matchers, now, until, note)
            updated = self._cas(
                conn,
                alert,
                actor,
                "silenced",
                "silence_id = %(silence)s, silenced_until = %(until)s",
                {"silence": silence.id, "until": until, "now": now},
            )
            conn.execute("UPDATE silences SET matched = matched + 1 WHERE id = %s", (silence.id,))
            write_audit(
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
                silence_matching(conn, silence, actor, now)
        return updated

    def unsilence(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """End this alert's silence now: it returns to where it was (open alerts escalate from now)."""
        note = lc.check_note(note)
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            alert = read_alert(conn, alert_id)
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
            write_audit(
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
                announce(conn, self.settings, updated, None, "unsilenced", self.clock)
        return updated

    def reopen(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """resolved -> reopened by hand (resolved by mistake); it needs acknowledging again."""
        note = lc.check_note(note)
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            alert = read_alert(conn, alert_id)
            self._check(conn, actor, "reopen", alert, expected_version)
            newer = conn.execute(
                "SELECT id FROM alerts WHERE fingerprint = %s AND state <> 'resolved'", (alert.fingerprint,)
            ).fetchone()
            if newer is not None:
                raise TransitionRefused(
                    "Alert #{id} cannot be reopened: the same condition is already active as alert #{other}; "
                    "work on that one.", id=alert.id, other=newer[0])
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
                    "Alert #{id} cannot be reopened: the same condition was raised again a moment ago.",
                    id=alert.id,
                ) from None
            write_audit(
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
            announce(conn, self.settings, updated, None, "reopened", self.clock)
        return updated

    def comment(self, alert_id: int, actor: Actor, note: str) -> AuditEntry:
        """Add a note to the alert's history without changing it (operators and above)."""
        note = lc.check_note(note)
        if not lc.visible(note):
            raise NoteRequired("Write the note first.")
        now = self.clock()
        with self.pool.connection() as conn, conn.transaction():
            alert = read_alert(conn, alert_id)
            lc.check(actor, "comment", alert.state, alert.id)
            write_audit(conn, alert.id, now, actor, "comment", alert.state, alert.state, note)
            row = conn.execute(
                "SELECT id, alert_id, at, actor, action, from_state, to_state, note, details "
                "FROM alert_audit WHERE alert_id = %s ORDER BY id DESC LIMIT 1",
                (alert.id,),
            ).fetchone()
        return AuditEntry(*row)  # type: ignore[misc]

    def acknowledge_incident(self, incident_id: int, actor: Actor, note: str = "") -> list[Alert]:
        """Acknowledge every unacknowledged alert of an incident; those others got to first are skipped."""
        note = lc.check_note(note)
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

    # -- internals -------------------------------------------------------------------
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
            raise self._stale(conn, alert.id, action)
        lc.check(actor, action, alert.state, alert.id, self._last(conn, alert.id))

    def _stale(self, conn: psycopg.Connection, alert_id: int, action: str) -> StaleAlertError:
        """The refusal of an action that lost the race, naming who acted first and when."""
        last = self._last(conn, alert_id)
        if last is None:
            return StaleAlertError(
                "Alert #{id} changed while you were acting; your {action} was not applied.",
                id=alert_id, action=lc.Term(action))
        actor, did, at = last
        fields = {"id": alert_id, "did": lc.Term(lc.PAST.get(did, did)), "actor": actor,
                  "action": lc.Term(action)}
        if at is None:
            return StaleAlertError(
                "Alert #{id} was just {did} by {actor}; your {action} was not applied. Look at it again.",
                **fields)
        return StaleAlertError(
            "Alert #{id} was just {did} by {actor} at {time}; your {action} was not applied. "
            "Look at it again.", **fields, time=at)

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
            raise self._stale(conn, alert.id, _ACTION_OF.get(to_state, "change"))
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
        note = lc.check_note(note)
        now = self.clock()
        _, to_state = lc.TRANSITIONS[action]
        assert to_state is not None
        with self.pool.connection() as conn, conn.transaction():
            alert = read_alert(conn, alert_id)
            self._check(conn, actor, action, alert, expected_version)
            updated = self._cas(conn, alert, actor, to_state, set_sql, {**params, "now": now})
            write_audit(
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
