"""A report's lifecycle as staff move it: which change is allowed from which status, and writing it.

received -> assigned -> in_progress -> resolved, and rejected (with a reason) from any open status;
a closed report (resolved, rejected) changes no more. A change is stored with its actor (the audit)
at once, so ``GET requests/{id}`` shows it, and queued in ``field_report_outbox`` in the same
transaction: the Open311 intake puts it on the bus, where the deadline rules see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from ioc.feeds.reports.records import ReportStatusChange
from ioc.feeds.reports.tables import STATUS_TABLE

ALLOWED_FROM: dict[str, frozenset[str]] = {
    "assigned": frozenset({"received", "assigned"}),  # assigning again: another team
    "in_progress": frozenset({"received", "assigned"}),
    "resolved": frozenset({"assigned", "in_progress"}),
    "rejected": frozenset({"received", "assigned", "in_progress"}),
}


class ChangeRefused(Exception):
    """A change that cannot be made: ``code`` is the HTTP status (400, 404, 409); ``message`` a
    catalogue message (domain ``reports311``, its English text the id) with its ``params`` (status
    codes as they are: the reader's page names them); ``str()`` the English reason."""

    def __init__(self, code: int, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.code = code
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Change:
    status: str
    actor: str
    reason: str = ""
    department: str | None = None
    assignee_group: str | None = None


def change_status(pool: ConnectionPool, request_id: str, change: Change, now: datetime) -> ReportStatusChange:
    """Record ``change`` of report ``request_id`` (serialised per report) or raise :class:`ChangeRefused`."""
    if change.status not in ALLOWED_FROM:
        raise ChangeRefused(400, "status must be one of {statuses}", statuses=", ".join(ALLOWED_FROM))
    if change.status == "rejected" and not change.reason.strip():
        raise ChangeRefused(400, "a rejection needs a reason")
    with pool.connection() as conn, conn.transaction():  # the lock is held to the commit
        found = conn.execute(
            "SELECT department, assignee_group FROM field_reports WHERE request_id = %s FOR UPDATE",
            (request_id,),
        ).fetchone()
        if found is None:
            raise ChangeRefused(404, "no report {id}", id=request_id[:64])
        last = conn.execute(
            "SELECT status, time FROM field_report_status WHERE request_id = %s ORDER BY time DESC, status "
            "LIMIT 1",
            (request_id,),
        ).fetchone()
        current, since = (last[0], last[1]) if last else ("received", None)
        if current not in ALLOWED_FROM[change.status]:
            raise ChangeRefused(409, "report {id} is {current}: it cannot become {status}", id=request_id,
                                current=current, status=change.status)
        at = now if since is None or now > since else since + timedelta(microseconds=1)
        assigning = change.status == "assigned"
        event = ReportStatusChange(
            time=at, source_id=request_id, status=change.status, reason=change.reason.strip(),
            actor=change.actor,
            department=(change.department or found[0]) if assigning else None,
            assignee_group=(change.assignee_group or found[1]) if assigning else None,
        )
        cols = ", ".join(n for n, _ in STATUS_TABLE.columns)
        marks = ", ".join("%s" for _ in STATUS_TABLE.columns)
        conn.execute(f"INSERT INTO field_report_status ({cols}) VALUES ({marks})", STATUS_TABLE.to_row(event))
        conn.execute("INSERT INTO field_report_outbox (event) VALUES (%s::jsonb)", (event.model_dump_json(),))
    return event
