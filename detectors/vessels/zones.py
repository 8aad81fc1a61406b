"""Sea zones for the vessel rules: GeoJSON in, fast point-in-zone answers out.

Zones are configuration data: a GeoJSON ``FeatureCollection`` of ``Polygon`` /
``MultiPolygon`` features (WGS84 longitude, latitude) whose properties carry ``id``
(unique), ``name`` and ``kind``, one of :data:`ZONE_KINDS`:

* ``port``: harbour areas (a vessel inside is "in port", not "at sea");
* ``no_fishing`` / ``protected``: areas watched by the zone-dwell rule;
* ``storm_ban``: areas that a storm warning can close to boats;
* ``sea_boundary``: the province's sea area (map background, "in provincial waters").

:class:`ZoneIndex` answers :meth:`ZoneIndex.zones_at` with shapely prepared geometries
found through an ``STRtree``, behind a lazily built grid of cells (``cell_deg``, about 1 km):
a cell records which zones cover it entirely and which only cross it, so a point in the open
sea or deep inside a zone costs no geometry test at all, and only points in cells that a zone
boundary crosses are tested exactly. :meth:`ZoneIndex.buffered` grows zones by a distance in
metres (e.g. "within 5 km of a port").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ioc.zones import ZONE_KINDS, Zone, ZoneError, read_zone_file, zones_from_geojson

__all__ = [
    "ZONE_KINDS", "Zone", "ZoneError", "ZoneIndex", "buffer_m", "distance_m", "load_zones",
    "zones_from_geojson",
]

import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

DEFAULT_CELL_DEG = 0.01
MAX_CACHED_CELLS = 250_000
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0
EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG_SPHERE = math.pi * EARTH_RADIUS_M / 180  # what :func:`distance_m` makes of a degree








def _local_scale(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude near ``lat`` (equirectangular)."""
    return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)), M_PER_DEG_LAT


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def buffer_m(geometry: BaseGeometry, meters: float) -> BaseGeometry:
    """``geometry`` grown by ``meters``, computed in a local metric projection around it."""
    centre = geometry.centroid
    lon0, lat0 = centre.x, centre.y
    kx, ky = _local_scale(lat0)

    def to_local(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = (coords[:, 0] - lon0) * kx
        out[:, 1] = (coords[:, 1] - lat0) * ky
        return out

    def to_degrees(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = coords[:, 0] / kx + lon0
        out[:, 1] = coords[:, 1] / ky + lat0
        return out

    local = shapely.transform(geometry, to_local)
    return shapely.transform(local.buffer(meters, quad_segs=16), to_degrees)








def load_zones(paths: str | Path | Iterable[str | Path]) -> ZoneIndex:
    """A :class:`ZoneIndex` of one or more GeoJSON files (read by :func:`ioc.zones.read_zone_file`)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    return ZoneIndex([zone for path in paths for zone in read_zone_file(path)])


_Entry = tuple[int, bool]  # (zone number, whether the zone covers the whole cell)


class ZoneIndex:
    """Which zones contain a point; fast for many points and tens of zones."""

    def __init__(self, zones: Iterable[Zone], cell_deg: float = DEFAULT_CELL_DEG) -> None:
        self.zones: list[Zone] = sorted(zones, key=lambda z: z.id)
        ids = [z.id for z in self.zones]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ZoneError(f"duplicate zone id(s): {dupes}")
        if cell_deg <= 0:
            raise ValueError("cell_deg must be positive")
        self.cell_deg = cell_deg
        self._by_id = {z.id: z for z in self.zones}
        for zone in self.zones:
            shapely.prepare(zone.geometry)
        self._tree = shapely.STRtree([z.geometry for z in self.zones])
        self._cells: dict[tuple[int, int], tuple[_Entry, ...]] = {}
        self._last: tuple[float, float, tuple[Zone, ...]] = (math.nan, math.nan, ())  # nan: never equal
        self._derived: dict[tuple[Any, ...], ZoneIndex] = {}  # subsets / buffers, shared by the rules

    @classmethod
    def from_geojson(cls, data: Mapping[str, Any], cell_deg: float = DEFAULT_CELL_DEG) -> ZoneIndex:
        """An index of one parsed GeoJSON FeatureCollection."""
        return cls(zones_from_geojson(data), cell_deg=cell_deg)

    def __len__(self) -> int:
        return len(self.zones)

    def get(self, zone_id: str) -> Zone | None:
        """The zone with this id, if any."""
        return self._by_id.get(zone_id)

    def of_kind(self, *kinds: str) -> list[Zone]:
        """Zones of the given kinds, by id."""
        return [z for z in self.zones if z.kind in kinds]

    def subset(self, kinds: Iterable[str]) -> ZoneIndex:
        """An index of the zones of ``kinds`` only (built once per set of kinds, then shared)."""
        wanted = frozenset(kinds)
        key = ("subset", wanted)
        derived = self._derived.get(key)
        if derived is None:
            derived = ZoneIndex([z for z in self.zones if z.kind in wanted], cell_deg=self.cell_deg)
            self._derived[key] = derived
        return derived

    def buffered(self, kinds: Iterable[str], meters: float) -> ZoneIndex:
        """An index of the zones of ``kinds``, each grown by ``meters`` (same ids; built once)."""
        wanted = frozenset(kinds)
        key = ("buffered", wanted, float(meters))
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = self._buffered(wanted, meters)
        return derived

    def _buffered(self, wanted: frozenset[str], meters: float) -> ZoneIndex:
        grown = [
            Zone(
                z.id, z.name, z.kind, buffer_m(z.geometry, meters) if meters > 0 else z.geometry, z.properties
            )
            for z in self.zones
            if z.kind in wanted
        ]
        return ZoneIndex(grown, cell_deg=self.cell_deg)

    # -- queries --------------------------------------------------------------------------
    def zones_at(self, lon: float, lat: float, kinds: Iterable[str] | None = None) -> list[Zone]:
        """Zones containing the point (boundary included), sorted by id; only ``kinds`` if given."""
        found = self._at(lon, lat)
        if kinds is None:
            return list(found)
        wanted = kinds if isinstance(kinds, frozenset | set) else set(kinds)
        return [z for z in found if z.kind in wanted]

    def contains(self, lon: float, lat: float) -> bool:
        """Whether any zone of the index contains the point."""
        return bool(self._at(lon, lat))

    def _at(self, lon: float, lat: float) -> tuple[Zone, ...]:
        last = self._last
        if last[0] == lon and last[1] == lat:
            return last[2]
        cell_deg = self.cell_deg
        try:
            cell = (int(lon // cell_deg), int(lat // cell_deg))
        except (ValueError, OverflowError):  # NaN or infinity: in no zone
            return ()
        entries = self._cells.get(cell)
        if entries is None:
            entries = self._build_cell(cell)
        if not entries:  # most of the sea: a cell no zone reaches
            found: tuple[Zone, ...] = ()
        else:
            zones = self.zones
            found = tuple(
                zones[i] for i, full in entries if full or shapely.intersects_xy(zones[i].geometry, lon, lat)
            )
        self._last = (lon, lat, found)
        return found

    def _build_cell(self, cell: tuple[int, int]) -> tuple[_Entry, ...]:
        if len(self._cells) >= MAX_CACHED_CELLS:
            self._cells.clear()
        x0, y0 = cell[0] * self.cell_deg, cell[1] * self.cell_deg
        square = box(x0, y0, x0 + self.cell_deg, y0 + self.cell_deg)
        hits = sorted(int(i) for i in self._tree.query(square, predicate="intersects"))
        entries = tuple((i, bool(shapely.contains(self.zones[i].geometry, square))) for i in hits)
        self._cells[cell] = entries
        return entries
