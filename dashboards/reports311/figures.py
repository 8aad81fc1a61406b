"""What the field-reports page shows, computed from report and status records (no page code here).

A department's queue sorted by the next deadline; open reports with their age; the on-time rate
per department over the week (from Monday 00:00 in the city's time zone, ``timezone`` of its settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ioc.events import Event
from ioc.feeds.reports.records import OPEN_STATUSES, FieldReport, ReportStatusChange

HUE = ZoneInfo("Asia/Ho_Chi_Minh")  # the sample city's, the default


@dataclass
class Case:
    report: FieldReport
    status: str = "received"
    acked: datetime | None = None
    closed: datetime | None = None
    history: list[ReportStatusChange] | None = None

    def next_due(self) -> datetime:
        return self.report.ack_due if self.acked is None else self.report.resolve_due


def cases(events: Iterable[Event]) -> dict[str, Case]:
    """Each report with its latest status and history, from records in any order."""
    out: dict[str, Case] = {}
    changes: list[ReportStatusChange] = []
    for e in events:
        if isinstance(e, FieldReport):
            out.setdefault(e.source_id, Case(e, history=[]))
        elif isinstance(e, ReportStatusChange):
            changes.append(e)
    for c in sorted(changes, key=lambda c: c.time):
        case = out.get(c.source_id)
        if case is None:
            continue
        assert case.history is not None
        case.history.append(c)
        case.status = c.status
        if c.status != "received" and case.acked is None:
            case.acked = c.time
        if c.status in ("resolved", "rejected"):
            case.closed = c.time
    return out


def queue(all_cases: dict[str, Case], department: str) -> list[Case]:
    """A department's open reports, the most urgent deadline first."""
    mine = [c for c in all_cases.values() if c.report.department == department and c.status in OPEN_STATUSES]
    return sorted(mine, key=lambda c: (c.next_due(), c.report.source_id))


def age_hours(case: Case, now: datetime) -> float:
    return (now - case.report.time).total_seconds() / 3600


def week_start(now: datetime, zone: ZoneInfo = HUE) -> datetime:
    """Monday 00:00 of ``now``'s week in the city's ``zone``."""
    local = now.astimezone(zone)
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def on_time_rate(all_cases: dict[str, Case], now: datetime,
                 zone: ZoneInfo = HUE) -> dict[str, tuple[int, int]]:
    """Per department: (resolved on time, closed) of the reports closed this week in the city's ``zone``
    (rejections excluded)."""
    start = week_start(now, zone)
    out: dict[str, tuple[int, int]] = {}
    for c in all_cases.values():
        if c.closed is None or c.status != "resolved" or not start <= c.closed <= now:
            continue
        good, total = out.get(c.report.department, (0, 0))
        out[c.report.department] = (good + (c.closed <= c.report.resolve_due), total + 1)
    return out
