"""The sea map: the fishing fleet live, its recent tracks, the sea zones, the vessels in alert.

A Dash app of its own on the wall's Flask server, under ``/sea/`` (see
:func:`create_sea_page`). One 1920x1080 screen, dark like the wall:

- a header (city, page, vessel counts by state, data time, clock, a link back to the wall),
- the map (plotly ``scattermap``: MapLibre, WebGL): every vessel seen in the last
  12 h as an arrow pointing where its bow points (heading, else course over
  ground), coloured by state (moving, slow or loitering at sea, in port, no signal
  for 10 min), ringed in the colour of its worst open alert; the tracks of the last
  1/3/6/12 h (thinned in the database to :data:`TRACK_BUDGET` points); the zones the
  vessel rules watch, coloured by kind; a coastline and a land mask shipped with the
  project,
- a side panel: track length, the vessel search, the selected vessel's details
  (register, speed, course, last seen, its alerts) whose full-resolution track is
  drawn on the map, the vessels in alert (a click opens one), and the legend.

Offline by default: the map style is built here and needs nothing from outside (a
dark sea, the shipped coastline; the vessel arrows come from a sprite drawn by this
module and served under ``/sea/_map/``; no text is drawn on the map, so no fonts).
With a tile URL configured (``web.map_tiles_url``, an XYZ template) the tiles are
drawn under the zones.

The map refreshes in place. A server callback sends the vessel markers on every tick
(2 to 5 s); the tracks are a GeoJSON document (``/sea/_map/tracks.geojson``) that the
map loads into a MapLibre source of its own every 10 s or so, so they cost the page
nothing in between; a small browser callback puts the figure together, carrying over
the operator's pan and zoom from the live map. Figures are plain JSON-ready dicts
(plotly's validation is slow); coordinates travel as base64 typed arrays.
"""

from __future__ import annotations

import base64
import html as html_text
import json
import logging
import math
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
import numpy as np
import psycopg
import shapely
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import Flask, Response, redirect, request
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from dashboards import components as c
from ioc.config import Settings
from ioc.store import vessel_queries as vq

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
PREFIX = "/sea/"
MAP_ROUTE = "/sea/_map/"  # the sprite and the (empty) glyphs of the offline map style

TRACK_HOURS: tuple[int, ...] = (1, 3, 6, 12)
HOURS_OPTIONS = [{"label": f"{h} h", "value": h} for h in TRACK_HOURS]
DEFAULT_TRACK_HOURS = 3
TRACK_BUDGET = 50_000  # points of all tracks together, after thinning in the database
TRACK_TOLERANCE_DEG = 0.00004  # Douglas-Peucker on top of the thinning: about 4 m
TRACK_CACHE_S = 5.0  # screens asking for the same tracks within this share one query
TRACK_GAP = timedelta(minutes=15)  # a selected track is broken (and the gap drawn amber) where it was silent
STALE_AFTER = timedelta(minutes=10)  # no position for this long: "no signal", grey
SLOW_KN = 2.0  # at sea under this speed: slow / loitering (the loitering rule's default)
ALERT_LIST_ROWS = 60
BUSY_FLEET = 500  # more vessels than this: the markers refresh every 5 s
MAP_SIZE_PX = (1420, 960)  # the map's size on a 1920x1080 wall, for the first view

# --------------------------------------------------------------------------- palette

SEA = "#0b1826"  # the sea of the offline map
LAND = "#1b2430"
COAST = "#4f6378"
TRACK = "rgba(120, 190, 255, 0.42)"
SELECTED = "#ffffff"
GAP = c.SEVERITY_COLOURS["warning"]
STATE_COLOURS: dict[str, str] = {"moving": "#5cc8ff", "slow": "#d08cff", "port": "#9aa8ba",
                                 "stale": "#5d6b7d"}
STATE_LABELS: dict[str, str] = {"moving": "moving", "slow": "slow / loitering", "port": "in port",
                                "stale": "no signal"}
STATE_SHORT: dict[str, str] = {"moving": "moving", "slow": "slow", "port": "in port", "stale": "no signal"}
STATES = tuple(STATE_COLOURS)


@dataclass(frozen=True)
class ZoneStyle:
    """How one kind of zone is drawn."""

    label: str
    line: str
    fill: str | None = None
    fill_opacity: float = 0.0
    width: float = 1.5
    dash: tuple[float, ...] | None = None


# bottom to top; no-fishing and protected red-ish, ports blue, storm ban amber, the sea boundary dashed grey
ZONE_STYLES: dict[str, ZoneStyle] = {
    "sea_boundary": ZoneStyle("Provincial waters", "#7d8ca0", dash=(4.0, 3.0)),
    # closed to boats only while a storm warning is in force: an outline (a tint of amber on the
    # dark sea reads as a grey box)
    "storm_ban": ZoneStyle("Storm-ban area", "#ffb020", None, 0.0, 2.0, (3.0, 2.0)),
    "protected": ZoneStyle("Protected area", "#ff7a5c", "#ff7a5c", 0.16),
    "no_fishing": ZoneStyle("No fishing", "#ff5a5f", "#ff5a5f", 0.32, 2.0),
    "port": ZoneStyle("Port", "#59a8ff", "#59a8ff", 0.35),
}
OTHER_ZONE = ZoneStyle("Zone", "#9aa8ba", "#9aa8ba", 0.12)

DETECTOR_LABELS: dict[str, str] = {
    "zone_dwell": "In a protected zone", "ais_gap": "AIS gap (dark)", "loitering": "Loitering",
    "encounter": "Encounter at sea", "storm_ban": "In storm-ban area",
}
NAV_STATUS: dict[int, str] = {
    0: "under way (engine)", 1: "at anchor", 2: "not under command", 3: "restricted manoeuvrability",
    4: "constrained by draught", 5: "moored", 6: "aground", 7: "fishing", 8: "under way (sail)",
    14: "AIS-SART", 15: "not defined",
}
# what the graph shows until the browser has put the map together (the style's URLs must be absolute)
EMPTY_FIGURE: dict[str, Any] = {"data": [], "layout": {
    "paper_bgcolor": SEA, "plot_bgcolor": SEA, "xaxis": {"visible": False}, "yaxis": {"visible": False},
    "margin": {"l": 0, "r": 0, "t": 0, "b": 0}}}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True, "scrollZoom": True, "doubleClick": False,
                "showTips": False}


