"""Reports kept in the store: a period is claimed before it is made, so two schedulers make one report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

#: a claim older than this whose maker never finished (it died) may be taken over
STALE_CLAIM = "15 minutes"

_CLAIM = """
INSERT INTO reports (kind, period_start, period_end, lang, incident_id, claimed_by)
VALUES (%(kind)s, %(start)s, %(end)s, %(lang)s, %(incident)s, %(by)s)
ON CONFLICT DO NOTHING RETURNING id
"""
_TAKE_OVER = f"""
UPDATE reports SET claimed_by = %(by)s, claimed_at = now()
WHERE kind = %(kind)s AND period_start = %(start)s AND lang = %(lang)s AND incident_id IS NULL
  AND (state = 'failed' OR (state = 'claimed' AND claimed_at < now() - interval '{STALE_CLAIM}'))
RETURNING id
"""


# a report on an incident is made again only when the last one failed, its maker died, or an officer
# acted on the incident's alerts since it was claimed (a note, an acknowledgement): else it stands
_CLAIM_INCIDENT = f"""
INSERT INTO reports (kind, period_start, period_end, lang, incident_id, claimed_by)
SELECT %(kind)s, %(start)s, %(end)s, %(lang)s, %(incident)s, %(by)s
WHERE NOT EXISTS (
    SELECT 1 FROM reports r
    WHERE r.kind = %(kind)s AND r.incident_id = %(incident)s AND r.lang = %(lang)s
      AND r.period_start = %(start)s AND r.period_end = %(end)s
      AND (r.state = 'done' OR (r.state = 'claimed' AND r.claimed_at >= now() - interval '{STALE_CLAIM}'))
      AND r.claimed_at >= (SELECT coalesce(max(u.at), '-infinity') FROM alert_audit u
                           JOIN alerts a ON a.id = u.alert_id WHERE a.incident_id = %(incident)s))
RETURNING id
"""


@dataclass(frozen=True)
class ArchivedReport:
    """One line of the reports list."""

    id: int
    kind: str
    period_start: datetime
    period_end: datetime
    lang: str
    state: str
    subject: str
    finished_at: datetime | None
    has_pdf: bool
    incident_id: int | None


def claim(pool: ConnectionPool, kind: str, start: datetime, end: datetime, lang: str, by: str,
          incident_id: int | None = None) -> int | None:
    """The id of a new report row this maker owns, or ``None`` when another maker has the period (or,
    for an incident, the report made of it still holds everything its alerts' history says)."""
    args: dict[str, Any] = {"kind": kind, "start": start, "end": end, "lang": lang, "by": by,
                            "incident": incident_id}
    if incident_id is not None:  # one maker at a time per incident: a second asking sees the first's row
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ioc-incident-report'), hashtext(%s))",
                         (str(incident_id),))
            row = conn.execute(_CLAIM_INCIDENT, args).fetchone()
        return int(row[0]) if row else None
    with pool.connection() as conn:
        row = conn.execute(_CLAIM, args).fetchone()
        if row is None and incident_id is None:
            row = conn.execute(_TAKE_OVER, args).fetchone()
    return int(row[0]) if row else None


def finish(pool: ConnectionPool, report_id: int, subject: str, html: str, pdf: bytes | None,
           error: str | None = None) -> None:
    """Store what was made (and why the PDF is missing, if it is)."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE reports SET state = 'done', subject = %s, html = %s, pdf = %s, error = %s, "
            "finished_at = now() WHERE id = %s", (subject, html, pdf, error, report_id))


def fail(pool: ConnectionPool, report_id: int, error: str) -> None:
    """Mark a report that could not be made (the next run tries the period again)."""
    with pool.connection() as conn:
        conn.execute("UPDATE reports SET state = 'failed', error = %s, finished_at = now() WHERE id = %s",
                      (error[:2000], report_id))


def made_periods(pool: ConnectionPool, kind: str, lang: str, since: datetime) -> set[datetime]:
    """Starts of the periods of ``kind`` already made (or being made) since ``since``."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT period_start FROM reports WHERE kind = %s AND lang = %s AND period_start >= %s "
            "AND incident_id IS NULL AND state <> 'failed'", (kind, lang, since)).fetchall()
    return {r[0] for r in rows}


def recent(pool: ConnectionPool, limit: int = 100) -> list[ArchivedReport]:
    """The newest reports first."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT id, kind, period_start, period_end, lang, state, subject, finished_at, "
            "pdf IS NOT NULL, incident_id FROM reports ORDER BY period_end DESC, id DESC LIMIT %s",
            (limit,)).fetchall()
    return [ArchivedReport(*r) for r in rows]


def body(pool: ConnectionPool, report_id: int, fmt: str) -> bytes | None:
    """The stored HTML or PDF of one report."""
    column = {"html": "convert_to(html, 'UTF8')", "pdf": "pdf"}[fmt]
    with pool.connection() as conn:
        row = conn.execute(f"SELECT {column} FROM reports WHERE id = %s AND state = 'done'",
                           (report_id,)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None
