"""Map cells: where a vessel position goes on the cell-keyed topic ``ioc.vessels.cells``.

Rules about pairs of vessels (encounters) need every vessel near a place in one detector
instance, whichever partition of ``ioc.vessels.positions`` (keyed by MMSI) each vessel is
in. So every vessel position is also published to ``ioc.vessels.cells``, keyed by a map
cell of ``size_deg`` degrees (``"iy:ix"``, the floor of lat/lon over the size):

* to its own (*home*) cell, first;
* to every other cell within ``halo_m`` of it (a position near a cell border is seen on
  both sides, so a pair closer than ``halo_m`` always meets in the cell of either vessel);
* to every cell it was within ``halo_m`` of during the last ``hold_minutes`` of event time
  (a vessel that leaves a cell's neighbourhood is still seen there for a while, so the
  cell's detector learns where it went instead of keeping its last nearby position).

The router keeps, per vessel, the cells it was recently near; it is pure (event time only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ioc.config import MapCellSettings
from ioc.feeds.vessels.records import VesselCellPosition, VesselPosition

M_PER_DEG = 111_195.0  # metres per degree of latitude (spherical Earth)
US_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cell_index(lat: float, lon: float, size_deg: float) -> tuple[int, int]:
    """The (row, column) of the cell holding (lat, lon)."""
    return math.floor(lat / size_deg), math.floor(lon / size_deg)


def cell_id(lat: float, lon: float, size_deg: float) -> str:
    """The key of the cell holding (lat, lon)."""
    iy, ix = cell_index(lat, lon, size_deg)
    return f"{iy}:{ix}"


def cells_near(lat: float, lon: float, size_deg: float, halo_m: float) -> list[str]:
    """The home cell of (lat, lon), then every other cell within ``halo_m`` of it (by row, column)."""
    dlat = halo_m / M_PER_DEG
    dlon = halo_m / (M_PER_DEG * max(0.01, math.cos(math.radians(min(89.0, abs(lat))))))
    y0, x0 = cell_index(lat - dlat, lon - dlon, size_deg)
    y1, x1 = cell_index(lat + dlat, lon + dlon, size_deg)
    home = cell_id(lat, lon, size_deg)
    return [home] + [f"{iy}:{ix}" for iy in range(y0, y1 + 1) for ix in range(x0, x1 + 1)
                     if f"{iy}:{ix}" != home]


class CellRouter:
    """Decides the cells each vessel position is published to (see the module docstring)."""

    def __init__(self, settings: MapCellSettings | None = None) -> None:
        self.settings = settings or MapCellSettings()
        self._hold = round(self.settings.hold_minutes * US_PER_MINUTE)
        self._recent: dict[int, dict[str, int]] = {}  # mmsi -> cell -> last time it was near (us)
        self._newest: dict[int, int] = {}  # mmsi -> newest event time routed (us)
        self._routed = 0

    def cells(self, position: VesselPosition) -> list[str]:
        """The cells ``position`` goes to: its home cell first, then the others in order."""
        s = self.settings
        near = cells_near(position.lat, position.lon, s.size_deg, s.halo_m)
        t = _us(position)
        recent = self._recent.setdefault(position.mmsi, {})
        for cell in near:
            if recent.get(cell, t - 1) < t:
                recent[cell] = t
        held = sorted(c for c, last in recent.items() if c not in near and t - self._hold <= last)
        if t > self._newest.get(position.mmsi, t - 1):
            self._newest[position.mmsi] = t
            for cell in [c for c, last in recent.items() if last < t - self._hold]:
                del recent[cell]
        self._routed += 1
        if self._routed % 50_000 == 0:
            self._sweep()
        return near + held

    def records(self, position: VesselPosition) -> list[VesselCellPosition]:
        """The copies of ``position`` to publish on ``ioc.vessels.cells`` (keyed by ``cell``)."""
        fields = position.model_dump(exclude={"kind"})
        return [VesselCellPosition(**fields, cell=cell, cell_deg=self.settings.size_deg)
                for cell in self.cells(position)]

    def _sweep(self) -> None:
        """Forget vessels silent for longer than the hold (a day at least) behind the newest."""
        if not self._newest:
            return
        horizon = max(self._newest.values()) - max(self._hold, 24 * 60 * US_PER_MINUTE)
        for mmsi in [m for m, t in self._newest.items() if t < horizon]:
            del self._newest[mmsi]
            self._recent.pop(mmsi, None)


def route(router: CellRouter, positions: Iterable[VesselPosition]) -> list[VesselCellPosition]:
    """Every cell copy of ``positions``, in order."""
    return [copy for p in positions for copy in router.records(p)]


def _us(position: VesselPosition) -> int:
    return (position.time - _EPOCH) // timedelta(microseconds=1)