def ship_type_label(code: int | None) -> str:
    """A short reading of the AIS ship and cargo type code."""
    if code is None:
        return "—"
    fixed = {30: "fishing", 31: "towing", 32: "towing (large)", 33: "dredging", 34: "diving", 35: "military",
             36: "sailing", 37: "pleasure craft", 50: "pilot", 51: "search and rescue", 52: "tug",
             53: "port tender", 55: "law enforcement", 58: "medical"}
    if code in fixed:
        return fixed[code]
    ranges = {2: "wing in ground", 4: "high-speed craft", 6: "passenger", 7: "cargo", 8: "tanker", 9: "other"}
    return ranges.get(code // 10, f"type {code}")


# --------------------------------------------------------------------------- the sprite

ICON_PX = 48  # one icon's box at pixel ratio 1; ``marker.size`` 10 draws it at that size
RINGS: tuple[str | None, ...] = (None, "critical", "warning", "info")


ICON_STATES = {"moving": "mov", "slow": "slow", "port": "port", "stale": "lost"}
ICON_RINGS = {"critical": "crit", "warning": "warn", "info": "info"}


def icon_name(state: str, directional: bool, severity: str | None = None) -> str:
    """The sprite icon of a vessel: ``a-mov`` (an arrow), ``d-port-crit`` (a dot in a red ring)...

    Short: the name travels once per vessel on every refresh.
    """
    name = ("a-" if directional else "d-") + ICON_STATES[state]
    return name + ("-" + ICON_RINGS.get(severity, "crit") if severity else "")


def _rgba(colour: str) -> tuple[float, float, float]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _over(dst: np.ndarray, alpha: np.ndarray, colour: str, opacity: float = 1.0) -> None:
    """Paint ``colour`` with coverage ``alpha`` over ``dst`` (straight RGBA floats), in place."""
    a = np.clip(alpha, 0.0, 1.0) * opacity
    out_a = a + dst[..., 3] * (1 - a)
    rgb = np.array(_rgba(colour))
    safe = np.where(out_a > 0, out_a, 1.0)
    for ch in range(3):
        dst[..., ch] = (rgb[ch] * a + dst[..., ch] * dst[..., 3] * (1 - a)) / safe
    dst[..., 3] = out_a


def _coverage(sd: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased coverage from a signed distance (icon units, negative inside)."""
    return np.clip(0.5 - sd * scale, 0.0, 1.0)


def _triangle_sd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance (approximately, exact near the edges) to the vessel arrow, pointing up."""
    pts = [(24.0, 9.0), (31.5, 32.0), (16.5, 32.0)]  # apex, starboard stern, port stern: centred on 24,24
    sd = np.full(x.shape, -np.inf)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
        nx, ny = y1 - y0, -(x1 - x0)  # outward normal of a clockwise polygon (y down)
        norm = math.hypot(nx, ny)
        sd = np.maximum(sd, ((x - x0) * nx + (y - y0) * ny) / norm)
    return sd


def _icon(state: str, directional: bool, ring: str | None, scale: int, select: bool = False) -> np.ndarray:
    size = ICON_PX * scale
    grid = (np.arange(size) + 0.5) / scale
    x, y = np.meshgrid(grid, grid)
    img = np.zeros((size, size, 4))
    r = np.hypot(x - 24, y - 24)
    if select:
        _over(img, _coverage(np.abs(r - 22.2) - 1.7, scale), "#0a0e14", 0.9)
        _over(img, _coverage(np.abs(r - 22.2) - 1.0, scale), SELECTED)
        return img
    if ring:
        _over(img, _coverage(r - 19.0, scale), c.SEVERITY_COLOURS.get(ring, "#ff5a5f"), 0.22)
        _over(img, _coverage(np.abs(r - 19.0) - 2.1, scale), c.SEVERITY_COLOURS.get(ring, "#ff5a5f"))
    sd = _triangle_sd(x, y) if directional else r - 6.5
    _over(img, _coverage(sd - 1.6, scale), "#05080c", 0.95)  # a dark outline: visible on any background
    _over(img, _coverage(sd, scale), STATE_COLOURS[state])
    return img


def _png(rgba: np.ndarray) -> bytes:
    """A straight-alpha RGBA image (floats 0..1) as PNG bytes (stdlib only)."""
    pixels = np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8)
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@cache
def sprite(scale: int = 1) -> tuple[dict[str, dict[str, int]], bytes]:
    """The map style's sprite at a pixel ratio: (index JSON, PNG bytes); drawn once per process."""
    icons: list[tuple[str, np.ndarray]] = [("select", _icon("moving", False, None, scale, select=True))]
    for state in STATES:
        for directional in (True, False):
            for ring in RINGS:
                icons.append((icon_name(state, directional, ring), _icon(state, directional, ring, scale)))
    cols = 8
    size = ICON_PX * scale
    rows = -(-len(icons) // cols)
    sheet = np.zeros((rows * size, cols * size, 4))
    index: dict[str, dict[str, int]] = {}
    for i, (name, img) in enumerate(icons):
        row, col = divmod(i, cols)
        sheet[row * size:(row + 1) * size, col * size:(col + 1) * size] = img
        index[name] = {"x": col * size, "y": row * size, "width": size, "height": size, "pixelRatio": scale}
    return index, _png(sheet)


# --------------------------------------------------------------------------- zones and the base map


@dataclass(frozen=True)
class MapFeature:
    """One shipped polygon or line of the map: a zone the rules watch, or the coast."""

    id: str
    name: str
    kind: str
    geojson: dict[str, Any]  # the GeoJSON Feature
    geometry: BaseGeometry


def _read_features(path: Path) -> list[MapFeature]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("sea map: cannot read %s: %s", path, exc)
        return []
    out = []
    for i, feat in enumerate(doc.get("features", []) if isinstance(doc, dict) else []):
        props = feat.get("properties") or {}
        try:
            geom = shape(feat["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
            log.warning("sea map: skipping feature %d of %s: %s", i, path, exc)
            continue
        out.append(MapFeature(id=str(props.get("id", f"{path.stem}-{i}")), name=str(props.get("name", "")),
                              kind=str(props.get("kind", "")), geojson={"type": "Feature", "properties": {},
                                                                        "geometry": feat["geometry"]},
                              geometry=geom))
    return out


def _resolve(settings: Settings, name: str | Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() else Path(settings.samples_dir) / path


def zone_files(settings: Settings) -> list[Path]:
    """The zone files of the vessel rules (``rules.vessels.zones``, relative to ``samples_dir``)."""
    names = settings.rules.vessels.get("zones", []) if isinstance(settings.rules.vessels, dict) else []
    return [_resolve(settings, n) for n in ([names] if isinstance(names, str) else names)]


def coastline_files(settings: Settings) -> list[Path]:
    """The coastline layers: ``<city>-coastline.geojson`` beside each ``<city>-zones.geojson``."""
    out = []
    for zones in zone_files(settings):
        candidate = zones.with_name(zones.name.replace("zones", "coastline"))
        if candidate != zones and candidate.is_file():
            out.append(candidate)
    return out


def tile_source(settings: Settings) -> tuple[str | None, str]:
    """The configured XYZ tile URL template (``None``: offline) and its attribution."""
    url = getattr(settings.web, "map_tiles_url", None) or None
    return url, str(getattr(settings.web, "map_tiles_attribution", "") or "")


def map_style(tiles_url: str | None = None, attribution: str = "") -> dict[str, Any]:
    """The MapLibre style: a dark sea, and the tiles when a URL is configured; nothing else from outside.

    ``sprite`` and ``glyphs`` are paths on this server (the browser makes them absolute,
    as MapLibre wants): the sprite holds the vessel arrows; no text is drawn on the map,
    so the glyphs route only answers empty.
    """
    style: dict[str, Any] = {
        "version": 8,
        "id": "ioc-sea" + ("-tiles" if tiles_url else ""),
        "name": "ioc-sea",
        # never empty: plotly drops empty objects on the way, and MapLibre requires "sources"
        "sources": {"none": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
        "sprite": MAP_ROUTE + "sprite",
        "glyphs": MAP_ROUTE + "glyphs/{fontstack}/{range}.pbf",
        "layers": [{"id": "sea", "type": "background", "paint": {"background-color": SEA}}],
    }
    if tiles_url:
        source: dict[str, Any] = {"type": "raster", "tiles": [tiles_url], "tileSize": 256, "maxzoom": 19}
        if attribution:
            source["attribution"] = attribution
        style["sources"]["tiles"] = source
        style["layers"].append({"id": "tiles", "type": "raster", "source": "tiles",
                                "paint": {"raster-opacity": 0.85}})
    return style


def zone_layers(
    zones: Sequence[MapFeature], coast: Sequence[MapFeature], tiles: bool
) -> list[dict[str, Any]]:
    """``layout.map.layers``: land and coast (offline only), then the zones bottom to top by kind."""
    layers: list[dict[str, Any]] = []
    if not tiles:
        for f in coast:
            if f.geometry.geom_type in ("Polygon", "MultiPolygon"):
                layers.append({"sourcetype": "geojson", "source": f.geojson, "type": "fill", "color": LAND,
                               "opacity": 1.0, "below": "traces", "name": f.id})
    order = list(ZONE_STYLES)
    for f in sorted(zones, key=lambda z: order.index(z.kind) if z.kind in order else len(order)):
        st = ZONE_STYLES.get(f.kind, OTHER_ZONE)
        if st.fill:
            layers.append({"sourcetype": "geojson", "source": f.geojson, "type": "fill", "color": st.fill,
                           "opacity": st.fill_opacity, "below": "traces", "name": f.id})
        line: dict[str, Any] = {"width": st.width}
        if st.dash:
            line["dash"] = list(st.dash)
        layers.append({"sourcetype": "geojson", "source": f.geojson, "type": "line", "color": st.line,
                       "line": line, "below": "traces", "name": f.id + "-edge"})
    if not tiles:
        for f in coast:
            layers.append({"sourcetype": "geojson", "source": f.geojson, "type": "line", "color": COAST,
                           "line": {"width": 1.5}, "below": "traces", "name": f.id + "-coast"})
    return layers


def fit_view(bounds: tuple[float, float, float, float], size_px: tuple[int, int] = MAP_SIZE_PX,
             pad: float = 0.06) -> tuple[dict[str, float], float]:
    """Centre and zoom (web Mercator, 512 px tiles) that show ``bounds`` (west, south, east, north)."""
    west, south, east, north = bounds

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(max(-85.0, min(85.0, lat))) / 2))

    width, height = size_px
    dx = max(east - west, 1e-6) / 360 * (1 + 2 * pad)
    dy = max(merc(north) - merc(south), 1e-6) / (2 * math.pi) * (1 + 2 * pad)
    zoom = math.log2(min(width / 512 / dx, height / 512 / dy))
    mid = (merc(north) + merc(south)) / 2
    lat = math.degrees(2 * math.atan(math.exp(mid)) - math.pi / 2)
    return {"lon": round((west + east) / 2, 5), "lat": round(lat, 5)}, round(max(0.0, min(zoom, 16.0)), 2)


@dataclass(frozen=True)
class SeaView:
    """What the sea page's layout and callbacks share: the store's pool, settings, the shipped layers."""

    pool: Any
    settings: Settings
    zones: tuple[MapFeature, ...] = ()
    coast: tuple[MapFeature, ...] = ()
    tiles_url: str | None = None
    tiles_attribution: str = ""
    ports: BaseGeometry | None = field(default=None, compare=False)
    # the last tracks per window length, shared by every screen showing the page (see track_set)
    track_cache: dict[int, TrackSet] = field(default_factory=dict, compare=False, repr=False)
    track_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @classmethod
    def build(cls, pool: Any, settings: Settings) -> SeaView:
        zones = tuple(f for p in zone_files(settings) for f in _read_features(p))
        coast = tuple(f for p in coastline_files(settings) for f in _read_features(p))
        ports = [z.geometry for z in zones if z.kind == "port"]
        port_union = shapely.union_all(ports) if ports else None
        if port_union is not None:
            shapely.prepare(port_union)
        url, attribution = tile_source(settings)
        return cls(pool=pool, settings=settings, zones=zones, coast=coast, tiles_url=url,
                   tiles_attribution=attribution, ports=port_union)

    def bounds(self) -> tuple[float, float, float, float]:
        """What the first view shows: the provincial waters if drawn, else every zone and the coast."""
        boundary = [z.geometry for z in self.zones if z.kind == "sea_boundary"]
        geoms = boundary or [f.geometry for f in (*self.zones, *self.coast)]
        if not geoms:
            return (105.0, 8.0, 110.0, 21.0)  # nothing configured: the coast of Viet Nam's centre
        w, s, e, n = shapely.total_bounds(geoms)
        return float(w), float(s), float(e), float(n)


def base_figure(view: SeaView) -> dict[str, Any]:
    """The map without vessels: style, zones, coast and the first view; built once per page load."""
    centre, zoom = fit_view(view.bounds())
    return {
        "data": [],
        "layout": {
            "uirevision": "sea",
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": SEA,
            "showlegend": False,
            "hovermode": "closest",
            "dragmode": "pan",
            "font": {"family": c.FONT, "color": c.TEXT, "size": 16},
            "hoverlabel": {"bgcolor": c.PANEL, "bordercolor": c.GRID,
                           "font": {"family": c.FONT, "size": 17, "color": c.TEXT}, "align": "left"},
            "map": {
                "style": map_style(view.tiles_url, view.tiles_attribution),
                "center": centre,
                "zoom": zoom,
                "layers": zone_layers(view.zones, view.coast, bool(view.tiles_url)),
            },
        },
    }


# --------------------------------------------------------------------------- vessels


def typed(values: Iterable[float | None], dtype: str = "f4") -> dict[str, str]:
    """A plotly.js typed-array spec (base64); ``None`` becomes NaN (a gap in a line)."""
    arr = np.asarray([np.nan if v is None else v for v in values], dtype="<" + dtype)
    return {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


def in_port_mask(ports: BaseGeometry | None, vessels: Sequence[vq.VesselNow]) -> np.ndarray:
    """Which vessels lie inside a port zone (vectorised point-in-polygon)."""
    if ports is None or not vessels:
        return np.zeros(len(vessels), dtype=bool)
    lons = np.fromiter((v.lon for v in vessels), float, len(vessels))
    lats = np.fromiter((v.lat for v in vessels), float, len(vessels))
    return shapely.intersects_xy(ports, lons, lats)  # the boundary counts as inside


def vessel_state(v: vq.VesselNow, as_of: datetime, in_port: bool) -> str:
    """``stale`` (silent for :data:`STALE_AFTER`), ``port``, ``slow`` (at sea, under :data:`SLOW_KN`)
    or ``moving``."""
    if as_of - v.time > STALE_AFTER:
        return "stale"
    if in_port or v.nav_status in (1, 5):  # at anchor, moored
        return "port"
    if v.sog is not None and v.sog < SLOW_KN:
        return "slow"
    return "moving"


def directional(v: vq.VesselNow, state: str) -> bool:
    """An arrow when the vessel says where it points and is not tied up; a dot otherwise."""
    drifting_without_heading = v.sog is not None and v.sog < 0.3 and v.heading is None
    return v.course is not None and state != "port" and not drifting_without_heading


def fmt_course(v: vq.VesselNow) -> str:
    course = v.course
    return "—" if course is None else f"{course:03.0f}°"


def fmt_position(lat: float, lon: float) -> str:
    """``16.6806° N, 107.7776° E``."""
    return f"{abs(lat):.4f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.4f}° {'E' if lon >= 0 else 'W'}"


def fmt_speed(sog: float | None) -> str:
    return "—" if sog is None else f"{sog:.1f} kn"


@dataclass(frozen=True)
class VesselRow:
    """A vessel with what the page derived: its state and icon."""

    vessel: vq.VesselNow
    state: str
    icon: str


def classify(snapshot: vq.SeaSnapshot, ports: BaseGeometry | None) -> list[VesselRow]:
    """State and icon of every vessel of the snapshot."""
    mask = in_port_mask(ports, snapshot.vessels)
    rows = []
    for v, port in zip(snapshot.vessels, mask, strict=True):
        state = vessel_state(v, snapshot.as_of, bool(port))
        rows.append(VesselRow(v, state, icon_name(state, directional(v, state), v.alert_severity)))
    return rows


# the hover label of a vessel; the values travel as ``customdata`` (see :func:`_hover_data`)
VESSEL_HOVER = ("<b>%{customdata[1]}</b>%{customdata[2]}<br>MMSI %{customdata[0]} · %{customdata[3]}<br>"
                "%{customdata[4]} · %{customdata[5]} · seen %{customdata[6]}%{customdata[7]}<extra></extra>")


def _hover_data(row: VesselRow, as_of: datetime) -> list[Any]:
    """``[mmsi, name, simulated, state, speed, course, seen, alert]`` for :data:`VESSEL_HOVER`."""
    v = row.vessel
    alert = ""
    if v.in_alert:
        colour = c.SEVERITY_COLOURS.get(v.alert_severity or "", c.SEVERITY_COLOURS["critical"])
        what = " · ".join(DETECTOR_LABELS.get(d, d) for d in v.alert_detectors)
        alert = f"<br><span style='color:{colour}'>⚠ {html_text.escape(what)}</span>"
    speed = fmt_speed(v.sog) if row.state != "stale" else f"last {fmt_speed(v.sog)}"
    return [v.mmsi, html_text.escape(v.label), " · SIMULATED" if v.simulated else "", STATE_LABELS[row.state],
            speed, fmt_course(v), c.ago(as_of - v.time), alert]


def icon_size(vessels: int) -> int:
    """``marker.size`` of the vessel arrows (10 = the sprite's size): smaller when the sea is crowded."""
    return 10 if vessels <= 300 else 8 if vessels <= 1000 else 7


def vessel_trace(rows: Sequence[VesselRow], as_of: datetime) -> dict[str, Any]:
    """Every vessel as a rotated arrow (or a dot), ringed when in alert; those in alert drawn last, on top."""
    order = sorted(rows, key=lambda r: (r.vessel.in_alert, r.state != "stale", r.vessel.mmsi))
    return {
        "type": "scattermap",
        "name": "vessels",
        "mode": "markers",
        "lon": typed(r.vessel.lon for r in order),
        "lat": typed(r.vessel.lat for r in order),
        "marker": {
            "symbol": [r.icon for r in order],
            "angle": [round(r.vessel.course or 0.0) % 360 for r in order],
            "size": icon_size(len(order)),
            "allowoverlap": True,
        },
        "customdata": [_hover_data(r, as_of) for r in order],
        "hovertemplate": VESSEL_HOVER,
    }


def track_geojson(tracks: vq.Tracks) -> bytes:
    """All tracks as one GeoJSON ``MultiLineString`` (coordinates to 5 decimals, about 1 m).

    The map loads it straight from the server into a source of its own (parsed in
    MapLibre's worker, off the page's main thread), so the tracks cost the page nothing
    between their refreshes: a plotly trace would be rebuilt and re-tiled on every tick.
    """
    lines = []
    for line in tracks.lines:
        if len(line) < 2:
            continue
        lines.append("[" + ",".join(f"[{x:.5f},{y:.5f}]" for x, y in zip(line.lons, line.lats, strict=True))
                     + "]")
    return ('{"type":"Feature","properties":{},"geometry":{"type":"MultiLineString","coordinates":['
            + ",".join(lines) + "]}}").encode("ascii")


@dataclass(frozen=True)
class TrackSet:
    """The tracks of one window length as the page serves them, with a version for the map's URL."""

    version: int
    created: float  # time.monotonic()
    hours: int
    points: int
    vessels: int
    body: bytes  # :func:`track_geojson`

    @property
    def url(self) -> str:
        return f"{MAP_ROUTE}tracks.geojson?hours={self.hours}&v={self.version}"

    @property
    def note(self) -> str:
        return (f"Tracks of the last {self.hours} h: {c.fmt_int(self.points)} points "
                f"(thinned on the server, at most {c.fmt_int(TRACK_BUDGET)})")


def selection_traces(details: vq.VesselDetails, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The selected vessel: its full-resolution track (white, hover for time and speed), the silent
    stretches of it (amber) and a ring around it."""
    v = details.vessel
    lons: list[float | None] = []
    lats: list[float | None] = []
    text: list[str] = []
    gaps_lon: list[float | None] = []
    gaps_lat: list[float | None] = []
    prev: vq.TrackPoint | None = None
    for p in details.track:
        if prev is not None and p.time - prev.time > TRACK_GAP:
            lons.append(None)
            lats.append(None)
            text.append("")
            gaps_lon.extend((prev.lon, p.lon, None))
            gaps_lat.extend((prev.lat, p.lat, None))
        lons.append(p.lon)
        lats.append(p.lat)
        text.append(f"{html_text.escape(v.label)} · {c.local_time(p.time, tz, seconds=False)}<br>"
                    f"{fmt_speed(p.sog)} · {'—' if p.cog is None else f'{p.cog:03.0f}°'}")
        prev = p
    traces: list[dict[str, Any]] = []
    if gaps_lon:
        traces.append({"type": "scattermap", "name": "silent", "mode": "lines", "lon": gaps_lon,
                       "lat": gaps_lat, "line": {"width": 3, "color": GAP}, "hoverinfo": "skip"})
    if lons:
        traces.append({"type": "scattermap", "name": "selected track", "mode": "lines+markers", "lon": lons,
                       "lat": lats, "line": {"width": 3, "color": SELECTED},
                       "marker": {"size": 5, "color": SELECTED}, "hovertext": text, "hoverinfo": "text"})
    traces.append({"type": "scattermap", "name": "selected", "mode": "markers", "lon": [v.lon],
                   "lat": [v.lat], "marker": {"symbol": "select", "size": 10, "allowoverlap": True},
                   "hoverinfo": "skip"})
    return traces


# --------------------------------------------------------------------------- side panel


def _sim_badge(v: vq.VesselNow) -> list[Any]:
    return [html.Span("SIM", className="sea-badge-sim", title="SIMULATED vessel")] if v.simulated else []


def alert_items(rows: Sequence[VesselRow], limit: int = ALERT_LIST_ROWS) -> list[Any]:
    """The vessels in alert, worst first: clickable rows (severity, name, what)."""
    flagged = sorted((r for r in rows if r.vessel.in_alert),
                     key=lambda r: (c.severity_rank(r.vessel.alert_severity or ""), r.vessel.label))
    items: list[Any] = []
    for r in flagged[:limit]:
        v = r.vessel
        sev = v.alert_severity or "info"
        what = " · ".join(DETECTOR_LABELS.get(d, d.replace("_", " ")) for d in v.alert_detectors)
        items.append(html.Button(
            [
                html.Span(c.SEVERITY_SHORT.get(sev, sev[:4].upper()), className=f"sea-sev sea-sev-{sev}"),
                html.Span([html.Span(v.label, className="sea-item-name"), *_sim_badge(v),
                           html.Span(what, className="sea-item-what")], className="sea-item-body"),
                html.Span(f"×{v.alerts_open}" if v.alerts_open > 1 else "", className="sea-item-count"),
            ],
            id={"type": "sea-item", "mmsi": str(v.mmsi)},
            className=f"sea-alert-item sea-item-{sev}",
            title=v.alert_title or "",
            n_clicks=0,
            **{"data-mmsi": str(v.mmsi)},
        ))
    if len(flagged) > limit:
        items.append(html.Div(f"+ {len(flagged) - limit} more", className="sea-more"))
    if not items:
        items = [html.Div("No vessel in alert", className="sea-none")]
    return items


def counts_children(rows: Sequence[VesselRow]) -> list[Any]:
    """The header's counts: vessels shown, by state, in alert, simulated."""
    by_state = {s: 0 for s in STATES}
    for r in rows:
        by_state[r.state] += 1
    flagged = sum(1 for r in rows if r.vessel.in_alert)
    parts: list[Any] = [html.Span([html.B(c.fmt_int(len(rows)), className="sea-count-vessels"), " vessels"],
                                  className="sea-count-total")]
    for s in STATES:
        parts.append(html.Span([html.I(className=f"sea-key sea-key-{s}"), f"{by_state[s]} {STATE_SHORT[s]}"],
                               className="sea-count", title=STATE_LABELS[s]))
    parts.append(html.Span(f"{flagged} in alert",
                           className="sea-count sea-count-alert" + (" hot" if flagged else "")))
    return parts


def simulated_note(rows: Sequence[VesselRow]) -> str:
    """Over the map: how many of the vessels drawn are simulated ("" when none)."""
    sims = sum(1 for r in rows if r.vessel.simulated)
    if not sims:
        return ""
    return ("All vessels SIMULATED" if sims == len(rows) else f"{sims} of {len(rows)} vessels SIMULATED") + \
        " (names SIM …): not real boats"


def details_children(d: vq.VesselDetails, tz: ZoneInfo, hours: int) -> list[Any]:
    """The selected vessel's panel: who, where, how fast, since when, which alerts."""
    v = d.vessel
    size = "—"
    if v.length_m is not None:
        size = f"{v.length_m:g} m" + (f" × {v.beam_m:g} m" if v.beam_m is not None else "")
    status = NAV_STATUS.get(v.nav_status, "—") if v.nav_status is not None else "—"
    seen = d.as_of - v.time
    facts = [
        ("MMSI", str(v.mmsi)), ("Call sign", v.callsign or "—"), ("Type", ship_type_label(v.ship_type)),
        ("Size", size), ("Speed", fmt_speed(v.sog)), ("Course", fmt_course(v)),
        ("Status", status), ("Destination", (v.destination or "—").strip() or "—"),
        ("Last seen", f"{c.ago(seen)} ({c.local_time(v.time, tz, seconds=False)})"),
        ("Position", fmt_position(v.lat, v.lon)),
    ]
    alerts: list[Any] = []
    for a in d.alerts:
        when = (f"since {c.local_time(a.started_at, tz, seconds=False)}" if a.active
                else f"resolved {c.local_time(a.resolved_at or a.last_seen, tz, seconds=False)}")
        alerts.append(html.Div(
            [html.Span(c.SEVERITY_SHORT.get(a.severity, a.severity[:4].upper()),
                       className=f"sea-sev sea-sev-{a.severity}"),
             html.Span([html.Span(DETECTOR_LABELS.get(a.detector, a.detector), className="sea-da-what"),
                        html.Span(f"{a.state} · {when}", className="sea-da-when"),
                        html.Span(a.title, className="sea-da-title")], className="sea-da-body")],
            className="sea-detail-alert" + ("" if a.active else " resolved"), title=a.title,
        ))
    stale = seen > STALE_AFTER
    track_note = f"{len(d.track)} positions in the last {hours} h"
    if d.track_truncated:
        track_note += " (the newest shown)"
    return [
        html.Div(
            [html.Span(v.label, className="sea-details-name"),
             *([html.Span("SIMULATED", className="sea-badge-sim big")] if v.simulated else [])],
            className="sea-details-head", **{"data-mmsi": str(v.mmsi)},
        ),
        html.Div([html.Div([html.Span(k, className="sea-fact-k"),
                            html.Span(val, className="sea-fact-v" + (" stale" if k == "Last seen" and stale
                                                                      else ""))],
                           className="sea-fact" + (" wide" if k == "Position" else ""))
                  for k, val in facts], className="sea-facts"),
        html.Div(track_note, className="sea-details-track"),
        html.Div(alerts or [html.Div("No alert in the last 24 h", className="sea-none")],
                 className="sea-details-alerts"),
    ]


def _legend() -> html.Div:
    def item(key: str, label: str) -> html.Div:
        return html.Div([html.I(className=key), label], className="sea-legend-item")

    vessels = [item(f"sea-key sea-key-{s}", STATE_LABELS[s]) for s in STATES]
    rings = [html.I(className="sea-key sea-key-alert"), html.I(className="sea-key sea-key-alert warn")]
    vessels += [html.Div([*rings, "alert: critical, warning"], className="sea-legend-item"),
                item("sea-key sea-key-track", "track (selected: white)")]
    zones = [item(f"sea-swatch sea-zone-{k}", st.label) for k, st in ZONE_STYLES.items()]
    return html.Div([html.Div(vessels, className="sea-legend-col"),
                     html.Div(zones, className="sea-legend-col")], className="sea-legend")


# --------------------------------------------------------------------------- layout


def refresh_ms(settings: Settings) -> int:
    """The vessels' refresh: the wall's tick, kept between 2 and 5 s."""
    return max(2000, min(5000, settings.web.refresh_ms))


def vessel_refresh_ms(settings: Settings, vessels: int) -> int:
    """The vessels' refresh for a fleet of this size: every 5 s beyond :data:`BUSY_FLEET` vessels
    (each refresh redraws every marker; AIS reports come every 2 to 180 s anyway)."""
    return refresh_ms(settings) if vessels <= BUSY_FLEET else 5000


def track_refresh_ms(settings: Settings) -> int:
    """Tracks move slowly and weigh more: every 10 s, or every third tick if ticks are slower."""
    return max(10_000, 3 * refresh_ms(settings))


def stale_after_ms(settings: Settings) -> int:
    return max(8000, 3 * refresh_ms(settings) + 2000)


def layout(view: SeaView) -> html.Div:
    """The page; built on every load (the base figure carries the zones)."""
    settings = view.settings
    now_local = datetime.now(view.tz)
    base = base_figure(view)
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.Div(settings.city, className="sea-city"),
                              html.Div("Sea map", className="sea-title"),
                              html.A("← Wall", href="/", className="sea-nav")], className="sea-brand"),
                    html.Div([], id="sea-counts", className="sea-counts"),
                    html.Div([html.Span("Data as of —", id="sea-asof", className="sea-asof"),
                              html.Span("", id="sea-link", className="sea-link")], className="sea-status"),
                    html.Div(now_local.strftime("%H:%M:%S"), id="sea-clock", className="sea-clock"),
                ],
                className="sea-header",
            ),
            html.Main(
                [
                    html.Div(
                        [dcc.Graph(id="sea-map", figure=EMPTY_FIGURE, config=GRAPH_CONFIG,
                                   className="sea-graph", style={"height": "100%", "width": "100%"}),
                         html.Div("Zones and coastline approximate: not for navigation",
                                  className="sea-map-note"),
                         html.Div("Map offline: shipped coastline" if not view.tiles_url else "",
                                  className="sea-map-mode"),
                         html.Div("", id="sea-sim-note", className="sea-sim-note"),
                         html.Button("Fit view", id="sea-reset", className="sea-button sea-fit", n_clicks=0,
                                     title="Back to the whole sea area")],
                        className="sea-map-wrap",
                    ),
                    html.Aside(
                        [
                            html.Div(
                                [
                                    html.Span("Tracks", className="sea-ctl-label"),
                                    dcc.RadioItems(id="sea-hours", options=HOURS_OPTIONS,
                                                   value=DEFAULT_TRACK_HOURS, inline=True,
                                                   className="sea-hours"),
                                ],
                                className="sea-controls",
                            ),
                            dcc.Dropdown(id="sea-search", options=[], className="sea-search",
                                         placeholder="Find a vessel: name or MMSI", clearable=True),
                            html.Section(
                                [html.Button("×", id="sea-close", className="sea-close", title="Close (Esc)",
                                             n_clicks=0),
                                 html.Div([], id="sea-details-body", className="sea-details-body")],
                                id="sea-details", className="sea-details hidden",
                            ),
                            html.Section(
                                [html.Div([html.H2("Vessels in alert"),
                                           html.Span("", id="sea-alert-count", className="sea-alert-count")],
                                          className="sea-alerts-head"),
                                 html.Div([], id="sea-alert-list", className="sea-alert-list")],
                                className="sea-alerts",
                            ),
                            html.Div("", id="sea-track-note", className="sea-track-note"),
                            _legend(),
                        ],
                        className="sea-side",
                    ),
                ],
                className="sea-main",
            ),
            dcc.Interval(id="sea-tick", interval=refresh_ms(settings)),
            dcc.Interval(id="sea-track-tick", interval=track_refresh_ms(settings)),
            dcc.Interval(id="sea-clock-tick", interval=1000),
            dcc.Store(id="sea-base", data=base),
            dcc.Store(id="sea-vessels"),
            dcc.Store(id="sea-tracks"),
            dcc.Store(id="sea-selection"),
            dcc.Store(id="sea-selected", data={"mmsi": None, "seq": 0, "focus": False}),
            dcc.Store(id="sea-list-sig"),
            dcc.Store(id="sea-options-sig"),
            dcc.Store(id="sea-last-update"),
            dcc.Store(id="sea-keys"),
            dcc.Store(id="sea-config", data={"tz": settings.timezone, "staleMs": stale_after_ms(settings)}),
        ],
        className="sea-page",
    )


