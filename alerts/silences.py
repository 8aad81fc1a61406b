"""Silences: hold alerts matching a set of matchers quiet for a while, without losing them.

A silence names any of detector, source, area, severity and fingerprint;
an alert matching every one that is set is held ``silenced`` (stored,
counted on the silence, never notified nor escalated) until the silence
ends. :class:`Silences` creates, ends and lists them; ending one (by hand or
when it runs out) brings the alerts it held back to where they were, and
those still unacknowledged are announced and escalate from then.

A silence lasts at most :data:`MAX_SILENCE` (7 days) and starts at most that far ahead: one that
should hold longer is renewed when it runs out, so no silence holds alerts quiet forever. Its times
must be timezone-aware, and a matcher that is set must name something (a blank one is refused, not
taken as "any": that would silence far more than asked).

:func:`insert_silence` and :func:`silence_matching` are also used by
:meth:`alerts.transitions.Transitions.silence`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from alerts import lifecycle as lc
from alerts.ledger import Clock, announce, utcnow, write_audit
from alerts.lifecycle import SYSTEM_ACTOR, Actor, AlertError, AlertNotFound, NotAllowed, TransitionRefused
from alerts.models import ALERT_COLUMNS, SILENCE_COLUMNS, Alert, Silence
from alerts.settings import AlertSettings
from ioc.records import unkeepable

#: the longest a silence may last, and the furthest ahead it may start (the README says it)
MAX_SILENCE_DAYS = 7
MAX_SILENCE = timedelta(days=MAX_SILENCE_DAYS)
MAX_MATCHER_CHARS = 256
SEVERITIES = ("critical", "warning", "info")

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


class Silences:
    """Creates, ends and lists silences; brings back the alerts a silence held when it ends."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock

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
            raise NotAllowed("{actor} ({role}) may not create silences; that needs a {need} or above",
                             actor=actor.name, role=lc.Term(lc.label(actor.role)),
                             need=lc.Term(lc.label(lc.MIN_ROLE["manage_silences"])))
        reason = lc.require_note(reason, "silence")
        now = self.clock()
        starts_at = now if starts_at is None else starts_at
        check_window(starts_at, ends_at, now, self.settings.max_silence_days)
        matchers = _matchers(detector=detector, source_id=source_id, area=area, severity=severity,
                             fingerprint=fingerprint)
        with self.pool.connection() as conn, conn.transaction():
            silence = insert_silence(conn, actor, matchers, starts_at, ends_at, reason)
            if silence.active(now):
                silence_matching(conn, silence, actor, now)
                silence = _read_silence(conn, silence.id)  # as it is now: the alerts it held counted
        return silence

    def expire_silence(self, silence_id: int, actor: Actor, note: str = "") -> Silence:
        """End a silence now; the alerts it held come back (and escalate from now)."""
        if not actor.is_system and not lc.may(actor.role, "manage_silences"):
            raise NotAllowed("{actor} ({role}) may not end silences", actor=actor.name,
                             role=lc.Term(lc.label(actor.role)))
        note = lc.check_note(note)
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
                    raise AlertNotFound("No silence #{id}.", id=silence_id)
                raise TransitionRefused("Silence #{id} was already ended by {actor}.", id=silence_id,
                                        actor=exists[0])
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

    def _resume(
        self, conn: psycopg.Connection, where: str, params: dict[str, Any], actor: Actor, note: str
    ) -> int:
        """Bring back the silenced alerts matching ``where``, each to where it was; returns how many."""
        rows = conn.execute(_RESUME.format(where=where), params).fetchall()
        for row in rows:
            alert = Alert(*row)
            write_audit(
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
                announce(conn, self.settings, alert, None, "unsilenced", self.clock)
        return len(rows)


def _aware(value: datetime, name: str) -> datetime:
    """``value`` if it is a timezone-aware datetime; a naive one says no instant (which zone?)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} is a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. with tzinfo=UTC); got the naive "
                         f"{value.isoformat()}")
    return value


def check_window(starts_at: datetime, ends_at: datetime, now: datetime, days: int = MAX_SILENCE_DAYS) -> None:
    """Refuse a silence from ``starts_at`` to ``ends_at`` (both timezone-aware: :class:`ValueError`
    otherwise) that ends before it starts or by ``now``, lasts longer than ``days``
    (``max_silence_days``: :data:`MAX_SILENCE` by default), or starts further ahead than that."""
    _aware(starts_at, "starts_at")
    _aware(ends_at, "ends_at")
    longest = timedelta(days=days)
    if ends_at <= now:
        raise AlertError("A silence must end in the future.")
    if ends_at <= starts_at:
        raise AlertError("A silence must end after it starts.")
    if ends_at - starts_at > longest:
        raise AlertError("A silence may last at most {days} days; end it sooner and renew it if need be.",
                         days=days)
    if starts_at - now > longest:
        raise AlertError("A silence may start at most {days} days from now.", days=days)


def _matchers(**given: str | None) -> dict[str, str | None]:
    """The matchers that are set, stripped; a blank one (or one no stored text keeps, or too long, or a
    severity that is none) is refused rather than taken as "any"; at least one must be set."""
    matchers: dict[str, str | None] = {}
    for name, value in given.items():
        if value is None:
            matchers[name] = None
            continue
        if not isinstance(value, str):
            raise TypeError(f"the matcher {name} is text, not {type(value).__name__}")
        value = value.strip()
        if not lc.visible(value):
            raise AlertError("A silence's matcher {matcher} is blank; name what it matches or leave it out.",
                             matcher=name)
        if len(value) > MAX_MATCHER_CHARS or unkeepable(value) is not None:
            raise AlertError("A silence's matcher {matcher} is not a name an alert can have.", matcher=name)
        if name == "severity" and value not in SEVERITIES:
            raise AlertError("A silence's severity is critical, warning or info, not {severity}.",
                             severity=value)
        matchers[name] = value
    if not any(matchers.values()):
        raise AlertError("A silence needs at least one matcher (detector, source, area, severity).")
    return matchers


def _read_silence(conn: psycopg.Connection, silence_id: int) -> Silence:
    row = conn.execute(f"SELECT {SILENCE_COLUMNS} FROM silences WHERE id = %s", (silence_id,)).fetchone()
    if row is None:
        raise AlertNotFound("No silence #{id}.", id=silence_id)
    return Silence(*row)


def insert_silence(
    conn: psycopg.Connection,
    actor: Actor,
    matchers: dict[str, str | None],
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
) -> Silence:
    """Store a silence on ``matchers`` (the unset ones match anything)."""
    cols = ["detector", "source_id", "area", "severity", "fingerprint"]
    row = conn.execute(
        f"INSERT INTO silences ({', '.join(cols)}, starts_at, ends_at, created_by, reason) "
        f"VALUES ({', '.join(['%s'] * len(cols))}, %s, %s, %s, %s) RETURNING {SILENCE_COLUMNS}",
        (*[matchers.get(c) for c in cols], starts_at, ends_at, actor.name, reason.strip()),
    ).fetchone()
    return Silence(*row)  # type: ignore[misc]


def silence_matching(conn: psycopg.Connection, silence: Silence, actor: Actor, now: datetime) -> None:
    """Silence the active alerts ``silence`` matches now, each with an audit row; count them on it."""
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
        write_audit(
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
