"""The vessels on the map: state, icon and hover of each, the thinned tracks, the selected vessel's trace."""

from __future__ import annotations

import base64
import html as html_text
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from dashboards import components as c
from dashboards.feed_titles import rule_title
from dashboards.formats import Formats
from dashboards.i18n import t
from dashboards.sea.sprite import icon_name
from dashboards.sea.style import GAP, SELECTED, SLOW_KN, STALE_AFTER, STATE_LABELS, TRACK_GAP
from ioc.store import vessel_queries as vq


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


EN = Formats("en", "UTC")


def fmt_course(v: vq.VesselNow) -> str:
    course = v.course
    return "—" if course is None else f"{course:03.0f}°"


def fmt_position(lat: float, lon: float, f: Formats = EN) -> str:
    """``16.6806° N, 107.7776° E`` (``16,6806° B, 107,7776° Đ`` in Vietnamese)."""
    ns = t("N" if lat >= 0 else "S", f.lang)
    ew = t("E" if lon >= 0 else "W", f.lang)
    return f"{f.fixed(abs(lat), 4)}° {ns}, {f.fixed(abs(lon), 4)}° {ew}"


def fmt_speed(sog: float | None, f: Formats = EN) -> str:
    return "—" if sog is None else t("{speed} kn", f.lang, speed=f.fixed(sog, 1))


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


# the hover label of a vessel (a ``dashboards`` message: the words around the values are translated);
# the values travel as ``customdata`` (see :func:`_hover_data`)
VESSEL_HOVER = ("<b>%{customdata[1]}</b>%{customdata[2]}<br>MMSI %{customdata[0]} · %{customdata[3]}<br>"
                "%{customdata[4]} · %{customdata[5]} · seen %{customdata[6]}%{customdata[7]}<extra></extra>")


def _hover_data(row: VesselRow, as_of: datetime, f: Formats = EN) -> list[Any]:
    """``[mmsi, name, simulated, state, speed, course, seen, alert]`` for :data:`VESSEL_HOVER`."""
    v = row.vessel
    alert = ""
    if v.in_alert:
        colour = c.SEVERITY_COLOURS.get(v.alert_severity or "", c.SEVERITY_COLOURS["critical"])
        what = " · ".join(rule_title(d, f.lang) for d in v.alert_detectors)
        alert = f"<br><span style='color:{colour}'>⚠ {html_text.escape(what)}</span>"
    speed = fmt_speed(v.sog, f)
    if row.state == "stale":
        speed = t("last {speed}", f.lang, speed=speed)
    sim = " · " + t("SIMULATED", f.lang) if v.simulated else ""
    return [v.mmsi, html_text.escape(v.label), sim, t(STATE_LABELS[row.state], f.lang),
            speed, fmt_course(v), f.ago(as_of - v.time), alert]


def icon_size(vessels: int) -> int:
    """``marker.size`` of the vessel arrows (10 = the sprite's size): smaller when the sea is crowded."""
    return 10 if vessels <= 300 else 8 if vessels <= 1000 else 7


def vessel_trace(rows: Sequence[VesselRow], as_of: datetime, f: Formats = EN) -> dict[str, Any]:
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
        "customdata": [_hover_data(r, as_of, f) for r in order],
        "hovertemplate": t(VESSEL_HOVER, f.lang),
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


def selection_traces(details: vq.VesselDetails, tz: ZoneInfo, lang: str = "en") -> list[dict[str, Any]]:
    """The selected vessel: its full-resolution track (white, hover for time and speed), the silent
    stretches of it (amber) and a ring around it."""
    v = details.vessel
    f = Formats(lang, str(tz))
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
        text.append(f"{html_text.escape(v.label)} · {f.time(p.time, seconds=False)}<br>"
                    f"{fmt_speed(p.sog, f)} · {'—' if p.cog is None else f'{p.cog:03.0f}°'}")
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
