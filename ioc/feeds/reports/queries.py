"""What the ``/reports311/`` page reads: the reports still open or closed lately, with their status
changes, and the file of a stored photo."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ioc.events import Event
from ioc.feeds.reports.tables import REPORT_TABLE, STATUS_TABLE

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def page_records(pool: ConnectionPool, closed_since: datetime, limit: int = 5000) -> list[Event]:
    """Reports not closed before ``closed_since`` (open, or closed since) and all their status changes."""
    sql = (
        "SELECT * FROM field_reports r WHERE NOT EXISTS (SELECT 1 FROM field_report_status s "
        "WHERE s.request_id = r.request_id AND s.status IN ('resolved', 'rejected') AND s.time < %s) "
        "ORDER BY r.time DESC LIMIT %s"
    )
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        reports: list[dict[str, Any]] = cur.execute(sql, (closed_since, limit)).fetchall()
        ids = [r["request_id"] for r in reports]
        changes = cur.execute(
            "SELECT * FROM field_report_status WHERE request_id = ANY(%s) ORDER BY time, status", (ids,)
        ).fetchall() if ids else []
    assert REPORT_TABLE.from_row is not None and STATUS_TABLE.from_row is not None
    return [REPORT_TABLE.from_row(r) for r in reports] + [STATUS_TABLE.from_row(s) for s in changes]


def photo_file(pool: ConnectionPool, sha256: str) -> str | None:
    """The stored file of the photo with this SHA-256, if a report holds one."""
    if not SHA256.match(sha256):
        return None
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT p->>'path' FROM field_reports, jsonb_array_elements(photos) p "
            "WHERE photos @? %s::jsonpath LIMIT 1",
            (f'$[*] ? (@.sha256 == "{sha256}")',),
        ).fetchone()
    return str(row[0]) if row else None
