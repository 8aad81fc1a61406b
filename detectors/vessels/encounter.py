"""Encounter: two vessels side by side at sea, slowly, for hours (a possible transshipment).

After Global Fishing Watch's encounter events: two vessels within ``max_distance_m`` (500 m)
of each other for at least ``min_duration_minutes`` (2 h), both at low speed (under
``max_speed_kn``, 2 kn) and away from port (``min_port_distance_m`` from a port zone).

Event time is cut into bins of ``bin_minutes`` (aligned on the epoch). A bin is judged once
every position before its end has been folded (the frontier passed it). In each bin, each
vessel is represented by its latest position (if no older than ``max_fix_age_minutes`` at
the bin's end) and its mean reported speed over the bin's positions (or, with none in the
bin, the previous value; the implied speed when no speed is reported). Low-speed vessels
away from port go into a grid of cells of about ``max_distance_m`` (a spatial hash), so only
neighbouring cells are compared: thousands of vessels cost little.

A pair close in a bin starts or extends a run; a run that has covered
``min_duration_minutes`` of bins fires (``time`` = the end of that bin, ``started_at`` = the
start of its first bin). A run survives ``max_missed_bins`` bins without the pair being
close; after that it ends, and a firing run is resolved (``time`` = end of the bin that
ended it). Fingerprint: ``encounter:{low_mmsi}:{high_mmsi}``; ``source_id`` is the lower MMSI.

The rule reads ``ioc.vessels.cells`` (:class:`~ioc.feeds.vessels.records.VesselCellPosition`, keyed by map
cell, :mod:`ioc.cells`), so that vessels near each other meet in one detector instance however
many share the work. An instance that reads some of the cells judges every pair it sees but
signals only the pairs it *owns*: those whose midpoint (at their latest close bin) lies in a
cell delivered to it. Each cell is in exactly one partition, so each signal is decided once;
with every cell (embedded mode, or plain :class:`~ioc.feeds.vessels.records.VesselPosition` input) it owns
every pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.vessels.common import (
    MINUTE_US,
    Fix,
    VesselRule,
    fix_from_list,
    from_us,
    minutes,
    speed_knots,
)
from detectors.vessels.zones import M_PER_DEG_SPHERE, ZoneIndex, distance_m
from ioc.cells import cell_id
from ioc.events import AlertSignal, Event
from ioc.feeds.vessels.records import VesselCellPosition
from ioc.feeds.vessels.settings import EncounterConfig  # noqa: F401  (re-exported)

# alert titles: messages of the ``alerts`` catalogue, rendered in the reader's language
ENCOUNTER_TITLE = "Encounter at sea: vessels {a} and {b} within {meters} m for {hours} h"
ENCOUNTER_OVER_TITLE = "Encounter of vessels {a} and {b} ended after {hours} h"

@dataclass(slots=True)
class _Vessel:
    last: Fix
    last_speed: float
    bins: dict[int, list[Any]] = field(default_factory=dict)  # bin end -> [last fix, speed sum, n]
    rep: Fix | None = None  # its position in the latest judged bin (carried forward)
    rep_speed: float = 0.0


@dataclass(slots=True)
class _Run:
    start: int  # start of the first close bin
    last_close: int  # end of the latest close bin
    bins: int = 0
    missed: int = 0
    distance_sum: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    firing: bool = False


class EncounterDetector(VesselRule):
    """Fires when two slow vessels stay within ``max_distance_m`` at sea for long."""

    name = "encounter"
    kinds: frozenset[str] = frozenset({"vessel.cell_position"})

    def __init__(self, zones: ZoneIndex, config: Mapping[str, Any] | EncounterConfig | None = None) -> None:
        cfg = config if isinstance(config, EncounterConfig) else EncounterConfig.model_validate(config or {})
        super().__init__(cfg)
        self.cfg = cfg
        self._near_port = zones.buffered(cfg.port_kinds, cfg.min_port_distance_m)
        self._bin = round(cfg.bin_minutes * MINUTE_US)
        self._span = round(cfg.min_duration_minutes * MINUTE_US)
        self._max_age = round(cfg.max_fix_age_minutes * MINUTE_US)
        self._cell = cfg.max_distance_m / M_PER_DEG_SPHERE  # degrees: one cell spans max_distance in latitude
        self._vessels: dict[int, _Vessel] = {}
        self._runs: dict[tuple[int, int], _Run] = {}
        self._next_end: int | None = None  # end of the next bin to judge
        self._cells: set[str] = set()  # map cells delivered to this instance (cell input only)
        self._cell_deg: float | None = None  # their grid; None: plain positions, every pair is ours

    def observe(self, event: Event) -> list[AlertSignal]:
        if isinstance(event, VesselCellPosition):
            self._cells.add(event.cell)
            self._cell_deg = event.cell_deg
        return super().observe(event)

    def owns(self, lat: float, lon: float) -> bool:
        """Whether a pair with its midpoint at (lat, lon) is signalled by this instance."""
        return self._cell_deg is None or cell_id(lat, lon, self._cell_deg) in self._cells

    def near_port(self, lon: float, lat: float) -> bool:
        """Within ``min_port_distance_m`` of a port zone."""
        return bool(self._near_port.zones) and self._near_port.contains(lon, lat)

    def _bin_end(self, t: int) -> int:
        """End of the bin (end - bin, end] holding ``t``."""
        return -(-t // self._bin) * self._bin

    def _fold(self, fix: Fix, out: list[AlertSignal]) -> None:
        vessel = self._vessels.get(fix.mmsi)
        if fix.sog >= 0:
            speed = fix.sog
        elif vessel is not None and fix.t > vessel.last.t:
            meters = distance_m(vessel.last.lon, vessel.last.lat, fix.lon, fix.lat)
            speed = speed_knots(meters, fix.t - vessel.last.t)
        else:
            speed = 0.0 if vessel is None else vessel.last_speed
        if vessel is None:
            vessel = self._vessels[fix.mmsi] = _Vessel(last=fix, last_speed=speed)
        vessel.last, vessel.last_speed = fix, speed
        end = self._bin_end(fix.t)
        acc = vessel.bins.get(end)
        if acc is None:
            vessel.bins[end] = [fix, speed, 1]
        else:
            acc[0] = fix
            acc[1] += speed
            acc[2] += 1
        if self._next_end is None or end < self._next_end:
            self._next_end = end
            self.schedule_global(end)

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        self._vessels.pop(mmsi, None)

    def _global_time_passes(self, until: int, out: list[AlertSignal]) -> None:
        # A bin (end - bin, end] is complete once every vessel's fixes up to its end are folded.
        while self._next_end is not None and self._next_end < until:
            alive = self._judge(self._next_end, out)
            self._next_end += self._bin
            if not alive:  # nothing fresh and no open run: skip to the next bin holding data
                pending = [min(v.bins) for v in self._vessels.values() if v.bins]
                if not pending:
                    self._next_end = None
                    break
                self._next_end = max(self._next_end, min(pending))
        self.schedule_global(self._next_end)

    def _judge(self, end: int, out: list[AlertSignal]) -> bool:
        """Judge the bin ending at ``end``; whether any vessel or run is still alive."""
        oldest = end - self._max_age
        grid: dict[tuple[int, int], list[Fix]] = {}
        alive = bool(self._runs)
        for mmsi in list(self._vessels):
            vessel = self._vessels[mmsi]
            acc = vessel.bins.pop(end, None)
            if acc is not None:
                vessel.rep, vessel.rep_speed = acc[0], acc[1] / acc[2]
            rep = vessel.rep
            if rep is None or rep.t < oldest:
                vessel.rep = None
                continue
            alive = True
            if vessel.rep_speed >= self.cfg.max_speed_kn or self.near_port(rep.lon, rep.lat):
                continue
            key = (math.floor(rep.lat / self._cell), math.floor(rep.lon / self._cell))
            grid.setdefault(key, []).append(rep)
        close: dict[tuple[int, int], tuple[float, float, float]] = {}
        limit = self.cfg.max_distance_m
        for (cy, cx), members in grid.items():
            for a in members:
                cos_lat = max(0.01, math.cos(math.radians(min(89.0, abs(a.lat) + 0.05))))
                reach = math.ceil(limit / (M_PER_DEG_SPHERE * cos_lat) / self._cell)
                for dy in (-1, 0, 1):
                    for dx in range(-reach, reach + 1):
                        for b in grid.get((cy + dy, cx + dx), ()):
                            if b.mmsi <= a.mmsi:
                                continue
                            d = distance_m(a.lon, a.lat, b.lon, b.lat)
                            if d <= limit:
                                close[(a.mmsi, b.mmsi)] = (d, (a.lat + b.lat) / 2, (a.lon + b.lon) / 2)
        for pair in sorted(close):
            d, lat, lon = close[pair]
            run = self._runs.get(pair)
            if run is None:
                run = self._runs[pair] = _Run(start=end - self._bin, last_close=end)
            run.last_close, run.missed = end, 0
            run.bins += 1
            run.distance_sum += d
            run.lat, run.lon = lat, lon
            if not run.firing and end - run.start >= self._span:
                run.firing = True
                if self.owns(lat, lon):
                    out.append(self._signal(pair, run, end, "firing"))
        for pair in sorted(p for p in self._runs if p not in close):
            run = self._runs[pair]
            run.missed += 1
            if run.missed > self.cfg.max_missed_bins:
                if run.firing and self.owns(run.lat, run.lon):
                    out.append(self._signal(pair, run, end, "resolved"))
                del self._runs[pair]
        return alive

    def _signal(self, pair: tuple[int, int], run: _Run, end: int, status: str) -> AlertSignal:
        a, b = pair
        params: dict[str, Any] = {"a": a, "b": b, "hours": round(minutes(run.last_close - run.start) / 60, 1)}
        if status == "firing":
            params["meters"] = float(self.cfg.max_distance_m)
        return self.signal(
            fingerprint=f"encounter:{a}:{b}",
            status=status,
            t=end,
            mmsi=a,
            title_template=ENCOUNTER_TITLE if status == "firing" else ENCOUNTER_OVER_TITLE,
            title_params=params,
            started_at=run.start,
            details={
                "mmsis": [a, b],
                "duration_minutes": minutes(run.last_close - run.start),
                "last_close": from_us(run.last_close).isoformat(),
                "mean_distance_m": round(run.distance_sum / max(1, run.bins), 1),
                "position": {"lat": round(run.lat, 6), "lon": round(run.lon, 6)},
                "max_distance_m": self.cfg.max_distance_m,
            },
        )

    def _body(self) -> dict[str, Any]:
        return {
            "next_end": self._next_end,
            "cells": sorted(self._cells),
            "cell_deg": self._cell_deg,
            "vessels": {
                str(m): {
                    "last": list(v.last),
                    "last_speed": v.last_speed,
                    "bins": [[end, list(acc[0]), acc[1], acc[2]] for end, acc in sorted(v.bins.items())],
                    "rep": None if v.rep is None else list(v.rep),
                    "rep_speed": v.rep_speed,
                }
                for m, v in sorted(self._vessels.items())
            },
            "runs": [
                [a, b, r.start, r.last_close, r.bins, r.missed, r.distance_sum, r.lat, r.lon, r.firing]
                for (a, b), r in sorted(self._runs.items())
            ],
        }

    def _load(self, body: dict[str, Any]) -> None:
        self._next_end = body.get("next_end")
        self._cells = set(body.get("cells", []))
        self._cell_deg = body.get("cell_deg")
        self._vessels = {
            int(m): _Vessel(
                last=fix_from_list(v["last"]),
                last_speed=float(v["last_speed"]),
                bins={int(e): [fix_from_list(f), float(total), int(n)] for e, f, total, n in v["bins"]},
                rep=None if v["rep"] is None else fix_from_list(v["rep"]),
                rep_speed=float(v["rep_speed"]),
            )
            for m, v in body.get("vessels", {}).items()
        }
        self._runs = {
            (int(r[0]), int(r[1])): _Run(
                int(r[2]), int(r[3]), int(r[4]), int(r[5]), float(r[6]), float(r[7]), float(r[8]), bool(r[9])
            )
            for r in body.get("runs", [])
        }
