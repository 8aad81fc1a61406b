"""A burst: many reports of one category in one ward within a window, raised as one alert."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ioc.events import AlertSignal, Event
from ioc.feeds.reports.records import CATEGORY_DOMAIN, FieldReport
from ioc.feeds.reports.settings import ReportsRules
from ioc.i18n import TERM_DOMAINS

# the alert title (``alerts`` catalogue: rendered in the screen's language when shown)
BURST_TITLE = "{count} reports of {category} in {ward} within {minutes} min"


class ReportBurstDetector:
    """Fires once when ``burst_count`` reports of a category land in a ward within ``burst_minutes``;
    resolves when the window (in event time) holds fewer again, at the time it did. Reads the reports'
    copies keyed by category and ward (``reports.area_report``), so in distributed mode a ward's
    reports meet in one partition whatever their ids."""

    name = "reports_burst"
    kinds = frozenset({"reports.area_report"})

    def __init__(self, rules: ReportsRules) -> None:
        self.rules = rules
        self._window = timedelta(minutes=rules.burst_minutes)
        self._times: dict[str, list[str]] = {}  # "code|ward" -> report times (ISO, sorted)
        self._seen: dict[str, str] = {}  # report id -> time, to ignore repeats
        self._firing: dict[str, str] = {}  # group -> started_at

    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, FieldReport) or event.source_id in self._seen or event.duplicate_of:
            return []
        self._seen[event.source_id] = event.time.isoformat()
        group = f"{event.service_code}|{event.ward or '-'}"
        out = self._drained(group, event.time)  # a burst over before this report is over
        times = sorted([*self._times.get(group, []), event.time.isoformat()], key=datetime.fromisoformat)
        self._times[group] = times
        recent = [t for t in times if datetime.fromisoformat(t) > event.time - self._window
                  and datetime.fromisoformat(t) <= event.time]
        if len(recent) >= self.rules.burst_count and group not in self._firing:
            self._firing[group] = event.time.isoformat()
            out.append(self._signal(group, "firing", event.time, len(recent), event.category))
        return out

    def _drained(self, group: str, at: datetime) -> list[AlertSignal]:
        """The resolution of ``group``'s burst if its window holds fewer than ``burst_count`` reports at
        ``at``: at the moment it fell below, when the ``burst_count``-th latest report left the window
        (not when it was noticed, which depends on how often the rule is advanced)."""
        if group not in self._firing:
            return []
        times = [datetime.fromisoformat(t) for t in self._times.get(group, [])]
        times = [t for t in times if t <= at]
        count = self.rules.burst_count
        if sum(t > at - self._window for t in times) >= count:
            return []
        ended = times[-count] + self._window if len(times) >= count else at
        kept = sum(ended - self._window < t <= ended for t in times)
        signal = self._signal(group, "resolved", ended, kept)
        del self._firing[group]
        return [signal]

    def _signal(self, group: str, status: str, at: datetime, count: int, category: str = "") -> AlertSignal:
        code, ward = group.split("|", 1)
        minutes = self.rules.burst_minutes
        params = {"count": count, "category": category or code, "ward": ward,
                  "minutes": int(minutes) if float(minutes).is_integer() else minutes,
                  TERM_DOMAINS: {"category": CATEGORY_DOMAIN}}
        return AlertSignal(
            time=at, source_id=f"reports:{code}", detector=self.name, rule="reports.burst",
            fingerprint=f"reports.burst:{group}", status=status, severity="warning",
            title=BURST_TITLE.format(**params), title_template=BURST_TITLE, title_params=params,
            area=None if ward == "-" else ward,
            started_at=datetime.fromisoformat(self._firing[group]) if group in self._firing else None,
            details={"service_code": code, "count": count})

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        out: list[AlertSignal] = []
        cutoff = watermark - self._window
        for group in sorted(self._times):
            out += self._drained(group, watermark)
            kept = [t for t in self._times[group] if datetime.fromisoformat(t) > cutoff]
            self._times[group] = kept
            if not kept:
                del self._times[group]
        keep_from = cutoff - self._window
        self._seen = {k: v for k, v in self._seen.items() if datetime.fromisoformat(v) > keep_from}
        return out

    def state(self) -> dict[str, Any]:
        return {"times": self._times, "seen": self._seen, "firing": self._firing}

    def restore(self, state: dict[str, Any]) -> None:
        self._times = dict(state.get("times", {}))
        self._seen = dict(state.get("seen", {}))
        self._firing = dict(state.get("firing", {}))
