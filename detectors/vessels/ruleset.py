"""Several vessel rules behind one per-vessel reorder queue: each position is ordered once.

Every :class:`~detectors.vessels.common.VesselRule` orders its own copy of each vessel's
positions (push, frontier, release, watermark, due heap), so five rules did that bookkeeping
five times per AIS position, and it cost more than their folds. :class:`VesselRuleSet` does it
once for its member rules (which must share ``settle_minutes``, ``allowed_lateness_minutes``
and ``forget_after_hours``) and hands each released fix to every member's ``_fold``, in member
order, the ordering decisions (a vessel's time passing, a vessel forgotten, the global frontier
passing) to the members they concern:

* each member keeps its own time-driven schedule: :meth:`VesselRule.schedule` of a member
  lands in :meth:`member_schedule`, and the set's lane of the vessel is due at the earliest of
  its members' times; when that time passes, exactly the members due before it are called,
  with the same ``until`` a rule ordering its own positions would get;
* likewise :meth:`VesselRule.schedule_global` (the set is due at its members' earliest).

So each member decides exactly what it decides alone, on any interleaving of the stream
(``tests/test_vessel_ruleset.py`` checks it against the rules run apart on the real samples
and a simulated fleet, with disorder, duplicates, a storm warning and a snapshot in the middle).
Signals keep their member's detector name; the set's own name only keys its snapshot. Storm
warnings go to the members that read them.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from ioc.events import AlertSignal, Event
from ioc.feeds.vessels.records import VesselPosition

from .common import POSITION_KIND, VesselRule

PLAIN_KINDS = frozenset({POSITION_KIND, "storm.warning"})


class VesselRuleSet(VesselRule):
    """Member vessel rules fed from one shared per-vessel reorder queue."""

    name = "vessel_rules"
    snapshot_version = 1

    def __init__(self, members: Sequence[VesselRule], *, plain_positions: bool = False) -> None:
        """``plain_positions``: every member reads plain ``vessel.position`` records (one process,
        no map cells), the encounter rule included; otherwise only position and warning readers."""
        if not members:
            raise ValueError("a vessel rule set needs at least one rule")
        first = members[0]
        for rule in members:
            if (rule._settle, rule._lateness, rule._forget_after) != (
                    first._settle, first._lateness, first._forget_after):
                raise ValueError(f"vessel rule {rule.name!r} orders positions with other settle/lateness/"
                                 f"forget settings than {first.name!r}: they cannot share one queue")
            if not plain_positions and not rule.kinds <= PLAIN_KINDS:
                raise ValueError(f"vessel rule {rule.name!r} reads {sorted(rule.kinds)}, not plain positions")
            if rule._family is not None:
                raise ValueError(f"vessel rule {rule.name!r} is already in a rule set")
            if rule._lanes or rule._watermark is not None:
                raise ValueError(f"vessel rule {rule.name!r} has seen positions: a set takes fresh rules")
        names = [r.name for r in members]
        if len(set(names)) != len(names):
            raise ValueError(f"vessel rules named twice in one set: {names}")
        super().__init__(first.config)
        self.members = list(members)
        for rule in self.members:
            rule._family = self
        self.kinds = frozenset({POSITION_KIND}) | frozenset(
            k for r in self.members for k in r.kinds if k in PLAIN_KINDS)
        self._member_due: list[dict[int, int]] = [{} for _ in self.members]
        self._dues_of = {id(rule): dues for rule, dues in zip(self.members, self._member_due, strict=True)}
        self.member_schedule_global()  # a storm warning given to a member before it joined

    # -- the Detector protocol ----------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if isinstance(event, VesselPosition):
            return super().observe(event)
        kind = getattr(event, "kind", None)
        out: list[AlertSignal] = []
        for rule in self.members:
            if kind in rule.kinds:
                out.extend(rule.observe(event))
        return out

    # -- the members' schedules -----------------------------------------------------------
    def member_schedule(self, rule: VesselRule, mmsi: int, due: int | None) -> None:
        """A member's :meth:`VesselRule.schedule`: remember it, and be due at the earliest."""
        dues = self._dues_of[id(rule)]
        if due is None:
            dues.pop(mmsi, None)
        else:
            dues[mmsi] = due
        self._reschedule(mmsi)

    def _reschedule(self, mmsi: int) -> None:
        lane = self._lanes.get(mmsi)
        if lane is None:
            return
        earliest = None
        for dues in self._member_due:
            due = dues.get(mmsi)
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        lane.due = earliest
        if earliest is None:
            return
        queued = self._queued.get(mmsi)
        if queued is None or earliest < queued:  # as VesselRule.schedule: a later due keeps its entry
            self._queued[mmsi] = earliest
            heapq.heappush(self._due_heap, (earliest, mmsi))

    def member_schedule_global(self) -> None:
        """A member's :meth:`VesselRule.schedule_global`: the set is due at the earliest."""
        self._global_due = min((r._global_due for r in self.members if r._global_due is not None),
                               default=None)

    # -- the hooks, dispatched ------------------------------------------------------------
    def _fold(self, fix: Any, out: list[AlertSignal]) -> None:
        for rule in self.members:
            rule._fold(fix, out)

    def _vessel_time_passes(self, mmsi: int, until: int, out: list[AlertSignal]) -> None:
        for rule, dues in zip(self.members, self._member_due, strict=True):
            due = dues.get(mmsi)
            if due is not None and due < until:
                del dues[mmsi]
                rule._vessel_time_passes(mmsi, until, out)
        self._reschedule(mmsi)

    def _global_time_passes(self, until: int, out: list[AlertSignal]) -> None:
        for rule in self.members:
            due = rule._global_due
            if due is not None and until > due:
                rule._global_time_passes(until, out)
        self.member_schedule_global()

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        for rule, dues in zip(self.members, self._member_due, strict=True):
            dues.pop(mmsi, None)
            rule._forget(mmsi, at, out)

    # -- snapshot -------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        return {"members": [
            {"name": rule.name, "rule": rule._body(), "global_due": rule._global_due,
             "due": {str(m): t for m, t in sorted(dues.items())}}
            for rule, dues in zip(self.members, self._member_due, strict=True)]}

    def _load(self, body: dict[str, Any]) -> None:
        saved = {m.get("name"): m for m in body.get("members", [])}
        for i, rule in enumerate(self.members):
            raw = saved.get(rule.name, {})
            rule._load(raw.get("rule", {}))
            rule._global_due = raw.get("global_due")
            self._member_due[i].clear()
            self._member_due[i].update({int(m): int(t) for m, t in raw.get("due", {}).items()})
        self.member_schedule_global()
