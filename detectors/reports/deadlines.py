"""Field reports about to miss (warning) or past (critical) their acknowledge and resolve deadlines.

Pure event-time logic: a report's deadlines come in its record (routed at intake), its status
changes in status records, and time moves with :meth:`advance` and with each report's own status
changes. A deadline is judged in UTC instants, so a shift change or the city's zone
(Asia/Ho_Chi_Minh, no daylight saving) changes nothing. Acknowledged means any status after
``received``; closed means resolved or rejected.

The signals depend on the records alone, not on how often the runner advances the rule: a status
change first judges its report's deadlines at its own time (a deadline passed before it was met
alerts even when no advance came between, as in a backlog the runner reads before it advances),
and a judgement that passes a deadline outright raises the warning that fell before it too (from
its time, resolved at the deadline), as a judgement between the two would have.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ioc.events import AlertSignal, Event
from ioc.feeds.reports.records import CATEGORY_DOMAIN, FieldReport, ReportStatusChange
from ioc.feeds.reports.settings import ReportsRules
from ioc.i18n import TERM_DOMAINS

DEADLINES = ("ack", "resolve")

# the alert titles (``alerts`` catalogue: rendered in the screen's language when shown), by deadline
# (``ack``, ``resolve``) and whether it has passed (else it is near)
DEADLINE_TITLES: dict[tuple[str, bool], str] = {
    ("ack", True): "Report {report} ({category}) past its acknowledge deadline",
    ("resolve", True): "Report {report} ({category}) past its resolve deadline",
    ("ack", False): "Report {report} ({category}) about to miss its acknowledge deadline",
    ("resolve", False): "Report {report} ({category}) about to miss its resolve deadline",
}


class ReportDeadlineDetector:
    """One alert per report and deadline: ``warning`` once ``warn_fraction`` of its span has passed,
    ``critical`` at the deadline (the warning then resolves), all resolved when the report is met."""

    name = "reports_deadline"
    kinds = frozenset({"reports.report", "reports.status"})

    def __init__(self, rules: ReportsRules) -> None:
        self.rules = rules
        self._reports: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, list[tuple[str, str, str]]] = {}  # statuses seen before their report

    def observe(self, event: Event) -> list[AlertSignal]:
        if isinstance(event, FieldReport):
            if event.source_id in self._reports:
                return []
            self._reports[event.source_id] = {
                "received": event.time.isoformat(), "ack": event.ack_due.isoformat(),
                "resolve": event.resolve_due.isoformat(), "department": event.department,
                "category": event.category, "ward": event.ward, "acked": None, "closed": None, "firing": {}}
            out: list[AlertSignal] = []
            for status, at, _ in self._pending.pop(event.source_id, []):
                out += self._status(event.source_id, status, datetime.fromisoformat(at))
            return out
        if isinstance(event, ReportStatusChange):
            if event.source_id not in self._reports:
                self._pending.setdefault(event.source_id, []).append(
                    (event.status, event.time.isoformat(), event.reason))
                return []
            return self._status(event.source_id, event.status, event.time)
        return []

    def _status(self, rid: str, status: str, at: datetime) -> list[AlertSignal]:
        rep = self._reports[rid]
        out = self._judge(rid, at)  # what passed before this change is judged first
        if status != "received" and rep["acked"] is None:
            rep["acked"] = at.isoformat()
            out += self._clear(rid, "ack", at)
        if status in ("resolved", "rejected") and rep["closed"] is None:
            rep["closed"] = at.isoformat()
            out += self._clear(rid, "resolve", at)
        if rep["acked"] and rep["closed"]:
            self._reports.pop(rid)
        return out

    def _clear(self, rid: str, deadline: str, at: datetime) -> list[AlertSignal]:
        rep = self._reports[rid]
        level = rep["firing"].pop(deadline, None)
        return [self._signal(rid, deadline, level, "resolved", at)] if level else []

    def _signal(self, rid: str, deadline: str, level: str, status: str, at: datetime) -> AlertSignal:
        rep = self._reports[rid]
        template = DEADLINE_TITLES[(deadline, level == "critical")]
        params = {"report": rid, "category": rep["category"], TERM_DOMAINS: {"category": CATEGORY_DOMAIN}}
        return AlertSignal(
            time=at, source_id=rid, detector=self.name, rule=f"reports.{deadline}_{level}",
            fingerprint=f"reports.deadline:{rid}:{deadline}:{level}", status=status,
            severity="critical" if level == "critical" else "warning", title=template.format(**params),
            title_template=template, title_params=params, area=rep["ward"] or None,
            started_at=at if status == "firing" else None,
            details={"department": rep["department"], "due": rep[deadline], "deadline": deadline})

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        out: list[AlertSignal] = []
        for rid in sorted(self._reports):
            out += self._judge(rid, watermark)
        return out

    def _judge(self, rid: str, at: datetime) -> list[AlertSignal]:
        """The deadlines of report ``rid`` still open, judged at ``at``: each signal at its own time."""
        rep = self._reports[rid]
        received = datetime.fromisoformat(rep["received"])
        out: list[AlertSignal] = []
        for deadline in DEADLINES:
            if rep["acked" if deadline == "ack" else "closed"] is not None:
                continue
            due = datetime.fromisoformat(rep[deadline])
            warn_at = received + (due - received) * self.rules.warn_fraction
            current = rep["firing"].get(deadline)
            if warn_at <= at and warn_at < due and current is None:
                current = rep["firing"][deadline] = "warning"
                out.append(self._signal(rid, deadline, "warning", "firing", warn_at))
            if at >= due and current != "critical":
                if current == "warning":
                    out.append(self._signal(rid, deadline, "warning", "resolved", due))
                rep["firing"][deadline] = "critical"
                out.append(self._signal(rid, deadline, "critical", "firing", due))
        return out

    def state(self) -> dict[str, Any]:
        return {"reports": self._reports, "pending": self._pending}

    def restore(self, state: dict[str, Any]) -> None:
        self._reports = dict(state.get("reports", {}))
        self._pending = {k: [tuple(x) for x in v] for k, v in state.get("pending", {}).items()}