# --------------------------------------------------------------------------- callbacks

# The figure is put together in the browser from what the server sent (the base map once,
# the vessels every tick, the tracks every few ticks, the selection), carrying over the view
# the operator has now: read from the live MapLibre map, so a pan in progress or a refresh
# already in flight never throws the map back. "Fit view" starts a new uirevision.
_FIGURE_JS = """
function (vessels, tracks, selection, resets, base) {
    if (!base) { return dash_clientside.no_update; }
    const w = window;
    const triggered = (dash_clientside.callback_context.triggered || []).map(t => t.prop_id);
    const reset = triggered.indexOf('sea-reset.n_clicks') >= 0;
    const style = base.layout.map.style;
    if (!w.__seaStyle || w.__seaStyleId !== style.id) {
        const origin = window.location.origin;
        w.__seaStyle = Object.assign({}, style,
                                     {sprite: origin + style.sprite, glyphs: origin + style.glyphs});
        w.__seaStyleId = style.id;
    }
    const map = Object.assign({}, base.layout.map, {style: w.__seaStyle});
    const host = document.getElementById('sea-map');
    const gd = host && host.querySelector('.js-plotly-plot');
    const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    const live = sub && sub.map;
    if (live && !reset) {
        const ctr = live.getCenter();
        map.center = {lon: ctr.lng, lat: ctr.lat};
        map.zoom = live.getZoom();
        map.bearing = live.getBearing();
        map.pitch = live.getPitch();
    }
    // a vessel picked in the side panel: bring it into view if it is not well inside it already
    if (selection && selection.focus && selection.seq !== w.__seaFocusSeq) {
        w.__seaFocusSeq = selection.seq;
        let inside = false;
        if (live) {
            const p = live.project([selection.focus.lon, selection.focus.lat]);
            const box = live.getContainer().getBoundingClientRect();
            inside = p.x > 0.15 * box.width && p.x < 0.85 * box.width &&
                     p.y > 0.15 * box.height && p.y < 0.85 * box.height;
        }
        if (!inside) {
            map.center = {lon: selection.focus.lon, lat: selection.focus.lat};
            map.zoom = Math.max(map.zoom || 0, 9.5);
        }
    }
    // the tracks: a MapLibre source of their own, loaded from the server by URL (see track_geojson)
    if (tracks && tracks.url) {
        w.__seaTracks = Object.assign({}, tracks, {url: window.location.origin + tracks.url});
    }
    if (!w.__seaSyncTracks) {
        w.__seaSyncTracks = function (m) {
            const t = w.__seaTracks;
            if (!t || !m || !m.isStyleLoaded()) { return; }
            const order = typeof m.getLayersOrder === 'function' ? m.getLayersOrder()
                                                                 : m.getStyle().layers.map(l => l.id);
            const firstTrace = order.find(id => id.indexOf('plotly-trace-layer-') === 0);
            const src = m.getSource('sea-tracks');
            if (!src) {
                m.addSource('sea-tracks', {type: 'geojson', data: t.url});
                m.addLayer({id: 'sea-tracks', type: 'line', source: 'sea-tracks',
                            paint: {'line-color': t.color, 'line-width': t.width}}, firstTrace);
            } else {
                if (w.__seaTracksShown !== t.url) { src.setData(t.url); }
                // above the zones, under every vessel: just below the first trace layer
                const at = order.indexOf('sea-tracks');
                if (firstTrace && order[at + 1] !== firstTrace) { m.moveLayer('sea-tracks', firstTrace); }
            }
            w.__seaTracksShown = t.url;
        };
    }
    if (gd && gd.on && !gd.__seaHooked) {
        gd.__seaHooked = true;
        gd.on('plotly_afterplot', function () {
            const s = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            w.__seaSyncTracks(s && s.map);
        });
    }
    w.__seaSyncTracks(live);
    // the selected vessel's track under the vessels; never no trace at all: the zone layers go
    // below the first trace layer, which must exist (each trace costs the map work on every tick)
    const data = (selection && selection.traces) ? selection.traces.slice() : [];
    if (vessels && vessels.traces) { data.push(...vessels.traces); }
    if (!data.length) { data.push({type: 'scattermap', name: 'vessels', mode: 'markers', lon: [], lat: []}); }
    const layout = Object.assign({}, base.layout, {map: map, uirevision: 'sea-' + (resets || 0)});
    return {data: data, layout: layout};
}
"""

