"""AIS gap ("dark vessel"): a vessel at sea that stops sending positions for too long.

Folding each vessel's positions in event-time order, a position is *at sea* when it is not
inside a zone of ``port_kinds`` (and, if ``within_kinds`` is set, inside one of those, e.g.
``sea_boundary`` so vessels leaving receiver coverage far away are not flagged).

* After an at-sea position at time ``t``, if no position of that vessel follows up to
  ``t + gap_minutes`` (known once the vessel's frontier passes that time: see
  :mod:`detectors.vessels.common`; with no data from the vessel that is when the watermark
  is ``allowed_lateness + settle`` past it), the rule fires:
  ``time`` = ``t + gap_minutes``, ``started_at`` = ``t``, details = the last position.
* The vessel's next position resolves it: ``time`` = that position, details =
  ``gap_start`` and ``gap_end`` positions, ``duration_minutes``, ``distance_km`` and the
  implied speed.
* A position that shows a gap no watermark had reported yet gives the same pair of
  signals at once, so replay in any batch size gives the same signals.
* A vessel not heard of for ``forget_after_hours`` is forgotten (a dark one is resolved
  with ``details.reason = "tracking stopped"``, ``time`` = last position + that time).

A gap is strictly longer than ``gap_minutes``. Fingerprint: ``ais_gap:{mmsi}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.vessels.common import (
    MINUTE_US,
    Fix,
    VesselRule,
    fix_from_list,
    minutes,
    speed_knots,
)
from detectors.vessels.zones import ZoneIndex, distance_m
from ioc.events import AlertSignal
from ioc.feeds.vessels.settings import AisGapConfig  # noqa: F401  (re-exported)

AIS_GAP_TITLE = "Vessel {mmsi} dark at sea: no AIS position for {minutes}+ min"  # an alerts message
AIS_GAP_OVER_TITLE = "Vessel {mmsi} transmitting again after {minutes} min dark"
AIS_GAP_UNTRACKED_TITLE = "Vessel {mmsi}: stopped tracking after {hours} h dark"





class AisGapDetector(VesselRule):
    """Fires when a vessel at sea sends no position for ``gap_minutes``."""

    name = "ais_gap"

    def __init__(self, zones: ZoneIndex, config: Mapping[str, Any] | AisGapConfig | None = None) -> None:
        cfg = config if isinstance(config, AisGapConfig) else AisGapConfig.model_validate(config or {})
        super().__init__(cfg)
        self.cfg = cfg
        self._ports = zones.subset(cfg.port_kinds)
        self._within = zones.subset(cfg.within_kinds) if cfg.within_kinds else None
        self._gap = round(cfg.gap_minutes * MINUTE_US)
        self._last: dict[int, tuple[Fix, bool]] = {}  # mmsi -> (last fix, at sea)
        self._dark: set[int] = set()

    def at_sea(self, lon: float, lat: float) -> bool:
        """Outside every port zone (and inside a ``within_kinds`` zone, if configured)."""
        if self._ports.zones and self._ports.contains(lon, lat):
            return False
        return self._within is None or self._within.contains(lon, lat)

    def _fold(self, fix: Fix, out: list[AlertSignal]) -> None:
        mmsi = fix.mmsi
        at_sea = self.at_sea(fix.lon, fix.lat)
        prev = self._last.get(mmsi)
        if prev is not None:
            last, last_at_sea = prev
            if mmsi in self._dark:
                self._dark.discard(mmsi)
                out.append(self._resolved(last, fix))
            elif last_at_sea and fix.t - last.t > self._gap:
                out.append(self._firing(last))
                out.append(self._resolved(last, fix))
        self._last[mmsi] = (fix, at_sea)
        self.schedule(mmsi, fix.t + self._gap if at_sea else None)

    def _vessel_time_passes(self, mmsi: int, until: int, out: list[AlertSignal]) -> None:
        entry = self._last.get(mmsi)
        if entry is None:
            return
        last, at_sea = entry
        if at_sea and mmsi not in self._dark and last.t + self._gap < until:
            self._dark.add(mmsi)
            out.append(self._firing(last))

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        entry = self._last.pop(mmsi, None)
        if entry is not None and mmsi in self._dark:
            self._dark.discard(mmsi)
            out.append(self._resolved(entry[0], None, t=at))

    def _firing(self, last: Fix) -> AlertSignal:
        return self.signal(
            fingerprint=f"ais_gap:{last.mmsi}",
            status="firing",
            t=last.t + self._gap,
            mmsi=last.mmsi,
            title=AIS_GAP_TITLE.format(mmsi=last.mmsi, minutes=f"{self.cfg.gap_minutes:g}"),
            title_template=AIS_GAP_TITLE,
            title_params={"mmsi": last.mmsi, "minutes": f"{self.cfg.gap_minutes:g}"},
            started_at=last.t,
            details={"gap_start": last.point(), "gap_minutes": self.cfg.gap_minutes},
        )

    def _resolved(self, last: Fix, fix: Fix | None, t: int | None = None) -> AlertSignal:
        details: dict[str, Any] = {"gap_start": last.point(), "gap_minutes": self.cfg.gap_minutes}
        if fix is None:
            assert t is not None
            details["reason"] = "tracking stopped"
            details["duration_minutes"] = minutes(t - last.t)
            template = AIS_GAP_UNTRACKED_TITLE
            params = {"mmsi": last.mmsi, "hours": round(minutes(t - last.t) / 60)}
        else:
            t = fix.t
            meters = distance_m(last.lon, last.lat, fix.lon, fix.lat)
            details["gap_end"] = fix.point()
            details["duration_minutes"] = minutes(fix.t - last.t)
            details["distance_km"] = round(meters / 1000, 3)
            details["implied_speed_kn"] = round(speed_knots(meters, fix.t - last.t), 2)
            template = AIS_GAP_OVER_TITLE
            params = {"mmsi": last.mmsi, "minutes": round(minutes(fix.t - last.t))}
        return self.signal(
            fingerprint=f"ais_gap:{last.mmsi}",
            status="resolved",
            t=t,
            mmsi=last.mmsi,
            title_template=template,
            title_params=params,
            started_at=last.t,
            details=details,
        )

    def _body(self) -> dict[str, Any]:
        return {
            "last": {str(m): [list(f), s] for m, (f, s) in sorted(self._last.items())},
            "dark": sorted(self._dark),
        }

    def _load(self, body: dict[str, Any]) -> None:
        self._last = {
            int(m): (fix_from_list(raw[0]), bool(raw[1])) for m, raw in body.get("last", {}).items()
        }
        self._dark = {int(m) for m in body.get("dark", []) if int(m) in self._last}
