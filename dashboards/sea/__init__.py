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

from dashboards.sea.basemap import (
    MapFeature,
    SeaView,
    TrackSet,
    base_figure,
    coastline_files,
    map_style,
    tile_source,
    zone_files,
    zone_layers,
)
from dashboards.sea.callbacks import (
    details_update,
    register_callbacks,
    track_set,
    tracks_update,
    vessels_update,
)
from dashboards.sea.layout import (
    layout,
    refresh_ms,
    stale_after_ms,
    track_refresh_ms,
    vessel_refresh_ms,
)
from dashboards.sea.panel import (
    alert_items,
    counts_children,
    details_children,
    simulated_note,
)
from dashboards.sea.routes import (
    attach,
    create_sea_page,
)
from dashboards.sea.sprite import (
    ICON_PX,
    ICON_RINGS,
    ICON_STATES,
    RINGS,
    icon_name,
    sprite,
)
from dashboards.sea.style import (
    ALERT_LIST_ROWS,
    BUSY_FLEET,
    COAST,
    DEFAULT_TRACK_HOURS,
    EMPTY_FIGURE,
    GAP,
    GRAPH_CONFIG,
    HOURS_OPTIONS,
    LAND,
    MAP_ROUTE,
    MAP_SIZE_PX,
    NAV_STATUS,
    OTHER_ZONE,
    PREFIX,
    SEA,
    SELECTED,
    SLOW_KN,
    STALE_AFTER,
    STATE_COLOURS,
    STATE_LABELS,
    STATE_SHORT,
    STATES,
    TRACK,
    TRACK_BUDGET,
    TRACK_CACHE_S,
    TRACK_GAP,
    TRACK_HOURS,
    TRACK_TOLERANCE_DEG,
    ZONE_STYLES,
    ZoneStyle,
    ship_type_label,
)
from dashboards.sea.vessels import (
    VESSEL_HOVER,
    VesselRow,
    classify,
    directional,
    fmt_course,
    fmt_position,
    fmt_speed,
    icon_size,
    in_port_mask,
    selection_traces,
    track_geojson,
    typed,
    vessel_state,
    vessel_trace,
)

__all__ = [
    "ALERT_LIST_ROWS",
    "BUSY_FLEET",
    "COAST",
    "DEFAULT_TRACK_HOURS",
    "EMPTY_FIGURE",
    "GAP",
    "GRAPH_CONFIG",
    "HOURS_OPTIONS",
    "ICON_PX",
    "ICON_RINGS",
    "ICON_STATES",
    "LAND",
    "MAP_ROUTE",
    "MAP_SIZE_PX",
    "MapFeature",
    "NAV_STATUS",
    "OTHER_ZONE",
    "PREFIX",
    "RINGS",
    "SEA",
    "SELECTED",
    "SLOW_KN",
    "STALE_AFTER",
    "STATES",
    "STATE_COLOURS",
    "STATE_LABELS",
    "STATE_SHORT",
    "SeaView",
    "TRACK",
    "TRACK_BUDGET",
    "TRACK_CACHE_S",
    "TRACK_GAP",
    "TRACK_HOURS",
    "TRACK_TOLERANCE_DEG",
    "TrackSet",
    "VESSEL_HOVER",
    "VesselRow",
    "ZONE_STYLES",
    "ZoneStyle",
    "alert_items",
    "attach",
    "base_figure",
    "classify",
    "coastline_files",
    "counts_children",
    "create_sea_page",
    "details_children",
    "details_update",
    "directional",
    "fmt_course",
    "fmt_position",
    "fmt_speed",
    "icon_name",
    "icon_size",
    "in_port_mask",
    "layout",
    "map_style",
    "refresh_ms",
    "register_callbacks",
    "selection_traces",
    "ship_type_label",
    "simulated_note",
    "sprite",
    "stale_after_ms",
    "tile_source",
    "track_geojson",
    "track_refresh_ms",
    "track_set",
    "tracks_update",
    "typed",
    "vessel_refresh_ms",
    "vessel_state",
    "vessel_trace",
    "vessels_update",
    "zone_files",
    "zone_layers",
]