_CLOCK_JS = """
function (n, seq, cfg) {
    const now = new Date();
    const tz = (cfg && cfg.tz) || 'UTC';
    const w = window;
    if (w.__seaSeen === undefined || seq !== w.__seaSeq) { w.__seaSeq = seq; w.__seaSeen = now.getTime(); }
    let time;
    try {
        time = new Intl.DateTimeFormat('en-GB', {timeZone: tz, hour: '2-digit', minute: '2-digit',
            second: '2-digit', hourCycle: 'h23'}).format(now);
    } catch (e) { time = now.toISOString().slice(11, 19); }
    const quiet = now.getTime() - w.__seaSeen;
    const stale = quiet > ((cfg && cfg.staleMs) || 10000);
    return [time, stale ? ('NO UPDATE FOR ' + Math.round(quiet / 1000) + ' s') : '',
            stale ? 'sea-link stale' : 'sea-link'];
}
"""

# Esc closes the details panel.
_KEYS_JS = """
function (cfg) {
    if (!window.__seaKeys) {
        window.__seaKeys = true;
        document.addEventListener('keydown', function (e) {
            if (e.key === 'Escape') { const b = document.getElementById('sea-close'); if (b) { b.click(); } }
        });
    }
    return dash_clientside.no_update;
}
"""


