"""What every vessel rule shares: the position fix, per-vessel reordering, the base class.

A vessel rule folds each vessel's positions in event-time order. Positions reach it out of
order (several receivers, retries) and twice (at-least-once delivery); the bus keeps each
MMSI's order within its partition, but different partitions reach the runner in batches, so
one vessel's data can lag another's by minutes. :class:`VesselRule` therefore keeps one
reorder *lane* per vessel and two times:

* the *watermark* ``W``: the largest event time seen (positions, or
  :meth:`VesselRule.advance`; the runner hands it the positions' own clock through
  :meth:`VesselRule.advance_clocks`);
* a vessel's *frontier* ``F = max(newest position of that vessel, W - allowed_lateness) -
  settle``. Its positions at or before ``F`` are released in the order of :class:`Fix`
  (time, then lat, lon, sog, cog, nav_status) and folded by the rule;
* the *global frontier* ``G = W - allowed_lateness - settle``: every vessel's positions
  up to ``G`` have been folded. A position older than its vessel's frontier already
  released, or older than ``G``, is too late: dropped and counted (``late``); an exact copy
  of a held position, or of the last one released, is dropped and counted (``duplicates``).

So a vessel's positions out of order by less than ``settle``, arriving less than
``allowed_lateness`` behind the newest event time of any vessel, give exactly the signals of
sorted input, however the stream is interleaved or cut into batches. Decisions driven by time
alone (a vessel gone silent, a storm warning ending) are taken per vessel in the same order:
before the vessel's first position after the due time, or when its frontier passes it
(:meth:`VesselRule.schedule`, :meth:`VesselRule._vessel_time_passes`); decisions about
many vessels at once (encounter bins) when ``G`` passes them
(:meth:`VesselRule._global_time_passes`). A vessel not heard of for
``forget_after_hours`` is forgotten (:meth:`VesselRule._forget`), at the same point of its
sequence whichever way the stream was cut.

Times are kept as integer microseconds since the UNIX epoch (exact, JSON-friendly).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from detectors.base import check_version
from ioc.events import AlertSignal, Event, Severity
from ioc.feeds.vessels.records import VesselPosition
from ioc.feeds.vessels.settings import RuleConfig  # noqa: F401  (re-exported)
from ioc.i18n import render

POSITION_KIND = "vessel.position"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000
MINUTE_US = 60 * US


_ONE_US = timedelta(microseconds=1)
_LAST_US: tuple[Any, int] = (None, 0)  # (datetime, its microseconds): a pure memo, replaced atomically


def to_us(when: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch.

    The positions of one receiver's second share one time object (the decoder reads each tag-block
    time once), so the last one converted is remembered."""
    global _LAST_US
    last = _LAST_US
    if last[0] is when:
        return last[1]
    value = (when - EPOCH) // _ONE_US
    _LAST_US = (when, value)
    return value


def from_us(value: int) -> datetime:
    """Inverse of :func:`to_us` (UTC)."""
    return EPOCH + timedelta(microseconds=value)


def minutes(value_us: int) -> float:
    """A duration in microseconds as minutes (3 decimals)."""
    return round(value_us / MINUTE_US, 3)


_new_tuple = tuple.__new__
_LAST_FIX: tuple[Any, Any] = (None, None)  # (event, its fix): a pure memo, replaced atomically


class Fix(NamedTuple):
    """One position, ordered by time then vessel (unknown sog/cog/status are -1)."""

    t: int
    mmsi: int
    lat: float
    lon: float
    sog: float
    cog: float
    status: int

    @classmethod
    def of(cls, event: VesselPosition) -> Fix:
        """The fix of a position record (the last one is remembered: several rules ask in turn)."""
        global _LAST_FIX
        last = _LAST_FIX
        if last[0] is event:
            return last[1]
        sog, cog, status = event.sog, event.cog, event.nav_status
        fix = _new_tuple(cls, (  # a NamedTuple's own constructor, without its keyword handling
            to_us(event.time),
            event.mmsi,
            event.lat,
            event.lon,
            -1.0 if sog is None else sog,
            -1.0 if cog is None else cog,
            -1 if status is None else status,
        ))
        _LAST_FIX = (event, fix)
        return fix

    def point(self) -> dict[str, Any]:
        """Time and place, for signal details."""
        return {"time": from_us(self.t).isoformat(), "lat": self.lat, "lon": self.lon}


