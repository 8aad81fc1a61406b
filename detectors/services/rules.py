"""Rules over one-stop-shop dossier events, pure and in event time.

* ``approaching_due`` (warning): an open dossier within ``approaching_hours`` of its due time;
* ``overdue`` (critical): an open dossier past its due time; both resolve when it is finished;
* ``on_time_rate`` (warning): a department's share of dossiers finished by their due time, over the
  dossiers finished in the last ``on_time_window_days`` (by finish time), below its target;
* ``handling_jump`` (warning): the median handling time of a procedure's last ``handling_recent``
  finished dossiers is ``handling_jump_ratio`` times the median of the ``handling_baseline`` before.

Time comes only from the events (the largest event time seen) and from :meth:`advance`.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from detectors.base import check_version, dump_time, load_time
from ioc.events import AlertSignal, Event
from ioc.feeds.services.records import FINAL, DossierEvent
from ioc.feeds.services.settings import ServicesRuleSettings
from ioc.i18n import TIME_FIELDS

NAME = "services"
VERSION = 1
FORGET_AFTER = timedelta(days=60)  # a change of a dossier finished this long ago is no longer expected


class ServicesDetector:
    """All four dossier rules over ``services.dossier`` events."""

    name = NAME

    def __init__(self, cfg: ServicesRuleSettings, zone: str = "UTC") -> None:
        self.cfg = cfg
        self.zone = ZoneInfo(zone)  # the city's, for the due times alert titles show
        self.kinds = frozenset({"services.dossier"}) if cfg.enabled else frozenset()
        self.clock: datetime | None = None
        self.open: dict[str, dict[str, Any]] = {}  # dossier id -> due, department, procedure, source, alerts
        self.finished: dict[str, datetime] = {}  # dossier id -> finish time, kept FORGET_AFTER
        self.departments: dict[str, deque[tuple[datetime, bool]]] = {}  # finish time, on time
        self.procedures: dict[str, deque[float]] = {}  # handling hours, in finish order
        self.pruned: datetime | None = None  # when ``finished`` was last pruned (event time)
        self.firing: dict[str, datetime] = {}  # department / procedure fingerprints open -> since

    @classmethod
    def from_settings(cls, settings: Any) -> ServicesDetector:
        cfg = getattr(settings.rules, "services", None)
        return cls(cfg if cfg is not None else ServicesRuleSettings(enabled=[]), settings.timezone)

    # -- signals ---------------------------------------------------------------------------
    def _signal(
        self,
        t: datetime,
        rule: str,
        fp: str,
        status: str,
        severity: str,
        template: str,
        params: dict[str, Any],
        source: str,
        details: dict[str, Any],
    ) -> AlertSignal:
        return AlertSignal(
            time=t,
            source_id=source,
            detector=NAME,
            rule=rule,
            fingerprint=fp,
            status=status,
            severity=severity,
            title=template.format(**params),
            title_template=template,
            title_params=params,
            details=details,
        )

    # -- the contract ------------------------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, DossierEvent) or event.dossier_id in self.finished:
            return []
        out: list[AlertSignal] = []
        if event.status in FINAL:
            out += self._finish(event)
        else:
            entry = self.open.setdefault(event.dossier_id, {"alerts": []})
            entry.update(
                due=event.due,
                department=event.department,
                procedure=event.procedure_code,
                source=event.source_id,
            )
        return out + self.advance(event.time)

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        if self.clock is not None and watermark <= self.clock:
            return []
        self.clock = watermark
        if self.pruned is None or watermark - self.pruned > FORGET_AFTER:  # once per FORGET_AFTER
            self.finished = {k: v for k, v in self.finished.items() if v >= watermark - FORGET_AFTER}
            self.pruned = watermark
        out: list[AlertSignal] = []
        enabled = self.cfg.enabled
        soon = timedelta(hours=self.cfg.approaching_hours)
        for dossier, entry in sorted(self.open.items()):
            due: datetime = entry["due"]
            # the due time in the city's zone, written in the reader's form when shown (TIME_FIELDS)
            params = {"dossier": dossier, "department": entry["department"],
                      "due": due.astimezone(self.zone).isoformat(), TIME_FIELDS: ["due"]}
            details = {"dossier_id": dossier, "procedure_code": entry["procedure"], "due": due.isoformat()}
            if "overdue" in enabled and watermark > due and "overdue" not in entry["alerts"]:
                entry["alerts"].append("overdue")
                out.append(
                    self._signal(
                        due,
                        "overdue",
                        f"services:overdue:{dossier}",
                        "firing",
                        "critical",
                        "Dossier {dossier} of {department} is overdue (due {due})",
                        params,
                        entry["source"],
                        details,
                    )
                )
            elif (
                "approaching_due" in enabled
                and due - soon <= watermark <= due
                and "approaching_due" not in entry["alerts"]
            ):
                entry["alerts"].append("approaching_due")
                out.append(
                    self._signal(
                        watermark,
                        "approaching_due",
                        f"services:approaching:{dossier}",
                        "firing",
                        "warning",
                        "Dossier {dossier} of {department} is due at {due}",
                        params,
                        entry["source"],
                        details,
                    )
                )
        return out

    def _finish(self, e: DossierEvent) -> list[AlertSignal]:
        assert e.finished is not None
        out: list[AlertSignal] = []
        entry = self.open.pop(e.dossier_id, None)
        self.finished[e.dossier_id] = e.finished
        for rule in (entry or {}).get("alerts", []):
            fp = f"services:{'overdue' if rule == 'overdue' else 'approaching'}:{e.dossier_id}"
            out.append(
                self._signal(
                    e.time,
                    rule,
                    fp,
                    "resolved",
                    "info",
                    "Dossier {dossier} is finished",
                    {"dossier": e.dossier_id},
                    e.source_id,
                    {"dossier_id": e.dossier_id},
                )
            )
        if "on_time_rate" in self.cfg.enabled:
            out += self._on_time(e)
        if "handling_jump" in self.cfg.enabled:
            out += self._handling(e)
        return out

    def _on_time(self, e: DossierEvent) -> list[AlertSignal]:
        assert e.finished is not None
        window = self.departments.setdefault(e.department, deque())
        window.append((e.finished, e.finished <= e.due))
        horizon = max(t for t, _ in window) - timedelta(days=self.cfg.on_time_window_days)
        kept = sorted((t, ok) for t, ok in window if t > horizon)
        window.clear()
        window.extend(kept)
        if len(window) < self.cfg.on_time_min_finished:
            return []
        rate = sum(ok for _, ok in window) / len(window)
        target = self.cfg.department_targets.get(e.department, self.cfg.on_time_target)
        fp = f"services:on_time:{e.department}"
        params = {"department": e.department, "rate": round(100 * rate, 1), "target": round(100 * target, 1)}
        details = {"department": e.department, "rate": rate, "target": target, "finished": len(window)}
        if rate < target and fp not in self.firing:
            self.firing[fp] = e.time
            return [
                self._signal(
                    e.time,
                    "on_time_rate",
                    fp,
                    "firing",
                    "warning",
                    "{department}: {rate}% of dossiers on time (target {target}%)",
                    params,
                    e.source_id,
                    details,
                )
            ]
        if rate >= target and fp in self.firing:
            del self.firing[fp]
            return [
                self._signal(
                    e.time,
                    "on_time_rate",
                    fp,
                    "resolved",
                    "info",
                    "{department}: {rate}% of dossiers on time (target {target}%)",
                    params,
                    e.source_id,
                    details,
                )
            ]
        return []

    def _handling(self, e: DossierEvent) -> list[AlertSignal]:
        assert e.finished is not None
        recent_n, base_n = self.cfg.handling_recent, self.cfg.handling_baseline
        hours = self.procedures.setdefault(e.procedure_code, deque(maxlen=recent_n + base_n))
        hours.append((e.finished - e.received).total_seconds() / 3600)
        if len(hours) < recent_n + base_n:
            return []
        values = list(hours)
        base, recent = median(values[:base_n]), median(values[base_n:])
        ratio = recent / base if base > 0 else float("inf")
        fp = f"services:handling:{e.procedure_code}"
        params = {"procedure": e.procedure_code, "recent": round(recent, 1), "baseline": round(base, 1)}
        details = {"procedure_code": e.procedure_code, "recent_median_h": recent, "baseline_median_h": base}
        if ratio >= self.cfg.handling_jump_ratio and fp not in self.firing:
            self.firing[fp] = e.time
            return [
                self._signal(
                    e.time,
                    "handling_jump",
                    fp,
                    "firing",
                    "warning",
                    "Procedure {procedure}: median handling {recent} h (was {baseline} h)",
                    params,
                    e.source_id,
                    details,
                )
            ]
        if ratio < self.cfg.handling_jump_ratio and fp in self.firing:
            del self.firing[fp]
            return [
                self._signal(
                    e.time,
                    "handling_jump",
                    fp,
                    "resolved",
                    "info",
                    "Procedure {procedure}: median handling {recent} h (was {baseline} h)",
                    params,
                    e.source_id,
                    details,
                )
            ]
        return []

    # -- snapshots -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "detector": NAME,
            "version": VERSION,
            "clock": dump_time(self.clock),
            "open": {
                k: {**v, "due": dump_time(v["due"]), "alerts": list(v["alerts"])}
                for k, v in self.open.items()
            },
            "finished": {k: dump_time(v) for k, v in sorted(self.finished.items())},
            "departments": {k: [[dump_time(t), ok] for t, ok in v] for k, v in self.departments.items()},
            "procedures": {k: list(v) for k, v in self.procedures.items()},
            "firing": {k: dump_time(v) for k, v in self.firing.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        check_version(state, NAME, VERSION)
        self.clock = load_time(state["clock"])
        self.open = {k: {**v, "due": load_time(v["due"])} for k, v in state["open"].items()}
        self.finished = {k: load_time(v) for k, v in state["finished"].items()}  # type: ignore[misc]
        self.departments = {
            k: deque((load_time(t), ok) for t, ok in v) for k, v in state["departments"].items()
        }
        n = self.cfg.handling_recent + self.cfg.handling_baseline
        self.procedures = {k: deque(v, maxlen=n) for k, v in state["procedures"].items()}
        self.firing = {k: load_time(v) for k, v in state["firing"].items()}  # type: ignore[misc]
