"""Zones: named polygons of the city (GeoJSON in, validated shapely geometries out), read once here.

Zone files are configuration data: a GeoJSON ``FeatureCollection`` of ``Polygon`` /
``MultiPolygon`` features (WGS84 longitude, latitude) whose properties carry ``id``
(unique), ``name`` and ``kind``, one of :data:`ZONE_KINDS`. The vessel rules, the sea page
and ``ioc check-config`` all read them through :func:`read_zone_file`, so a bad polygon is
the same clear :class:`ZoneError` everywhere (naming the file, the feature and why).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

ZONE_KINDS = frozenset({"no_fishing", "protected", "port", "storm_ban", "sea_boundary"})
MAX_ZONE_FILE_BYTES = 64 << 20  # a province's zones with detailed coasts are a few MB


class ZoneError(ValueError):
    """A zone file or feature is invalid; ``str()`` says which and why."""


@dataclass(frozen=True, eq=False)
class Zone:
    """One named area: id, name, kind and its (prepared) polygonal geometry."""

    id: str
    name: str
    kind: str
    geometry: BaseGeometry
    properties: Mapping[str, Any] = field(default_factory=dict)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies inside the zone (its boundary included)."""
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


def zones_from_geojson(data: Mapping[str, Any], source: str = "zones") -> list[Zone]:
    """The zones of a GeoJSON FeatureCollection (parsed JSON); :class:`ZoneError` if invalid."""
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise ZoneError(f"{source}: not a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise ZoneError(f"{source}: 'features' is not a list")
    zones: list[Zone] = []
    for number, feature in enumerate(features):
        where = f"{source} feature {number}"
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise ZoneError(f"{where}: not a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, Mapping):
            raise ZoneError(f"{where}: properties is not an object")
        zone_id, name, kind = props.get("id"), props.get("name"), props.get("kind")
        if not isinstance(zone_id, str) or not zone_id or len(zone_id) > 96:
            raise ZoneError(f"{where}: 'id' must be text of 1..96 characters")
        where = f"{source} zone {zone_id!r}"
        if kind not in ZONE_KINDS:
            raise ZoneError(f"{where}: kind {kind!r} is not one of {sorted(ZONE_KINDS)}")
        geometry_data = feature.get("geometry")
        if not isinstance(geometry_data, Mapping) or geometry_data.get("type") not in (
            "Polygon",
            "MultiPolygon",
        ):
            raise ZoneError(f"{where}: geometry must be a Polygon or MultiPolygon")
        if _open_ring(geometry_data):
            raise ZoneError(f"{where}: a ring is not closed (RFC 7946: its last position repeats its first)")
        try:
            geometry = shape(geometry_data)
        except Exception as exc:
            raise ZoneError(f"{where}: bad geometry: {exc}") from None
        if geometry.is_empty or not geometry.is_valid:
            raise ZoneError(f"{where}: invalid geometry: {shapely.is_valid_reason(geometry)}")
        minx, miny, maxx, maxy = geometry.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise ZoneError(f"{where}: coordinates must be longitude, latitude in degrees")
        extra = {k: v for k, v in props.items() if k not in ("id", "name", "kind")}
        zones.append(Zone(zone_id, str(name or zone_id), str(kind), geometry, extra))
    return zones


def _open_ring(geometry: Mapping[str, Any]) -> bool:
    """Whether a ring of a Polygon or MultiPolygon ends elsewhere than it starts (shapely would close
    it silently: the area drawn may not be the one meant). Malformed coordinates are left to shapely."""
    polygons = [geometry.get("coordinates")] if geometry.get("type") == "Polygon" else \
        geometry.get("coordinates")
    if not isinstance(polygons, list):
        return False
    return any(isinstance(ring, list) and len(ring) > 1 and ring[0] != ring[-1]
               for polygon in polygons if isinstance(polygon, list) for ring in polygon)


def read_zone_file(path: str | Path) -> list[Zone]:
    """The zones of one GeoJSON file; :class:`ZoneError` naming the file and feature when it is bad."""
    p = Path(path)
    try:
        size = p.stat().st_size if p.is_file() else None  # a device (/dev/zero) or a FIFO never ends
    except OSError as exc:
        raise ZoneError(f"{p}: cannot read GeoJSON: {exc}") from None
    if size is None:
        raise ZoneError(f"{p}: cannot read GeoJSON: not a regular file")
    if size > MAX_ZONE_FILE_BYTES:
        raise ZoneError(f"{p}: cannot read GeoJSON: larger than {MAX_ZONE_FILE_BYTES} bytes")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ZoneError(f"{p}: cannot read GeoJSON: {exc}") from None
    except RecursionError:
        raise ZoneError(f"{p}: cannot read GeoJSON: nested too deeply") from None
    return zones_from_geojson(data, source=str(p))