class ReorderBuffer:
    """One vessel's lane: held fixes in order, its frontier, and what the rule folded of it."""

    __slots__ = ("pending", "newest", "released", "last", "due", "late", "duplicates")

    def __init__(self) -> None:
        self.pending: list[Fix] = []  # sorted, not yet released
        self.newest: int | None = None  # the newest time pushed
        self.released: int | None = None  # the largest frontier released so far
        self.last: Fix | None = None  # the last fix released (folded), until forgotten
        self.due: int | None = None  # a time-driven decision about the vessel is due after this
        self.late = 0
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.pending)

    def push(self, fix: Fix, floor: int | None = None) -> int:
        """Buffer a fix: its index in :attr:`pending`, or -1 if it is a duplicate or too late
        (at or before the last fix released, before the released frontier or before ``floor``)."""
        last = self.last
        if last is not None and fix <= last:
            if fix == last:
                self.duplicates += 1
            else:
                self.late += 1
            return -1
        if (self.released is not None and fix.t < self.released) or (floor is not None and fix.t < floor):
            self.late += 1
            return -1
        pending = self.pending
        if not pending or fix > pending[-1]:
            pending.append(fix)
            at = len(pending) - 1
        else:
            at = bisect_left(pending, fix)
            if pending[at] == fix:
                self.duplicates += 1
                return -1
            pending.insert(at, fix)
        if self.newest is None or fix.t > self.newest:
            self.newest = fix.t
        return at

    def release(self, frontier: int) -> list[Fix]:
        """The held fixes at or before ``frontier``, in order (and forget them)."""
        pending = self.pending
        n = 0
        while n < len(pending) and pending[n].t <= frontier:
            n += 1
        out = pending[:n]
        if n:
            del pending[:n]
            self.last = out[-1]
        if self.released is None or frontier > self.released:
            self.released = frontier
        return out

    def state(self) -> list[Any]:
        """JSON snapshot."""
        return [
            [list(f) for f in self.pending],
            self.newest,
            self.released,
            None if self.last is None else list(self.last),
            self.due,
            self.late,
            self.duplicates,
        ]

    @classmethod
    def from_state(cls, raw: list[Any]) -> ReorderBuffer:
        """Inverse of :meth:`state`."""
        lane = cls()
        lane.pending = sorted(fix_from_list(f) for f in raw[0])
        lane.newest, lane.released = raw[1], raw[2]
        lane.last = None if raw[3] is None else fix_from_list(raw[3])
        lane.due, lane.late, lane.duplicates = raw[4], int(raw[5]), int(raw[6])
        return lane


def fix_from_list(raw: list[Any]) -> Fix:
    """A fix from its snapshot form ``[t, mmsi, lat, lon, sog, cog, status]``."""
    t, mmsi, lat, lon, sog, cog, status = raw
    return Fix(int(t), int(mmsi), float(lat), float(lon), float(sog), float(cog), int(status))