def vessels_update(view: SeaView, list_sig: str | None, options_sig: str | None) -> tuple[Any, ...]:
    """What the tick callback returns: markers, header counts, the alert list and search options
    (each only when changed), the data time."""
    snap = vq.latest_vessels(view.pool)
    rows = classify(snap, view.ports)
    flagged = sorted((r.vessel.mmsi, r.vessel.label, r.vessel.alert_severity, r.vessel.alert_detectors,
                      r.vessel.alerts_open, r.vessel.simulated) for r in rows if r.vessel.in_alert)
    sig = str(hash(json.dumps(flagged, default=str)))
    names = [(r.vessel.mmsi, r.vessel.label) for r in rows]
    osig = str(hash(json.dumps(names)))
    n_alert = len(flagged)
    return (
        {"traces": [vessel_trace(rows, snap.as_of)], "count": len(rows)},
        counts_children(rows),
        simulated_note(rows),
        alert_items(rows) if sig != list_sig else dash.no_update,
        sig,
        f"{n_alert}" if n_alert else "none",
        [{"label": f"{label} · {mmsi}" if label != str(mmsi) else label, "value": mmsi}
         for mmsi, label in sorted(names, key=lambda x: x[1])] if osig != options_sig else dash.no_update,
        osig,
        f"Data as of {c.local_time(snap.as_of, view.tz)}",
        snap.as_of.isoformat(),
        vessel_refresh_ms(view.settings, len(rows)),
    )


