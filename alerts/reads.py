"""What the console reads: alerts by filter, one alert and its history, incidents, notifications,
and the current shift's figures. Read-only; one short connection per question.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from alerts.ledger import MAX_AUDIT_NOTE_CHARS, Clock, read_alert, utcnow
from alerts.models import ALERT_COLUMNS, Alert, AlertFilter, AuditEntry, History, ShiftFigures
from alerts.notify import redact_urls
from alerts.settings import AlertSettings

#: the most audit rows :meth:`AlertReads.history` returns (the latest); the rest are counted
HISTORY_LIMIT = 200

# the latest rows of one alert's history, each with the count of all of them; a note longer than any
# the service keeps now (one stored before notes were bounded) comes cut, with an ellipsis
_HISTORY = f"""
SELECT id, alert_id, at, actor, action, from_state, to_state,
       CASE WHEN length(note) > {MAX_AUDIT_NOTE_CHARS} THEN left(note, {MAX_AUDIT_NOTE_CHARS - 1}) || '…'
            ELSE note END,
       details, count(*) OVER ()
FROM alert_audit WHERE alert_id = %s ORDER BY id DESC LIMIT %s
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


def _shown(notification: dict[str, Any]) -> dict[str, Any]:
    """A notification as any console user may see it: URLs in its error cut to scheme and host.

    Errors stored before URLs were kept out of them may still hold a webhook's secret URL.
    """
    notification["last_error"] = redact_urls(notification["last_error"])
    return notification


class AlertReads:
    """The console's questions about alerts, answered from the store."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock

    def get(self, alert_id: int) -> Alert:
        """One alert; :class:`AlertNotFound` if there is none."""
        with self.pool.connection() as conn:
            return read_alert(conn, alert_id)

    def history(self, alert_id: int, limit: int = HISTORY_LIMIT) -> History:
        """The alert's audit trail, oldest first: its latest ``limit`` rows (at most
        :data:`HISTORY_LIMIT`), and in ``earlier`` how many older ones were left out. A note stored
        before notes were bounded comes cut to :data:`~alerts.ledger.MAX_AUDIT_NOTE_CHARS`, with "…"."""
        limit = max(1, min(int(limit), HISTORY_LIMIT))
        with self.pool.connection() as conn:
            rows = conn.execute(_HISTORY, (alert_id, limit)).fetchall()
        total = rows[0][-1] if rows else 0
        return History([AuditEntry(*r[:-1]) for r in reversed(rows)], earlier=total - len(rows))

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
            feeds = frozenset(flt.feeds)
            rows = [a for a in rows if a.feed in feeds]
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
                "coalesce((payload->>'critical')::boolean, false), coalesce(payload->'subjects', '{}') "
                "FROM notifications WHERE channel = 'console' AND id > %s ORDER BY id DESC LIMIT %s",
                (after_id, limit),
            ).fetchall()
        # subjects: the subject in every language (alerts/wording.py), for the reader's
        keys = ("id", "alert_id", "reason", "subject", "recipient", "critical", "subjects")
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