class VesselRule:
    """Base of the vessel rules: per-vessel ordering, time-driven decisions, snapshots."""

    name = "vessel"
    snapshot_version = 1
    kinds: frozenset[str] = frozenset({POSITION_KIND})

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._settle = round(config.settle_minutes * MINUTE_US)
        self._lateness = round(config.allowed_lateness_minutes * MINUTE_US)
        self._forget_after = round(config.forget_after_hours * 60 * MINUTE_US)
        self._lanes: dict[int, ReorderBuffer] = {}
        self._watermark: int | None = None
        self._global: int | None = None  # G: every vessel's fixes up to here are folded
        self._held: list[tuple[int, int]] = []  # (oldest held time, mmsi), lazily kept
        self._due_heap: list[tuple[int, int]] = []  # (time, mmsi); one live entry per vessel
        self._queued: dict[int, int] = {}  # mmsi -> time of its live entry (<= its due time)
        self._global_due: int | None = None  # time a many-vessel decision is due after
        self._next_sweep: int | None = None
        self._late = 0
        self._duplicates = 0
        self._family: Any = None  # the VesselRuleSet that orders this rule's positions, if any

    # -- the Detector protocol ----------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, VesselPosition):
            return []
        fix = Fix.of(event)
        mmsi, t = fix.mmsi, fix.t
        lane = self._lanes.get(mmsi)
        if lane is None:
            lane = self._lanes[mmsi] = ReorderBuffer()
        pending = lane.pending
        if pending and fix > pending[-1]:  # in order, behind held fixes: the common case
            pending.append(fix)
            if t > lane.newest:  # type: ignore[operator]
                lane.newest = t
        else:
            at = lane.push(fix, self._global)
            if at < 0:
                return []
            if at == 0:
                heapq.heappush(self._held, (t, mmsi))
        out: list[AlertSignal] = []
        watermark = self._watermark
        raised = watermark is None or t > watermark
        if raised:
            self._watermark = watermark = t
        newest = lane.newest
        assert newest is not None and watermark is not None
        frontier = max(newest, watermark - self._lateness) - self._settle
        released = lane.released
        if released is None or frontier > released:
            self._advance_vessel(mmsi, lane, out, frontier)
        if raised:
            self._advance_global(out)
        return out

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        out: list[AlertSignal] = []
        value = to_us(watermark)
        if self._watermark is None or value > self._watermark:
            self._watermark = value
            self._advance_global(out)
        return out

    def advance_clocks(self, watermarks: Mapping[str, datetime]) -> list[AlertSignal]:
        """Only the positions' clock drives a vessel rule (a storm warning is issued ahead of time)."""
        watermark = watermarks.get(POSITION_KIND)
        return [] if watermark is None else self.advance(watermark)

    def _frontier(self, lane: ReorderBuffer) -> int:
        assert self._watermark is not None and lane.newest is not None
        return max(lane.newest, self._watermark - self._lateness) - self._settle

    def _advance_vessel(self, mmsi: int, lane: ReorderBuffer, out: list[AlertSignal], frontier: int) -> None:
        """Release the vessel's fixes up to ``frontier`` (past its released one) and fold them."""
        lane.released = frontier
        pending = lane.pending
        forget = self._forget_after
        while pending and pending[0].t <= frontier:
            fix = pending.pop(0)
            last, due = lane.last, lane.due
            if (due is not None and fix.t > due) or (last is not None and fix.t - last.t > forget):
                self._time_passes_for(mmsi, lane, fix.t, out)
            self._fold(fix, out)
            lane.last = fix
        last, due = lane.last, lane.due
        if (due is not None and frontier > due) or (last is not None and frontier - last.t > forget):
            self._time_passes_for(mmsi, lane, frontier, out)

    def _time_passes_for(self, mmsi: int, lane: ReorderBuffer, until: int, out: list[AlertSignal]) -> None:
        """Every fix of ``mmsi`` before ``until`` is folded: decisions due, then forgetting."""
        last = lane.last
        forget_at = None if last is None else last.t + self._forget_after
        cap = until if forget_at is None else min(until, forget_at)
        due = lane.due
        if due is not None and due < cap:
            lane.due = None
            self._vessel_time_passes(mmsi, cap, out)
        if forget_at is not None and forget_at < until:
            lane.due = None
            lane.last = None
            self._forget(mmsi, forget_at, out)

    def _advance_global(self, out: list[AlertSignal]) -> None:
        assert self._watermark is not None
        horizon = self._watermark - self._lateness - self._settle
        if self._global is not None and horizon <= self._global:
            return
        self._global = horizon
        touched: set[int] = set()
        held = self._held
        while held and held[0][0] <= horizon:
            touched.add(heapq.heappop(held)[1])
        due_heap, queued, lanes = self._due_heap, self._queued, self._lanes
        while due_heap and due_heap[0][0] < horizon:
            key, mmsi = heapq.heappop(due_heap)
            if queued.get(mmsi) != key:
                continue  # superseded by an earlier entry
            del queued[mmsi]
            lane = lanes.get(mmsi)
            due = None if lane is None else lane.due
            if due is None:
                continue
            if due < horizon:
                touched.add(mmsi)
            else:  # scheduled later since: queue it at its real time
                queued[mmsi] = due
                heapq.heappush(due_heap, (due, mmsi))
        for mmsi in sorted(touched):
            lane = lanes.get(mmsi)
            if lane is None or lane.newest is None:
                continue
            frontier = self._frontier(lane)
            if lane.released is None or frontier > lane.released:
                self._advance_vessel(mmsi, lane, out, frontier)
            if lane.pending:
                heapq.heappush(held, (lane.pending[0].t, mmsi))
        if self._global_due is not None and horizon > self._global_due:
            self._global_time_passes(horizon, out)
        if self._next_sweep is None or horizon >= self._next_sweep:
            self._sweep(horizon, out)

    def _sweep(self, horizon: int, out: list[AlertSignal]) -> None:
        """Forget vessels silent for ``forget_after_hours`` (looked for once an hour of event time)."""
        hour = 60 * MINUTE_US
        self._next_sweep = (horizon // hour + 1) * hour
        limit = horizon - self._forget_after
        for mmsi in sorted(m for m, lane in self._lanes.items() if (lane.newest or 0) < limit):
            lane = self._lanes[mmsi]
            if lane.pending:
                continue  # its own advance decides
            self._time_passes_for(mmsi, lane, max(horizon, (lane.released or horizon)), out)
            self._late += lane.late
            self._duplicates += lane.duplicates
            del self._lanes[mmsi]
            self._queued.pop(mmsi, None)

    # -- for subclasses -------------------------------------------------------------------
    def schedule(self, mmsi: int, due: int | None) -> None:
        """Call :meth:`_vessel_time_passes` for ``mmsi`` once its fixes up to ``due`` are folded
        (``None``: nothing due). Replaces what was scheduled for it."""
        if self._family is not None:
            self._family.member_schedule(self, mmsi, due)
            return
        lane = self._lanes[mmsi]
        lane.due = due
        if due is None:
            return
        queued = self._queued.get(mmsi)
        if queued is None or due < queued:  # a later due keeps the earlier entry (checked on pop)
            self._queued[mmsi] = due
            heapq.heappush(self._due_heap, (due, mmsi))

    def schedule_global(self, due: int | None) -> None:
        """Call :meth:`_global_time_passes` once the global frontier is past ``due``."""
        self._global_due = due
        if self._family is not None:
            self._family.member_schedule_global()

    def _fold(self, fix: Fix, out: list[AlertSignal]) -> None:
        """Take the vessel's next fix in event-time order; append the signals it decides."""
        raise NotImplementedError

    def _vessel_time_passes(self, mmsi: int, until: int, out: list[AlertSignal]) -> None:
        """Every fix of ``mmsi`` before ``until`` is folded, and ``until`` is past what was
        scheduled for it; take the decisions due and :meth:`schedule` the next one."""

    def _global_time_passes(self, until: int, out: list[AlertSignal]) -> None:
        """Every vessel's fixes up to ``until`` are folded (and ``until`` is past
        :meth:`schedule_global`'s time): take the decisions about many vessels."""

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        """Drop what is kept about a vessel silent since ``at - forget_after_hours``."""

    def _body(self) -> dict[str, Any]:
        """The subclass's part of the snapshot."""
        return {}

    def _load(self, body: dict[str, Any]) -> None:
        """Load the subclass's part of a snapshot."""

    @property
    def counters(self) -> dict[str, int]:
        """Late and duplicate positions dropped, positions held, vessels tracked."""
        lanes = self._lanes.values()
        return {
            "late": self._late + sum(lane.late for lane in lanes),
            "duplicates": self._duplicates + sum(lane.duplicates for lane in lanes),
            "held": sum(len(lane) for lane in lanes),
            "vessels": len(self._lanes),
        }

    def event_times(self) -> Iterator[datetime]:
        """Its watermark and each vessel's newest position (:class:`~detectors.base.KeepsEventTimes`)."""
        if self._watermark is not None:
            yield from_us(self._watermark)
        yield from (from_us(lane.newest) for lane in self._lanes.values() if lane.newest is not None)

    def state(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "version": self.snapshot_version,
            "watermark": self._watermark,
            "global": self._global,
            "lanes": {str(m): lane.state() for m, lane in sorted(self._lanes.items())},
            "global_due": self._global_due,
            "next_sweep": self._next_sweep,
            "dropped": [self._late, self._duplicates],
            "rule": self._body(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        check_version(state, self.name, self.snapshot_version)
        self._watermark = state.get("watermark")
        self._global = state.get("global")
        self._lanes = {int(m): ReorderBuffer.from_state(raw) for m, raw in state.get("lanes", {}).items()}
        self._due_heap = [(lane.due, m) for m, lane in self._lanes.items() if lane.due is not None]
        heapq.heapify(self._due_heap)
        self._queued = {m: t for t, m in self._due_heap}
        self._held = [(lane.pending[0].t, m) for m, lane in self._lanes.items() if lane.pending]
        heapq.heapify(self._held)
        self._global_due = state.get("global_due")
        self._next_sweep = state.get("next_sweep")
        self._late, self._duplicates = (int(x) for x in state.get("dropped", [0, 0]))
        self._load(state.get("rule", {}))

    # -- helpers --------------------------------------------------------------------------
    def signal(
        self,
        *,
        fingerprint: str,
        status: str,
        t: int,
        mmsi: int,
        title: str = "",
        started_at: int | None,
        details: dict[str, Any],
        area: str | None = None,
        rule: str | None = None,
        severity: Severity | None = None,
        title_template: str | None = None,
        title_params: dict[str, Any] | None = None,
    ) -> AlertSignal:
        """An alert signal of this rule about vessel ``mmsi`` at event time ``t``; ``title_template``
        (an ``alerts`` catalogue message) and ``title_params`` let readers see it in their language
        (the stored English ``title`` is the template filled in, unless given)."""
        if not title and title_template:
            title = render("alerts", title_template, title_params, "en", title_template)
        return AlertSignal(
            time=from_us(t),
            source_id=str(mmsi),
            detector=self.name,
            rule=rule or self.name,
            fingerprint=fingerprint,
            status=status,  # type: ignore[arg-type]
            severity=severity or self.config.severity,
            title=title[:512],
            title_template=title_template,
            title_params=title_params or {},
            area=area,
            started_at=None if started_at is None else from_us(started_at),
            details={"mmsi": mmsi, **details},
        )


def speed_knots(meters: float, micros: int) -> float:
    """Speed over ground in knots of ``meters`` covered in ``micros`` microseconds."""
    if micros <= 0:
        return 0.0
    return meters / (micros / US) * 3600 / 1852