def track_set(view: SeaView, hours: int, max_age_s: float | None = None) -> TrackSet:
    """The thinned tracks of the last ``hours``, queried at most once every ``max_age_s``
    (default :data:`TRACK_CACHE_S`) whatever the number of screens showing the page."""
    hours = hours if hours in TRACK_HOURS else DEFAULT_TRACK_HOURS
    max_age_s = TRACK_CACHE_S if max_age_s is None else max_age_s
    with view.track_lock:
        cached = view.track_cache.get(hours)
        if cached is not None and time.monotonic() - cached.created < max_age_s:
            return cached
        tracks = vq.vessel_tracks(view.pool, hours=hours, budget=TRACK_BUDGET,
                                  tolerance_deg=TRACK_TOLERANCE_DEG)
        version = max((t.version for t in view.track_cache.values()), default=0) + 1
        fresh = TrackSet(version=version, created=time.monotonic(), hours=hours, points=tracks.points,
                         vessels=len(tracks.lines), body=track_geojson(tracks))
        view.track_cache[hours] = fresh
    return fresh


def tracks_update(view: SeaView, hours: int | None) -> tuple[Any, ...]:
    """What the track callback returns: where the map loads the tracks from, and a note on them."""
    ts = track_set(view, int(hours or DEFAULT_TRACK_HOURS))
    return {"url": ts.url, "hours": ts.hours, "points": ts.points, "color": TRACK, "width": 1.6}, ts.note


