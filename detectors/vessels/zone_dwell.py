"""Zone dwell: a vessel inside a no-fishing or protected zone, confirmed by time spent there.

For each (vessel, watched zone), folding the vessel's positions in event-time order:

* outside: a position inside the zone starts an *entry run* at that position's time;
* entering: while positions stay inside, the run goes on; a position outside ends it
  silently. The first position at least ``min_dwell_minutes`` after the run's start
  confirms the entry: one ``firing`` signal (``time`` = that position, ``started_at`` =
  the first position inside);
* inside (firing): a position outside starts an *exit run*; a position inside again cancels
  it. The first outside position at least ``min_exit_minutes`` after the exit run's start
  confirms the exit: one ``resolved`` signal (``details.exited_at`` = the first position
  outside, ``details.dwell_minutes`` = time from entry to exit).

Zones watched: those of ``kinds`` (default ``no_fishing`` and ``protected``), or only the
``zone_ids`` listed. Severity per kind from ``severity_by_kind``. Fingerprint:
``zone_dwell:{zone_id}:{mmsi}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from detectors.vessels.common import MINUTE_US, Fix, VesselRule, fix_from_list, minutes
from detectors.vessels.zones import Zone, ZoneIndex
from ioc.events import AlertSignal
from ioc.feeds.vessels.settings import ZoneDwellConfig  # noqa: F401  (re-exported)

KIND_LABELS = {"no_fishing": "no-fishing zone", "protected": "marine protected area"}

# alert titles: messages of the ``alerts`` catalogue, rendered in the reader's language; the kinds
# of zone the rule knows have titles of their own (a kind is a word to translate, not a field)
DWELL_TITLES = {
    "no_fishing": ("Vessel {mmsi} inside {zone} (no-fishing zone) for {minutes}+ min",
                   "Vessel {mmsi} left {zone} (no-fishing zone)"),
    "protected": ("Vessel {mmsi} inside {zone} (marine protected area) for {minutes}+ min",
                  "Vessel {mmsi} left {zone} (marine protected area)"),
    "": ("Vessel {mmsi} inside {zone} ({kind}) for {minutes}+ min", "Vessel {mmsi} left {zone} ({kind})"),
}
DWELL_UNTRACKED_TITLE = "Vessel {mmsi}: stopped tracking (last seen inside {zone})"





@dataclass(slots=True)
class _Stay:
    """One vessel and one zone: the entry run, or the confirmed stay and its exit run."""

    entered: Fix  # first position inside
    firing: bool = False
    out_since: Fix | None = None  # while firing: first position of the current outside run


class ZoneDwellDetector(VesselRule):
    """Fires when a vessel stays inside a watched zone; resolves when it has left it."""

    name = "zone_dwell"

    def __init__(self, zones: ZoneIndex, config: Mapping[str, Any] | ZoneDwellConfig | None = None) -> None:
        cfg = config if isinstance(config, ZoneDwellConfig) else ZoneDwellConfig.model_validate(config or {})
        super().__init__(cfg)
        self.cfg = cfg
        if cfg.zone_ids:
            missing = sorted(set(cfg.zone_ids) - {z.id for z in zones.zones})
            if missing:
                raise ValueError(f"zone_dwell: unknown zone id(s) {missing}")
            watched = [z for z in zones.zones if z.id in cfg.zone_ids]
        else:
            watched = zones.of_kind(*cfg.kinds)
        self.zones = ZoneIndex(watched, cell_deg=zones.cell_deg)
        self._dwell = round(cfg.min_dwell_minutes * MINUTE_US)
        self._exit = round(cfg.min_exit_minutes * MINUTE_US)
        self._stays: dict[int, dict[str, _Stay]] = {}

    def _fold(self, fix: Fix, out: list[AlertSignal]) -> None:
        inside = self.zones.zones_at(fix.lon, fix.lat) if self.zones.zones else []
        stays = self._stays.get(fix.mmsi)
        if not inside and not stays:
            return
        if stays is None:
            stays = self._stays[fix.mmsi] = {}
        here = {z.id for z in inside}
        for zone in inside:
            stay = stays.get(zone.id)
            if stay is None:
                stay = stays[zone.id] = _Stay(entered=fix)
            if stay.firing:
                stay.out_since = None
            elif fix.t - stay.entered.t >= self._dwell:
                stay.firing = True
                out.append(self._signal(zone, stay, fix, "firing"))
        for zone_id in [z for z in stays if z not in here]:
            stay = stays[zone_id]
            if not stay.firing:
                del stays[zone_id]
                continue
            if stay.out_since is None:
                stay.out_since = fix
            if fix.t - stay.out_since.t >= self._exit:
                zone = self.zones.get(zone_id)
                assert zone is not None
                out.append(self._signal(zone, stay, fix, "resolved"))
                del stays[zone_id]
        if not stays:
            del self._stays[fix.mmsi]

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        for zone_id, stay in sorted(self._stays.pop(mmsi, {}).items()):
            zone = self.zones.get(zone_id)
            if stay.firing and zone is not None:
                out.append(self._signal(zone, stay, None, "resolved", at))

    def _signal(
        self, zone: Zone, stay: _Stay, fix: Fix | None, status: str, at: int | None = None
    ) -> AlertSignal:
        inside, left = DWELL_TITLES.get(zone.kind, DWELL_TITLES[""])
        mmsi = stay.entered.mmsi
        params: dict[str, Any] = {"mmsi": mmsi, "zone": zone.name, "kind": zone.kind.replace("_", " ")}
        details: dict[str, Any] = {
            "zone_id": zone.id,
            "zone_name": zone.name,
            "zone_kind": zone.kind,
            "entered": stay.entered.point(),
            "min_dwell_minutes": self.cfg.min_dwell_minutes,
        }
        if fix is not None:
            details["position"] = fix.point()
            at = fix.t
        assert at is not None
        if status == "firing":
            details["dwell_minutes"] = minutes(at - stay.entered.t)
            template = inside
            params["minutes"] = float(self.cfg.min_dwell_minutes)
        elif fix is None:
            details["reason"] = "tracking stopped"
            template = DWELL_UNTRACKED_TITLE
        else:
            assert stay.out_since is not None
            details["exited"] = stay.out_since.point()
            details["dwell_minutes"] = minutes(stay.out_since.t - stay.entered.t)
            template = left
        return self.signal(
            fingerprint=f"zone_dwell:{zone.id}:{mmsi}",
            status=status,
            t=at,
            mmsi=mmsi,
            title_template=template,
            title_params=params,
            started_at=stay.entered.t,
            details=details,
            area=zone.name,
            severity=self.cfg.severity_by_kind.get(zone.kind, self.cfg.severity),
        )

    def _body(self) -> dict[str, Any]:
        return {
            str(mmsi): {
                zone_id: {
                    "entered": list(s.entered),
                    "firing": s.firing,
                    "out_since": None if s.out_since is None else list(s.out_since),
                }
                for zone_id, s in sorted(stays.items())
            }
            for mmsi, stays in sorted(self._stays.items())
        }

    def _load(self, body: dict[str, Any]) -> None:
        self._stays = {}
        for mmsi, stays in body.items():
            kept = {
                zone_id: _Stay(
                    entered=fix_from_list(raw["entered"]),
                    firing=bool(raw["firing"]),
                    out_since=None if raw["out_since"] is None else fix_from_list(raw["out_since"]),
                )
                for zone_id, raw in stays.items()
                if self.zones.get(zone_id) is not None
            }
            if kept:
                self._stays[int(mmsi)] = kept
