"""Storm ban: a vessel at sea inside an area closed by an active storm warning.

When a storm approaches, the province closes sea areas to boats (``cấm biển``). The warnings
are input records (:class:`StormWarning`, given with :meth:`StormBanDetector.warn` or
:meth:`~StormBanDetector.observe`), each naming an area by ``zone_id`` (a zone of the
:class:`~detectors.vessels.zones.ZoneIndex`, usually of kind ``storm_ban``) or by a GeoJSON
``area`` polygon, and valid from ``valid_from`` (inclusive) to ``valid_to`` (exclusive).

Folding each vessel's positions in event-time order, against the warnings known when the
position is folded (positions wait ``settle`` in the reorder buffer, so a warning that
arrives up to ``settle`` after a position still applies to it):

* a position at sea (outside every ``port_kinds`` zone) inside an active warning's area
  fires once per (warning, vessel): ``time`` = that position;
* the first later position outside the area, or in port, resolves it
  (``details.reason`` = ``left_area`` / ``in_port``); so does the end of the warning
  (``time`` = ``valid_to``, reason ``warning_ended``, decided once the vessel's positions
  before ``valid_to`` are all folded), and forgetting a silent vessel (``tracking stopped``).

A warning sent again with the same ``warning_id`` replaces the earlier one (extended,
shortened or cancelled by ``valid_to``). Fingerprint: ``storm_ban:{warning_id}:{mmsi}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from detectors.vessels.common import Fix, VesselRule, fix_from_list, to_us
from detectors.vessels.zones import ZoneIndex
from ioc.events import AlertSignal, Event
from ioc.feeds.vessels.records import StormWarning
from ioc.feeds.vessels.settings import StormBanConfig  # noqa: F401  (re-exported)

# alert titles: messages of the ``alerts`` catalogue, rendered in the reader's language
STORM_BAN_TITLE = "Vessel {mmsi} at sea in storm-ban area {area}"
STORM_BAN_OVER_TITLE = "Vessel {mmsi} no longer in storm-ban area {area} ({reason})"
STORM_BAN_OVER_TITLES = {  # by why it ended
    "in_port": "Vessel {mmsi} no longer in storm-ban area {area}: back in port",
    "left_area": "Vessel {mmsi} no longer in storm-ban area {area}: left the area",
    "warning_ended": "Vessel {mmsi} no longer in storm-ban area {area}: the warning ended",
}


@dataclass(slots=True)
class _Active:
    warning: StormWarning
    geometry: BaseGeometry
    bounds: tuple[float, float, float, float]
    start: int
    end: int
    area_name: str


class StormBanDetector(VesselRule):
    """Fires when a vessel is at sea inside the area of an active storm warning."""

    name = "storm_ban"
    kinds: frozenset[str] = frozenset({"vessel.position", "storm.warning"})

    def __init__(self, zones: ZoneIndex, config: Mapping[str, Any] | StormBanConfig | None = None) -> None:
        cfg = config if isinstance(config, StormBanConfig) else StormBanConfig.model_validate(config or {})
        super().__init__(cfg)
        self.cfg = cfg
        self.zones = zones
        self._ports = zones.subset(cfg.port_kinds)
        self._warnings: dict[str, _Active] = {}
        self._inside: dict[int, dict[str, Fix]] = {}  # mmsi -> warning id -> first position inside

    # -- warnings -------------------------------------------------------------------------
    def warn(self, warning: StormWarning | Mapping[str, Any]) -> list[AlertSignal]:
        """Add or replace a warning; the signals now due. ``ValueError``: unknown zone, bad area."""
        active = self._add(warning)
        out: list[AlertSignal] = []
        order = self._family or self  # who keeps the vessels' lanes: a rule set, or this rule
        for mmsi in sorted(m for m, inside in self._inside.items() if active.warning.warning_id in inside):
            self._reschedule(mmsi)
            lane = order._lanes.get(mmsi)
            if lane is not None and lane.released is not None:  # a shortened warning may be over
                order._time_passes_for(mmsi, lane, lane.released, out)
        return out

    @property
    def warnings(self) -> list[StormWarning]:
        """The warnings known and not yet over, by id."""
        return [a.warning for _, a in sorted(self._warnings.items())]

    def _add(self, warning: StormWarning | Mapping[str, Any]) -> _Active:
        if not isinstance(warning, StormWarning):
            warning = StormWarning.model_validate(warning)
        if warning.zone_id is not None:
            zone = self.zones.get(warning.zone_id)
            if zone is None:
                raise ValueError(f"storm warning {warning.warning_id!r}: unknown zone {warning.zone_id!r}")
            geometry, area_name = zone.geometry, zone.name
        else:
            assert warning.area is not None
            try:
                geometry = shape(warning.area)
            except Exception as exc:
                raise ValueError(f"storm warning {warning.warning_id!r}: bad area: {exc}") from None
            if geometry.is_empty or not geometry.is_valid:
                raise ValueError(f"storm warning {warning.warning_id!r}: invalid area")
            shapely.prepare(geometry)
            area_name = warning.title or warning.warning_id
        active = _Active(
            warning, geometry, geometry.bounds, to_us(warning.valid_from), to_us(warning.valid_to), area_name
        )
        self._warnings[warning.warning_id] = active
        self.schedule_global(min(a.end for a in self._warnings.values()))
        return active

    def observe(self, event: Event) -> list[AlertSignal]:
        if isinstance(event, StormWarning):
            return self.warn(event)
        return super().observe(event)

    def _reschedule(self, mmsi: int) -> None:
        inside = self._inside.get(mmsi)
        self.schedule(mmsi, min(self._warnings[w].end for w in inside) if inside else None)

    # -- fold -----------------------------------------------------------------------------
    def _fold(self, fix: Fix, out: list[AlertSignal]) -> None:
        inside_now = self._inside.get(fix.mmsi)
        if not self._warnings and not inside_now:
            return
        in_port = bool(self._ports.zones) and self._ports.contains(fix.lon, fix.lat)
        changed = False
        for wid in sorted(self._warnings):
            active = self._warnings[wid]
            inside = (
                not in_port
                and active.start <= fix.t < active.end
                and active.bounds[0] <= fix.lon <= active.bounds[2]
                and active.bounds[1] <= fix.lat <= active.bounds[3]
                and bool(shapely.intersects_xy(active.geometry, fix.lon, fix.lat))
            )
            first = inside_now.get(wid) if inside_now else None
            if inside and first is None:
                inside_now = self._inside.setdefault(fix.mmsi, {})
                inside_now[wid] = fix
                out.append(self._signal(active, fix, fix.t, "firing", fix))
                changed = True
            elif not inside and first is not None:
                reason = "in_port" if in_port else ("warning_ended" if fix.t >= active.end else "left_area")
                t = active.end if reason == "warning_ended" else fix.t
                out.append(self._signal(active, fix, t, "resolved", first, reason))
                assert inside_now is not None
                del inside_now[wid]
                changed = True
        if changed:
            if not inside_now:
                self._inside.pop(fix.mmsi, None)
            self._reschedule(fix.mmsi)

    def _vessel_time_passes(self, mmsi: int, until: int, out: list[AlertSignal]) -> None:
        # A warning is over for a vessel once its positions before valid_to are folded.
        inside = self._inside.get(mmsi, {})
        for wid in sorted(inside):
            active = self._warnings[wid]
            if active.end < until:
                first = inside.pop(wid)
                out.append(self._signal(active, None, active.end, "resolved", first, "warning_ended"))
        if not inside:
            self._inside.pop(mmsi, None)
        self._reschedule(mmsi)

    def _global_time_passes(self, until: int, out: list[AlertSignal]) -> None:
        busy = {w for inside in self._inside.values() for w in inside}
        for wid in [w for w, a in self._warnings.items() if a.end < until and w not in busy]:
            del self._warnings[wid]
        self.schedule_global(min((a.end for a in self._warnings.values()), default=None))

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        for wid, first in sorted(self._inside.pop(mmsi, {}).items()):
            out.append(self._signal(self._warnings[wid], None, at, "resolved", first, "tracking stopped"))

    def _signal(
        self,
        active: _Active,
        fix: Fix | None,
        t: int,
        status: str,
        first: Fix,
        reason: str | None = None,
    ) -> AlertSignal:
        warning = active.warning
        details: dict[str, Any] = {
            "warning_id": warning.warning_id,
            "warning_title": warning.title,
            "zone_id": warning.zone_id,
            "valid_from": warning.valid_from.isoformat(),
            "valid_to": warning.valid_to.isoformat(),
            "entered": first.point(),
        }
        if fix is not None:
            details["position"] = fix.point()
        if reason is not None:
            details["reason"] = reason
        params: dict[str, Any] = {"mmsi": first.mmsi, "area": active.area_name}
        if status == "firing":
            template = STORM_BAN_TITLE
        else:
            template = STORM_BAN_OVER_TITLES.get(reason or "", STORM_BAN_OVER_TITLE)
            params["reason"] = reason or ""
        return self.signal(
            fingerprint=f"storm_ban:{warning.warning_id}:{first.mmsi}",
            status=status,
            t=t,
            mmsi=first.mmsi,
            title_template=template,
            title_params=params,
            started_at=first.t,
            details=details,
            area=active.area_name,
            severity=warning.severity,
        )

    # -- snapshot -------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        return {
            "warnings": [a.warning.model_dump(mode="json") for _, a in sorted(self._warnings.items())],
            "inside": {
                str(m): {w: list(f) for w, f in sorted(inside.items())}
                for m, inside in sorted(self._inside.items())
            },
        }

    def _load(self, body: dict[str, Any]) -> None:
        self._warnings = {}
        self._inside = {}
        for raw in body.get("warnings", []):
            try:
                self._add(StormWarning.model_validate(raw))
            except ValueError:
                continue  # its zone is no longer configured
        for mmsi, inside in body.get("inside", {}).items():
            kept = {w: fix_from_list(f) for w, f in inside.items() if w in self._warnings}
            if kept:
                self._inside[int(mmsi)] = kept