def details_update(view: SeaView, selected: dict[str, Any] | None, hours: int | None) -> tuple[Any, ...]:
    """What the details callback returns: the panel, its class, and the selection's traces."""
    selected = selected or {}
    mmsi = selected.get("mmsi")
    seq = selected.get("seq", 0)
    if mmsi is None:
        return [], "sea-details hidden", {"traces": [], "seq": seq}
    hours = int(hours or DEFAULT_TRACK_HOURS)
    d = vq.vessel_details(view.pool, int(mmsi), hours=hours)
    if d is None:
        return [html.Div(f"Vessel {mmsi}: no position stored", className="sea-none")], "sea-details", \
            {"traces": [], "seq": seq}
    v = d.vessel
    sev = v.alert_severity if v.in_alert else None
    focus = {"lon": v.lon, "lat": v.lat} if selected.get("focus") else None
    return (
        details_children(d, view.tz, hours),
        "sea-details" + (f" alert-{sev}" if sev else ""),
        {"traces": selection_traces(d, view.tz), "seq": seq, "focus": focus, "mmsi": v.mmsi},
    )


def register_callbacks(app: dash.Dash, view: SeaView) -> None:
    """Wire the page's callbacks onto ``app`` (never the global callback list)."""

    @app.callback(
        Output("sea-vessels", "data"),
        Output("sea-counts", "children"),
        Output("sea-sim-note", "children"),
        Output("sea-alert-list", "children"),
        Output("sea-list-sig", "data"),
        Output("sea-alert-count", "children"),
        Output("sea-search", "options"),
        Output("sea-options-sig", "data"),
        Output("sea-asof", "children"),
        Output("sea-last-update", "data"),
        Output("sea-tick", "interval"),
        Input("sea-tick", "n_intervals"),
        State("sea-list-sig", "data"),
        State("sea-options-sig", "data"),
    )
    def refresh_vessels(_n: int | None, list_sig: str | None, options_sig: str | None) -> tuple[Any, ...]:
        try:
            return vessels_update(view, list_sig, options_sig)
        except psycopg.Error as exc:
            log.warning("sea map: store query failed: %s", exc)
            raise PreventUpdate from None

    @app.callback(
        Output("sea-tracks", "data"),
        Output("sea-track-note", "children"),
        Input("sea-track-tick", "n_intervals"),
        Input("sea-hours", "value"),
    )
    def refresh_tracks(_n: int | None, hours: int | None) -> tuple[Any, ...]:
        try:
            return tracks_update(view, hours)
        except psycopg.Error as exc:
            log.warning("sea map: track query failed: %s", exc)
            raise PreventUpdate from None

    @app.callback(
        Output("sea-selected", "data"),
        Output("sea-search", "value"),
        Input("sea-map", "clickData"),
        Input({"type": "sea-item", "mmsi": ALL}, "n_clicks"),
        Input("sea-search", "value"),
        Input("sea-close", "n_clicks"),
        State("sea-selected", "data"),
        prevent_initial_call=True,
    )
    def select(click: dict | None, _items: list, search: int | None, _close: int | None,
               current: dict | None) -> tuple[Any, ...]:
        ctx = dash.callback_context
        trig = ctx.triggered_id
        seq = int((current or {}).get("seq", 0)) + 1
        if trig == "sea-close":
            if not ctx.triggered[0].get("value"):
                raise PreventUpdate
            return {"mmsi": None, "seq": seq, "focus": False}, None
        if trig == "sea-map":
            points = (click or {}).get("points") or []
            mmsi = next((cd[0] for p in points if isinstance(cd := p.get("customdata"), list) and cd
                         and isinstance(cd[0], int)), None)
            if mmsi is None:
                raise PreventUpdate
            return {"mmsi": mmsi, "seq": seq, "focus": False}, dash.no_update
        if trig == "sea-search":
            if search is None:
                raise PreventUpdate
            return {"mmsi": int(search), "seq": seq, "focus": True}, dash.no_update
        if isinstance(trig, dict) and trig.get("type") == "sea-item":
            if not ctx.triggered[0].get("value"):  # a list re-rendered, nobody clicked
                raise PreventUpdate
            return {"mmsi": int(trig["mmsi"]), "seq": seq, "focus": True}, dash.no_update
        raise PreventUpdate

    @app.callback(
        Output("sea-details-body", "children"),
        Output("sea-details", "className"),
        Output("sea-selection", "data"),
        Input("sea-selected", "data"),
        Input("sea-tick", "n_intervals"),
        Input("sea-hours", "value"),
    )
    def refresh_details(selected: dict | None, _n: int | None, hours: int | None) -> tuple[Any, ...]:
        if dash.callback_context.triggered_id == "sea-tick" and not (selected or {}).get("mmsi"):
            raise PreventUpdate
        try:
            return details_update(view, selected, hours)
        except psycopg.Error as exc:
            log.warning("sea map: details query failed: %s", exc)
            raise PreventUpdate from None

    app.clientside_callback(
        _FIGURE_JS,
        Output("sea-map", "figure"),
        Input("sea-vessels", "data"),
        Input("sea-tracks", "data"),
        Input("sea-selection", "data"),
        Input("sea-reset", "n_clicks"),
        State("sea-base", "data"),
    )
    app.clientside_callback(
        _CLOCK_JS,
        Output("sea-clock", "children"),
        Output("sea-link", "children"),
        Output("sea-link", "className"),
        Input("sea-clock-tick", "n_intervals"),
        State("sea-last-update", "data"),
        State("sea-config", "data"),
    )
    app.clientside_callback(_KEYS_JS, Output("sea-keys", "data"), Input("sea-config", "data"))


