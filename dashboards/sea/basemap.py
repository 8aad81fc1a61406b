"""The map without vessels: the shipped zones and coastline, the offline style, the first view."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from dashboards import components as c
from dashboards.i18n import t
from dashboards.map_view import fit_view
from dashboards.sea.style import (
    COAST,
    FLEET_GRACE_S,
    LAND,
    MAP_ROUTE,
    MAP_SIZE_PX,
    OTHER_ZONE,
    SEA,
    TRACK_BUDGET,
    TRACK_CACHE_S,
    TRACK_STALE_PERIODS,
    ZONE_STYLES,
)
from dashboards.shared_reads import SharedReads
from ioc.config import Settings
from ioc.zones import ZoneError, read_zone_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapFeature:
    """One shipped polygon or line of the map: a zone the rules watch, or the coast."""

    id: str
    name: str
    kind: str
    geojson: dict[str, Any]  # the GeoJSON Feature
    geometry: BaseGeometry


def _read_zones(path: Path) -> list[MapFeature]:
    """The zones of one file, read by the core zone reader (a bad file: a warning, no zones drawn)."""
    try:
        zones = read_zone_file(path)
    except ZoneError as exc:
        log.warning("sea map: %s", exc)
        return []
    return [MapFeature(id=z.id, name=z.name, kind=z.kind, geometry=z.geometry,
                       geojson={"type": "Feature", "properties": {}, "geometry": mapping(z.geometry)})
            for z in zones]


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
    return [_resolve(settings, n) for n in settings.rules.vessels.zones]


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


def map_style(tiles_url: str | None = None, attribution: str = "",
              shipped: tuple[dict[str, Any], list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The MapLibre style: a dark sea, the tiles when a URL is configured, then ``shipped`` (the
    sources and layers of :func:`zone_layers`); nothing else from outside.

    ``sprite`` and ``glyphs`` are paths on this server (the browser makes them absolute,
    as MapLibre wants): the sprite holds the vessel arrows; no text is drawn on the map,
    so the glyphs route only answers empty. The zones and the coast are part of the style, not
    plotly's ``layout.map.layers``: plotly removes and adds again every layout layer that shares
    its place below the traces on each redraw, which made the map parse and draw them all again
    on every vessel refresh; a style is set once and kept while its content stays the same.
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
    if shipped:
        style["sources"].update(shipped[0])
        style["layers"].extend(shipped[1])
    return style


def zone_layers(
    zones: Sequence[MapFeature], coast: Sequence[MapFeature], tiles: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The style's sources and layers of the shipped map: land and coast (offline only), then the
    zones bottom to top by kind. Sources and layers are numbered (two files may reuse a zone id);
    each layer's ``metadata.name`` is its feature's id (``-edge``, ``-coast`` for outlines)."""
    sources: dict[str, Any] = {}
    layers: list[dict[str, Any]] = []
    source_of: dict[int, str] = {}  # a feature's source, shared by its fill and its outline

    def add(f: MapFeature, kind: str, name: str, paint: dict[str, Any]) -> None:
        sid = source_of.get(id(f))
        if sid is None:
            sid = source_of[id(f)] = f"shipped-{len(source_of)}"
            # the bare geometry: plotly drops a Feature's empty "properties" from the style it keeps,
            # so the next figure's style would differ from it and be set again on every refresh
            sources[sid] = {"type": "geojson", "data": f.geojson["geometry"]}
        layers.append({"id": f"{sid}-{len(layers)}", "type": kind, "source": sid, "paint": paint,
                       "metadata": {"name": name}})

    drawn_coast = () if tiles else tuple(coast)
    order = list(ZONE_STYLES)
    ranked = sorted(zones, key=lambda z: order.index(z.kind) if z.kind in order else len(order))
    for f in drawn_coast:
        if f.geometry.geom_type in ("Polygon", "MultiPolygon"):
            add(f, "fill", f.id, {"fill-color": LAND, "fill-opacity": 1.0})
    for f in ranked:
        st = ZONE_STYLES.get(f.kind, OTHER_ZONE)
        if st.fill:
            add(f, "fill", f.id, {"fill-color": st.fill, "fill-opacity": st.fill_opacity})
        line: dict[str, Any] = {"line-color": st.line, "line-width": st.width}
        if st.dash:
            line["line-dasharray"] = list(st.dash)
        add(f, "line", f.id + "-edge", line)
    for f in drawn_coast:
        add(f, "line", f.id + "-coast", {"line-color": COAST, "line-width": 1.5})
    return sources, layers


