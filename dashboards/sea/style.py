"""The sea map's settings and palette: track windows and budgets, vessel states, zone styles, labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dashboards import components as c
from dashboards.i18n import t

PREFIX = "/sea/"
MAP_ROUTE = "/sea/_map/"  # the sprite and the (empty) glyphs of the offline map style

TRACK_HOURS: tuple[int, ...] = (1, 3, 6, 12)
HOURS_OPTIONS = [{"label": f"{h} h", "value": h} for h in TRACK_HOURS]
DEFAULT_TRACK_HOURS = 3
TRACK_BUDGET = 50_000  # points of all tracks together, after thinning in the database
TRACK_TOLERANCE_DEG = 0.00004  # Douglas-Peucker on top of the thinning: about 4 m
TRACK_CACHE_S = 5.0  # screens asking for the same tracks within this share one query
TRACK_STALE_PERIODS = 12  # a set older than this many TRACK_CACHE_S is rebuilt in the request
# the fleet's tick past its shared read's age ([web] shared_read_s) is still served this long while one
# background read makes the next: one tick of a busy fleet, so that a worker whose sea screens ask less
# often than every 2 s does not make one of them wait for the read (the data stays younger than the
# page's stale-data limit, stale_after_ms, 8 s at least)
FLEET_GRACE_S = 5.0
TRACK_GAP = timedelta(minutes=15)  # a selected track is broken (and the gap drawn amber) where it was silent
STALE_AFTER = timedelta(minutes=10)  # no position for this long: "no signal", grey
SLOW_KN = 2.0  # at sea under this speed: slow / loitering (the loitering rule's default)
ALERT_LIST_ROWS = 60
BUSY_FLEET = 500  # more vessels than this: the markers refresh every 5 s
MAP_SIZE_PX = (1420, 960)  # the map's size on a 1920x1080 wall, for the first view


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


def ship_type_label(code: int | None, lang: str = "en") -> str:
    """A short reading of the AIS ship and cargo type code (in ``lang``)."""
    if code is None:
        return "—"
    english = _ship_type(code)
    return t(english, lang) if not english.startswith("type ") else t("type {code}", lang, code=code)


def _ship_type(code: int) -> str:
    fixed = {30: "fishing", 31: "towing", 32: "towing (large)", 33: "dredging", 34: "diving", 35: "military",
             36: "sailing", 37: "pleasure craft", 50: "pilot", 51: "search and rescue", 52: "tug",
             53: "port tender", 55: "law enforcement", 58: "medical"}
    if code in fixed:
        return fixed[code]
    ranges = {2: "wing in ground", 4: "high-speed craft", 6: "passenger", 7: "cargo", 8: "tanker", 9: "other"}
    return ranges.get(code // 10, f"type {code}")