# --------------------------------------------------------------------------- mounting


def _install_map_routes(server: Flask) -> None:
    """The offline map style's sprite (vessel arrows) and an empty glyph answer, once per server."""
    if "ioc_sea_sprite" in server.view_functions:
        return

    def sprite_file(name: str) -> Response:
        scale = 2 if name.startswith("sprite@2x") else 1
        index, png = sprite(scale)
        if name.endswith(".json"):
            resp = Response(json.dumps(index), mimetype="application/json")
        else:
            resp = Response(png, mimetype="image/png")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    def glyphs(fontstack: str, glyph_range: str) -> Response:  # noqa: ARG001 - the map draws no text
        return Response(b"", mimetype="application/x-protobuf")

    for name in ("sprite.json", "sprite.png", "sprite@2x.json", "sprite@2x.png"):
        endpoint = "ioc_sea_sprite" if name == "sprite.json" else f"ioc_sea_{name}"
        server.add_url_rule(MAP_ROUTE + name, endpoint, lambda name=name: sprite_file(name))
    server.add_url_rule(MAP_ROUTE + "glyphs/<path:fontstack>/<glyph_range>.pbf", "ioc_sea_glyphs", glyphs)


def _install_track_route(server: Flask, view: SeaView) -> None:
    """``/sea/_map/tracks.geojson?hours=3``: the thinned tracks the map draws (see :func:`track_set`)."""
    if "ioc_sea_tracks" in server.view_functions:
        return

    def tracks_geojson() -> Response:
        try:
            hours = int(request.args.get("hours", DEFAULT_TRACK_HOURS))
        except ValueError:
            hours = DEFAULT_TRACK_HOURS
        try:
            ts = track_set(view, hours)
        except psycopg.Error as exc:
            log.warning("sea map: track query failed: %s", exc)
            return Response("store unavailable", status=503, mimetype="text/plain")
        resp = Response(ts.body, mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    server.add_url_rule(MAP_ROUTE + "tracks.geojson", "ioc_sea_tracks", tracks_geojson)


def attach(server: Flask, view: SeaView) -> dash.Dash:
    """Mount the sea map on ``server`` under ``/sea/``."""
    app = dash.Dash(
        __name__,
        server=server,
        url_base_pathname=PREFIX,
        title=f"Sea map · {view.settings.city}",
        update_title=None,
        assets_folder=str(ASSETS),
        assets_ignore=r"^(?!sea\.css$)",  # the wall's and the console's stylesheets are theirs
        serve_locally=True,
    )
    app.layout = lambda: layout(view)
    register_callbacks(app, view)
    _install_map_routes(server)
    _install_track_route(server, view)
    if "ioc_sea_no_slash" not in server.view_functions:
        server.add_url_rule("/sea", "ioc_sea_no_slash", lambda: redirect(PREFIX, code=308))
    return app


def create_sea_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """The sea map on ``server`` (the wall's), reading from ``pool``: ``/sea/`` and ``/sea/_map/...``."""
    return attach(server, SeaView.build(pool, settings))


__all__ = [
    "SeaView", "TrackSet", "attach", "base_figure", "classify", "create_sea_page", "map_style",
    "selection_traces", "sprite", "track_geojson", "track_set", "vessel_trace", "zone_layers",
]