def track_reads() -> SharedReads:
    """The track sets' shared reads: kept :data:`TRACK_CACHE_S`, then served while a background read
    makes the next for up to :data:`TRACK_STALE_PERIODS` ages in all (past that, the store is not
    answering: a request reads itself and sees why)."""
    return SharedReads(TRACK_CACHE_S, stale_s=TRACK_CACHE_S * (TRACK_STALE_PERIODS - 1))


class RecentTrackSets:
    """The last few track sets made, by window and version: a map loads the set its URL names, the very
    one whose note the page shows, even when a newer set was made in between (a note saying
    "0 points" beside tracks already drawn, as a screen opened just after start-up showed)."""

    KEPT = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: OrderedDict[tuple[int, int], TrackSet] = OrderedDict()

    def add(self, track_set: TrackSet) -> TrackSet:
        with self._lock:
            self._sets[(track_set.hours, track_set.version)] = track_set
            while len(self._sets) > self.KEPT:
                self._sets.popitem(last=False)
        return track_set

    def get(self, hours: int, version: int) -> TrackSet | None:
        with self._lock:
            return self._sets.get((hours, version))


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
    # what every screen showing the page shares (see dashboards.shared_reads): the fleet of the vessel
    # tick per language (kept [web] shared_read_s, served FLEET_GRACE_S more while one background read
    # makes the next), and the thinned tracks per window length (see track_reads)
    fleet: SharedReads = field(default_factory=lambda: SharedReads(1.0, stale_s=FLEET_GRACE_S), compare=False,
                               repr=False)
    tracks: SharedReads = field(default_factory=track_reads, compare=False, repr=False)
    track_versions: Iterator[int] = field(default_factory=lambda: itertools.count(1), compare=False,
                                          repr=False)  # the tracks' URL changes with each new set
    recent_tracks: RecentTrackSets = field(default_factory=RecentTrackSets, compare=False, repr=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @classmethod
    def build(cls, pool: Any, settings: Settings) -> SeaView:
        zones = tuple(f for p in zone_files(settings) for f in _read_zones(p))
        coast = tuple(f for p in coastline_files(settings) for f in _read_features(p))
        ports = [z.geometry for z in zones if z.kind == "port"]
        port_union = shapely.union_all(ports) if ports else None
        if port_union is not None:
            shapely.prepare(port_union)
        url, attribution = tile_source(settings)
        return cls(pool=pool, settings=settings, zones=zones, coast=coast, tiles_url=url,
                   tiles_attribution=attribution, ports=port_union,
                   fleet=SharedReads(settings.web.shared_read_s, stale_s=FLEET_GRACE_S))

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
    centre, zoom = fit_view(view.bounds(), MAP_SIZE_PX)
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
                "style": map_style(view.tiles_url, view.tiles_attribution,
                                   zone_layers(view.zones, view.coast, bool(view.tiles_url))),
                "center": centre,
                "zoom": zoom,
            },
        },
    }


@dataclass(frozen=True)
class TrackSet:
    """The tracks of one window length as the page serves them, with a version for the map's URL."""

    version: int
    hours: int
    points: int
    vessels: int
    body: bytes  # :func:`track_geojson`

    @property
    def url(self) -> str:
        return f"{MAP_ROUTE}tracks.geojson?hours={self.hours}&v={self.version}"

    @property
    def note(self) -> str:
        return self.note_in("en")

    def note_in(self, lang: str) -> str:
        """:attr:`note` in ``lang``."""
        return t("Tracks of the last {hours} h: {points} points (thinned on the server, at most {budget})",
                 lang, hours=self.hours, points=c.fmt_int(self.points, lang),
                 budget=c.fmt_int(TRACK_BUDGET, lang))
