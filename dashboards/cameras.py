"""The camera wall: every camera's latest annotated key frame, its health and counts, one screen.

A Dash app of its own on the wall's Flask server, under ``/cameras/`` (see
:func:`create_camera_page`). One 1920x1080 screen without scrolling, dark like the wall:

- a header (city, page, how many cameras are live, offline, faulty, with open alerts; data
  time; a clock that says when updates stop; a link back to the wall),
- a grid of tiles, one per camera (the configured ones, then any other that reports): the
  newest key frame (boxes and zones already drawn by the worker), name and area, health
  (live or offline, frames per second in, age of the last frame), the worst open alert,
  and the counts of the newest counted minute per class, whole frame and per zone. A camera
  that is offline, or has an open camera-fault alert, or whose newest frame statistics look
  dark, frozen or blurred, gets a red border and a label saying which,
- a click on a tile (or Enter, or its number key) opens the camera large: the bigger key
  frame, its counts per minute over the last hour per class and zone (with the levels of the
  crowd and congestion rules that watch it), its health figures, its open and recent
  alerts. Esc or the close button goes back.

Everything is read from the store (:mod:`ioc.store.camera_queries`); key frame files are
served by :func:`install_frame_route` from ``vision.keyframes_dir`` only, never outside it.
A tile's image URL carries the key frame's time, so the browser fetches a new frame when
there is one and revalidates (``no-cache``) otherwise. The tiles refresh every
``web.refresh_ms`` (2 s) by replacing their children in place; no page reload.
"""

from __future__ import annotations

import html as html_text
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import dash
import psycopg
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import Flask, Response, abort, redirect, send_file

from dashboards import components as c
from ioc.config import Settings
from ioc.store import camera_queries as cq

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
PREFIX = "/cameras/"
FRAME_PREFIX = f"{PREFIX}frame/"
CHART_MINUTES = 60
DETAIL_ALERTS = 12
STALE_COUNTS = timedelta(minutes=2)  # counts whose newest minute is older are shown as old

# what a tile calls a detector label, in the order tiles list them (others after, alphabetically)
LABEL_NAMES: dict[str, str] = {
    "person": "People", "vehicle": "Vehicles", "car": "Cars", "motorcycle": "Motorbikes",
    "bicycle": "Bicycles", "bus": "Buses", "truck": "Trucks", "motion": "Motion",
}
# the colours the camera workers draw boxes in (ingest/cameras/keyframes.py, there in BGR), so a
# count's swatch matches its boxes on the frame; other labels are drawn light grey
LABEL_COLOURS: dict[str, str] = {
    "person": "#3cc83c", "motion": "#ffa000", "car": "#008cff", "truck": "#005aff", "bus": "#3c3cff",
    "motorcycle": "#c800c8", "bicycle": "#00c8c8",
}
OTHER_COLOUR = "#dcdcdc"
RULE_COLOUR = "#ff5a5f"  # the level of a crowd or congestion rule on the count chart
ZONE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
FAULT_NAMES = {"offline": "offline", "dark": "dark", "frozen": "frozen", "blurred": "blurred"}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True, "scrollZoom": False, "showTips": False,
                "doubleClick": False}


# --------------------------------------------------------------------------- pure helpers


def label_name(label: str) -> str:
    """``person`` -> ``People``; unknown labels capitalised."""
    return LABEL_NAMES.get(label, label.replace("_", " ").capitalize())


def label_colour(label: str) -> str:
    """The colour of a label's boxes on the key frames."""
    return LABEL_COLOURS.get(label, OTHER_COLOUR)


def label_sort_key(label: str) -> tuple[int, str]:
    """People first, then vehicles, ..., motion last; unknown labels before motion, alphabetically."""
    order = list(LABEL_NAMES)
    if label in order:
        rank = order.index(label)
        return (rank if label != "motion" else len(order) + 1), label
    return len(order), label


def grid_shape(n: int) -> tuple[int, int]:
    """Columns and rows of the tile grid for ``n`` cameras on a 16:9 screen (up to 12 fit well)."""
    n = max(n, 1)
    if n <= 3:
        return n, 1
    if n == 4:
        return 2, 2
    if n <= 6:
        return 3, 2
    if n <= 8:
        return 4, 2
    if n == 9:
        return 3, 3
    if n <= 12:
        return 4, 3
    cols = math.ceil(math.sqrt(n * 16 / 9))
    return cols, math.ceil(n / cols)


def frame_url(keyframe: cq.KeyFrameRow | None) -> str | None:
    """The URL of a key frame, with its time as a query string so a new frame is fetched anew."""
    if keyframe is None:
        return None
    stamp = int(keyframe.time.timestamp() * 1000)
    return f"{FRAME_PREFIX}{quote(keyframe.path, safe='/')}?t={stamp}"


def safe_frame_path(root: Path | str, camera_id: str, name: str) -> Path | None:
    """The file ``<root>/<camera_id>/<name>`` if it is a JPEG inside ``root``, else None.

    The path is resolved (``..`` and symbolic links followed) before the check, so neither a
    ``..`` in the URL nor a link inside the folder can reach a file outside ``root``.
    """
    if not camera_id or camera_id in {".", ".."} or not name.lower().endswith((".jpg", ".jpeg")):
        return None
    try:
        base = Path(root).resolve()
        path = (base / camera_id / name).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if not path.is_relative_to(base) or path == base:
        return None
    return path


@dataclass(frozen=True)
class FaultLimits:
    """When a camera's newest frame statistics count as a fault (the camera-fault rule's levels).

    The defaults are those of ``detectors/cameras/faults.py``; the page reads the configured
    rule (``[[rules.camera_faults]]``) as data, since pages do not import detectors.
    """

    offline_seconds: float = 30.0
    dark_below: float = 15.0
    frozen_change_below: float = 0.3
    blur_below: float = 80.0
    faults: tuple[str, ...] = ("offline", "dark", "frozen", "blurred")


def fault_limits(settings: Settings, camera_id: str) -> FaultLimits:
    """The levels of the first camera-fault rule that watches ``camera_id`` (defaults without one)."""
    for rule in settings.rules.camera_faults:
        cameras = rule.get("cameras") or []
        if cameras and camera_id not in cameras:
            continue
        defaults = FaultLimits()
        try:
            return FaultLimits(
                offline_seconds=float(rule.get("offline_seconds", defaults.offline_seconds)),
                dark_below=float(rule.get("dark_below", defaults.dark_below)),
                frozen_change_below=float(rule.get("frozen_change_below", defaults.frozen_change_below)),
                blur_below=float(rule.get("blur_below", defaults.blur_below)),
                faults=tuple(rule.get("faults") or defaults.faults),
            )
        except (TypeError, ValueError):
            return defaults
    return FaultLimits()


HealthState = Literal["ok", "fault", "offline", "waiting"]


@dataclass(frozen=True)
class Health:
    """What a tile says about a camera's health."""

    state: HealthState
    label: str  # the badge: LIVE, OFFLINE, FAULT: DARK, NO SIGNAL YET
    faults: tuple[str, ...] = ()
    last_frame_age: timedelta | None = None
    fps_in: float | None = None

    @property
    def bad(self) -> bool:
        """Offline or faulty: the tile is marked red."""
        return self.state in ("fault", "offline")


def camera_health(
    status: cq.CameraStatus | None, alerts: Sequence[cq.CameraAlert], limits: FaultLimits, now: datetime
) -> Health:
    """Live, offline, faulty (open camera-fault alert, or the newest frame looks so), or not seen yet."""
    alert_faults = [a.fault or "fault" for a in alerts if a.detector == cq.FAULT_DETECTOR and not a.resolved]
    if status is None or not status.reported:
        if alert_faults:
            return Health("offline", "OFFLINE", tuple(dict.fromkeys(alert_faults)))
        return Health("waiting", "NO SIGNAL YET")
    age = None if status.last_frame is None else max(timedelta(0), now - status.last_frame)
    silent = age is None or age.total_seconds() > limits.offline_seconds
    if not status.connected or silent:
        faults = tuple(dict.fromkeys(["offline", *alert_faults]))
        return Health("offline", "OFFLINE", faults, age, None)
    seen: list[str] = []
    dark = status.brightness is not None and status.brightness < limits.dark_below
    if dark and "dark" in limits.faults:
        seen.append("dark")
    if not dark and "frozen" in limits.faults and status.change is not None \
            and status.change <= limits.frozen_change_below:
        seen.append("frozen")
    if not dark and "blurred" in limits.faults and status.sharpness is not None \
            and status.sharpness < limits.blur_below:
        seen.append("blurred")
    faults = tuple(dict.fromkeys([*alert_faults, *seen]))
    if faults:
        label = "FAULT: " + ", ".join(FAULT_NAMES.get(f, f).upper() for f in faults)
        return Health("fault", label, faults, age, status.fps_in)
    return Health("ok", "LIVE", (), age, status.fps_in)


@dataclass(frozen=True)
class CameraCounts:
    """The newest counted minute of one camera: peak objects per frame by label, whole frame and zones."""

    bucket: datetime | None = None
    whole: dict[str, int] = field(default_factory=dict)
    zones: dict[str, dict[str, int]] = field(default_factory=dict)


def counts_by_camera(rows: Sequence[cq.CountRow]) -> dict[str, CameraCounts]:
    """Group :func:`~ioc.store.camera_queries.latest_counts` rows per camera (no-zone rows left out)."""
    out: dict[str, CameraCounts] = {}
    for r in rows:
        cur = out.setdefault(r.camera_id, CameraCounts(bucket=r.bucket))
        if r.zone == "*":
            cur.whole[r.label] = r.max_count
        elif r.zone:
            cur.zones.setdefault(r.zone, {})[r.label] = r.max_count
    return out


@dataclass(frozen=True)
class CameraInfo:
    """A camera as the page lists it: from the settings, or only seen in the store."""

    id: str
    name: str
    area: str = ""
    zones: tuple[str, ...] = ()
    restricted: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class CameraView:
    """What the page's layout, callbacks and frame route share."""

    pool: Any
    settings: Settings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def keyframes_dir(self) -> Path:
        return Path(self.settings.vision.keyframes_dir)

    def configured(self) -> list[CameraInfo]:
        """The enabled cameras of the settings, in their order."""
        return [
            CameraInfo(cam.id, cam.name or cam.id, cam.area, tuple(z.name for z in cam.zones),
                       frozenset(z.name for z in cam.zones if z.restricted))
            for cam in self.settings.cameras if cam.enabled
        ]

    def cameras(self, snapshot: cq.CameraStatuses | None = None) -> list[CameraInfo]:
        """Configured cameras first, then any camera that reports without being configured."""
        cams = self.configured()
        known = {cam.id for cam in cams} | {cam.id for cam in self.settings.cameras}
        if snapshot is None:
            try:
                snapshot = cq.camera_statuses(self.pool)
            except psycopg.Error as exc:
                log.warning("cameras: could not list reporting cameras: %s", exc)
                return cams
        seen = [CameraInfo(s.camera_id, s.camera_id) for s in snapshot.cameras if s.camera_id not in known]
        return cams + seen

    def info(self, camera_id: str) -> CameraInfo:
        """The camera as configured, or only its id when it is not."""
        found = (cam for cam in self.configured() if cam.id == camera_id)
        return next(found, CameraInfo(camera_id, camera_id))

    def rule_levels(self, camera_id: str) -> list[tuple[str, str, float]]:
        """``(rule kind, zone or '*', level)`` of the crowd and congestion rules watching this camera."""
        out = []
        for kind in ("crowd", "congestion"):
            for rule in getattr(self.settings.rules, kind):
                cams = rule.get("cameras") or []
                above = rule.get("above")
                if (cams and camera_id not in cams) or not isinstance(above, int | float):
                    continue
                out.append((kind, str(rule.get("zone") or "*"), float(above)))
        return out


# --------------------------------------------------------------------------- pieces of a tile


def _health_line(h: Health) -> list[Any]:
    bits: list[Any] = [html.Span("", className=f"cam-dot cam-dot-{h.state}")]
    if h.state == "waiting":
        bits.append(html.Span("waiting for the first frame", className="cam-fact"))
        return bits
    if h.state == "offline":
        since = "never" if h.last_frame_age is None else c.ago(h.last_frame_age)
        bits.append(html.Span(f"no frame since {since}" if h.last_frame_age else "no frame yet",
                              className="cam-fact cam-fact-bad"))
        return bits
    if h.fps_in is not None:
        bits.append(html.Span([html.B(f"{h.fps_in:.0f}"), " fps in"], className="cam-fact"))
    if h.last_frame_age is not None:
        bits.append(html.Span(f"last frame {c.ago(h.last_frame_age)}", className="cam-fact"))
    return bits


def _count_chip(label: str, n: int, big: bool = True) -> html.Span:
    return html.Span(
        [html.Span("", className="cam-swatch", style={"background": label_colour(label)}),
         html.Span(label_name(label), className="cam-count-label"),
         html.B(str(n), className="cam-count-value")],
        className="cam-count" + ("" if big else " cam-count-small") + (" cam-zero" if n == 0 else ""),
        **{"data-label": label, "data-count": str(n)},
    )


def counts_block(info: CameraInfo, counts: CameraCounts | None, now: datetime, tz: ZoneInfo) -> html.Div:
    """Peak objects per frame in the newest minute: whole frame by class, then each zone."""
    if counts is None or counts.bucket is None:
        return html.Div(html.Span("no objects counted in the last hour", className="cam-none"),
                        className="cam-counts")
    labels = sorted(counts.whole, key=label_sort_key)
    old = now - counts.bucket > STALE_COUNTS
    when = f"minute {c.local_time(counts.bucket, tz, seconds=False)}"
    if old:
        when += f" · {c.ago(now - counts.bucket)}"
    zone_rows = []
    for zone in [*info.zones, *sorted(set(counts.zones) - set(info.zones))]:
        per = counts.zones.get(zone, {})
        zone_rows.append(html.Div(
            [html.Span(zone + (" (restricted)" if zone in info.restricted else ""),
                       className="cam-zone-name" + (" cam-restricted" if zone in info.restricted else "")),
             *([_count_chip(lbl, per.get(lbl, 0), big=False) for lbl in labels] or
               [html.Span("—", className="cam-none")])],
            className="cam-zone", **{"data-zone": zone},
        ))
    return html.Div(
        [
            html.Div(
                [html.Span("Peak in one frame", className="cam-counts-title"),
                 html.Span(when, className="cam-counts-when" + (" cam-old" if old else ""),
                           title="the most objects seen at once in an analysed frame during this minute: "
                                 "whole frame, then each zone")],
                className="cam-counts-head",
            ),
            html.Div([_count_chip(lbl, counts.whole[lbl]) for lbl in labels], className="cam-count-row"),
            html.Div(zone_rows, className="cam-zones"),
        ],
        className="cam-counts",
    )


def alert_strip(alerts: Sequence[cq.CameraAlert], now: datetime) -> tuple[list[Any], str]:
    """Children and classes of a tile's alert strip: the worst open alert and how many more."""
    if not alerts:
        return [], "cam-alert-strip cam-empty"
    worst = alerts[0]
    more = f"+{len(alerts) - 1} more" if len(alerts) > 1 else ""
    return (
        [html.Span(c.SEVERITY_SHORT.get(worst.severity, worst.severity[:4].upper()), className="cam-sev"),
         html.Span(worst.title, className="cam-alert-title", title=worst.title),
         html.Span(f"for {c.fmt_age(now - worst.started_at)}", className="cam-alert-age"),
         html.Span(more, className="cam-alert-more")],
        f"cam-alert-strip cam-sev-{worst.severity}",
    )


def frame_caption(kf: cq.KeyFrameRow | None, tz: ZoneInfo, size: bool = False) -> str:
    """The line over a key frame: when it was taken, how many boxes it has (and its size)."""
    if kf is None:
        return ""
    text = f"frame {c.local_time(kf.time, tz)} · {kf.detections} box{'es' * (kf.detections != 1)}"
    return text + (f" · {kf.width}×{kf.height}" if size else "")


@dataclass(frozen=True)
class TileUpdate:
    """What one refresh changes in a tile; the tile's elements stay (no image flicker, focus kept)."""

    tile_class: str
    badge: str
    badge_class: str
    alert: list[Any]
    alert_class: str
    frame_class: str
    src: str
    caption: str
    health: list[Any]
    counts: Any


TILE_PARTS: tuple[tuple[str, str, str], ...] = (  # (TileUpdate field, element type, property)
    ("tile_class", "cam-tile", "className"),
    ("badge", "cam-badge", "children"),
    ("badge_class", "cam-badge", "className"),
    ("alert", "cam-alert", "children"),
    ("alert_class", "cam-alert", "className"),
    ("frame_class", "cam-frame", "className"),
    ("src", "cam-img", "src"),
    ("caption", "cam-cap", "children"),
    ("health", "cam-health", "children"),
    ("counts", "cam-counts", "children"),
)


def tile_class(health: Health, alerts: Sequence[cq.CameraAlert]) -> str:
    """The tile's classes: its health state, and the severity of its worst open alert."""
    cls = f"cam-tile cam-{health.state}"
    if alerts:
        cls += f" cam-alerted cam-alerted-{alerts[0].severity}"
    return cls


def tile_update(
    info: CameraInfo,
    status: cq.CameraStatus | None,
    health: Health,
    alerts: Sequence[cq.CameraAlert],
    counts: CameraCounts | None,
    now: datetime,
    tz: ZoneInfo,
) -> TileUpdate:
    """A tile's new content: health badge, worst alert, key frame, health line, counts."""
    kf = status.keyframe if status else None
    alert, alert_class = alert_strip(alerts, now)
    return TileUpdate(
        tile_class=tile_class(health, alerts),
        badge=health.label,
        badge_class=f"cam-badge cam-badge-{health.state}",
        alert=alert,
        alert_class=alert_class,
        frame_class="cam-frame" if kf else "cam-frame cam-nokf",
        src=frame_url(kf) or "",
        caption=frame_caption(kf, tz),
        health=_health_line(health),
        counts=counts_block(info, counts, now, tz),
    )


def _tile(index: int, info: CameraInfo) -> html.Div:
    """A tile's elements, filled in by the refresh callback."""
    key = {"camera": info.id}
    place = c.place(info.name, info.area)
    return html.Div(
        [
            html.Div(
                [html.Span(str(index) if index <= 9 else "", className="cam-key",  # keys 1-9 open it
                           title=f"press {index} to open"),
                 html.Span(info.name, className="cam-name", title=info.id),
                 html.Span("" if place == info.name else info.area, className="cam-area"),
                 html.Span("", id={"type": "cam-badge", **key}, className="cam-badge")],
                className="cam-tile-head",
            ),
            html.Div([], id={"type": "cam-alert", **key}, className="cam-alert-strip cam-empty"),
            html.Div(
                [html.Img(id={"type": "cam-img", **key}, className="cam-img",
                          alt=f"key frame of {info.name}"),
                 html.Div("no key frame yet", className="cam-noimg"),
                 html.Div("", id={"type": "cam-cap", **key}, className="cam-img-cap")],
                id={"type": "cam-frame", **key},
                className="cam-frame cam-nokf",
            ),
            html.Div(
                [html.Div([], id={"type": "cam-health", **key}, className="cam-health"),
                 html.Div([], id={"type": "cam-counts", **key})],
                className="cam-tile-foot",
            ),
        ],
        id={"type": "cam-tile", **key},
        className="cam-tile cam-waiting",
        tabIndex=0,
        role="button",
        n_clicks=0,
        title=f"{info.name}: open large (Enter)",
        **{"aria-label": f"Camera {index}: {info.name}. Press Enter to open it large.",
           "data-camera": info.id},
    )


# --------------------------------------------------------------------------- the large view


def count_figure(
    rows: Sequence[cq.CountRow],
    info: CameraInfo,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    levels: Sequence[tuple[str, str, float]] = (),
) -> dict:
    """Peak objects per frame, minute by minute: a line per class and zone (whole frame solid).

    Plain JSON-ready dicts (plotly's figure objects validate every property and are slow).
    The time window reaches plotly through an invisible trace, and the axes are fixed: the
    chart refreshes every few seconds, so zooming would only be undone.
    """
    series: dict[tuple[str, str], list[cq.CountRow]] = {}
    for r in rows:
        if r.zone:  # '' (objects in no zone) is the whole frame less the zones
            series.setdefault((r.zone, r.label), []).append(r)
    zones = ["*", *info.zones, *sorted({z for z, _ in series} - {"*", *info.zones})]
    x0 = start.astimezone(tz).replace(tzinfo=None).isoformat()
    x1 = end.astimezone(tz).replace(tzinfo=None).isoformat()
    data: list[dict] = [{
        "type": "scatter", "x": [x0, x1], "y": [0, 0], "mode": "markers", "hoverinfo": "skip",
        "marker": {"size": 0, "opacity": 0}, "showlegend": False,
    }]
    keys = sorted(series, key=lambda k: (zones.index(k[0]), label_sort_key(k[1])))
    for zone, label in keys:
        pts = series[(zone, label)]
        where = "whole frame" if zone == "*" else zone
        data.append({
            "type": "scatter", "mode": "lines+markers",
            "x": [p.bucket.astimezone(tz).replace(tzinfo=None).isoformat() for p in pts],
            "y": [p.max_count for p in pts],
            "name": f"{label_name(label)} · {html_text.escape(where)}",
            "line": {"color": label_colour(label), "width": 3 if zone == "*" else 2,
                     "dash": ZONE_DASHES[zones.index(zone) % len(ZONE_DASHES)]},
            "marker": {"size": 6},
            "hovertemplate": "%{y} at %{x|%H:%M}<extra>" + f"{label_name(label)} · {html_text.escape(where)}"
                             + "</extra>",
        })
    shapes, annotations = [], []
    for kind, zone, level in levels:  # red: no label's boxes are drawn red, so a level is never a series
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": level,
                       "y1": level, "line": {"color": RULE_COLOUR, "width": 1.5, "dash": "dash"}})
        where = "whole frame" if zone == "*" else zone
        annotations.append({"xref": "paper", "x": 0, "xanchor": "left", "yref": "y", "y": level,
                            "yanchor": "bottom", "showarrow": False,
                            "text": html_text.escape(f"{kind} rule: above {level:g} in {where}"),
                            "font": {"size": 14, "color": RULE_COLOUR}})
    if len(data) == 1:
        annotations.append({"text": "nothing counted in the last hour", "showarrow": False, "x": 0.5,
                            "y": 0.5, "xref": "paper", "yref": "paper",
                            "font": {"size": 20, "color": c.MUTED}})
    top = max([p.max_count for pts in series.values() for p in pts] + [lvl for _, _, lvl in levels] + [1])
    return {
        "data": data,
        "layout": {
            "uirevision": info.id,
            "paper_bgcolor": c.PANEL, "plot_bgcolor": c.PANEL,
            "font": {"family": c.FONT, "color": c.TEXT, "size": 15},
            "margin": {"l": 52, "r": 16, "t": 8, "b": 34},
            "hovermode": "x unified",
            "showlegend": True,
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 15},
                       "bgcolor": "rgba(0,0,0,0)"},
            "xaxis": {"type": "date", "tickformat": "%H:%M", "showgrid": False, "fixedrange": True,
                      "linecolor": c.GRID, "tickfont": {"size": 14, "color": c.MUTED}},
            "yaxis": {"title": {"text": "peak per frame", "font": {"size": 14, "color": c.MUTED}},
                      "rangemode": "tozero", "range": [0, math.ceil(top * 1.15) + 0.5], "fixedrange": True,
                      "gridcolor": c.GRID, "zeroline": False, "tickfont": {"size": 14, "color": c.MUTED}},
            "shapes": shapes,
            "annotations": annotations,
        },
    }


STATE_LABELS = {"open": "OPEN", "reopened": "REOPENED", "acknowledged": "ACK", "assigned": "ASSIGNED",
                "silenced": "SILENCED", "resolved": "RESOLVED"}


def alert_rows(alerts: Sequence[cq.CameraAlert], now: datetime, tz: ZoneInfo) -> list[html.Div]:
    """The large view's alert list: open ones, then those resolved in the last day."""
    if not alerts:
        return [html.Div("No alerts in the last 24 h", className="cam-none")]
    rows = []
    for a in alerts:
        if a.resolved and a.resolved_at is not None:
            at = c.local_time(a.resolved_at, tz, seconds=False)
            when = f"resolved {c.ago(now - a.resolved_at)} ({at})"
        else:
            since = c.local_time(a.started_at, tz, seconds=False)
            when = f"since {since} · for {c.fmt_age(now - a.started_at)}"
        rows.append(html.Div(
            [html.Span(c.SEVERITY_SHORT.get(a.severity, a.severity[:4].upper()), className="cam-sev"),
             html.Div([html.Div(a.title, className="cam-alert-title", title=a.title),
                       html.Div(when, className="cam-alert-when")], className="cam-alert-body"),
             html.Div([html.Div(STATE_LABELS.get(a.state, a.state.upper()), className="cam-alert-state"),
                       html.Div(f"×{a.count}", className="cam-alert-count", title="signals seen")],
                      className="cam-alert-side")],
            className=f"cam-alert-row cam-sev-{a.severity}" + (" cam-resolved" if a.resolved else ""),
            **{"data-severity": a.severity, "data-state": a.state, "data-alert-id": str(a.id)},
        ))
    return rows


def health_facts(status: cq.CameraStatus | None, health: Health, tz: ZoneInfo) -> html.Div:
    """The large view's health figures: state, frames in, last frame, the frame statistics."""

    def fmt(v: float | None, spec: str) -> str:
        return "—" if v is None else format(v, spec)

    s = status
    facts = [
        ("State", health.label),
        ("Frames in", "—" if health.fps_in is None else f"{health.fps_in:.1f} / s"),
        ("Last frame", "—" if s is None or s.last_frame is None
         else f"{c.local_time(s.last_frame, tz)} ({c.ago(health.last_frame_age or timedelta(0))})"),
        ("Brightness", fmt(s.brightness if s else None, ".0f") + " / 255"),
        ("Sharpness", fmt(s.sharpness if s else None, ".0f")),
        ("Change", fmt(s.change if s else None, ".2f")),
        ("Motion", "—" if s is None or s.motion is None else f"{s.motion * 100:.1f} %"),
    ]
    return html.Div(
        [html.Div([html.Span(k, className="cam-fact-key"), html.Span(v, className="cam-fact-val")],
                  className="cam-fact-row") for k, v in facts],
        className="cam-facts",
    )


# --------------------------------------------------------------------------- layout


def layout(view: CameraView) -> html.Div:
    """The page, built on every load so that cameras that appeared since get a tile."""
    settings = view.settings
    cams = view.cameras()
    cols, rows = grid_shape(len(cams))
    refresh = settings.web.refresh_ms
    density = "cam-dense" if rows >= 3 or cols >= 4 else "cam-roomy" if len(cams) <= 2 else ""
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.Div(settings.city, className="cam-city"),
                              html.Div("Camera wall", className="cam-page-title"),
                              html.A("← Wall", href="/", className="cam-link", title="back to the wall")],
                             className="cam-brand"),
                    html.Div([html.Span("", id="cam-summary", className="cam-summary"),
                              html.Span("Data as of —", id="cam-asof", className="cam-asof"),
                              html.Span("", id="cam-link-status", className="cam-link-status")],
                             className="cam-status"),
                    html.Div([html.Div("", id="cam-clock", className="cam-clock"),
                              html.Div("click or 1–9 open · Esc close", className="cam-keys-hint")],
                             className="cam-clock-box"),
                ],
                className="cam-header",
            ),
            html.Main(
                [_tile(i + 1, cam) for i, cam in enumerate(cams)]
                or [html.Div("No cameras configured or reporting yet", className="cam-none cam-empty-grid")],
                id="cam-grid",
                className=f"cam-grid {density}".strip(),
                style={"gridTemplateColumns": f"repeat({cols}, minmax(0, 1fr))",
                       "gridTemplateRows": f"repeat({rows}, minmax(0, 1fr))"},
            ),
            html.Section(
                [
                    html.Div(
                        [html.Span("", id="cam-detail-title", className="cam-detail-title"),
                         html.Span("", id="cam-detail-badge", className="cam-badge"),
                         html.Button("✕ Close (Esc)", id="cam-detail-close", n_clicks=0,
                                     className="cam-close", title="back to all cameras (Esc)")],
                        className="cam-detail-head",
                    ),
                    html.Div(
                        [
                            html.Div(
                                [html.Div([html.Img(id="cam-detail-img", className="cam-img",
                                                    alt="key frame"),
                                           html.Div("", id="cam-detail-cap", className="cam-img-cap")],
                                          className="cam-frame cam-detail-frame"),
                                 html.Div([html.H2("Counts per minute, last hour"),
                                           dcc.Graph(id="cam-detail-chart", config=GRAPH_CONFIG,
                                                     className="cam-detail-chart",
                                                     figure={"data": [], "layout": {
                                                         "paper_bgcolor": c.PANEL, "plot_bgcolor": c.PANEL,
                                                         "xaxis": {"visible": False},
                                                         "yaxis": {"visible": False}}},
                                                     style={"height": "100%", "width": "100%"})],
                                          className="cam-detail-chart-box")],
                                className="cam-detail-main",
                            ),
                            html.Aside(
                                [html.H2("Health"), html.Div(id="cam-detail-health"),
                                 html.H2("Counts now"), html.Div(id="cam-detail-counts"),
                                 html.H2("Alerts"),
                                 html.Div(id="cam-detail-alerts", className="cam-alert-list")],
                                className="cam-detail-side",
                            ),
                        ],
                        className="cam-detail-body",
                    ),
                ],
                id="cam-detail",
                className="cam-detail",
                role="dialog",
                **{"aria-modal": "true", "aria-labelledby": "cam-detail-title"},
            ),
            dcc.Interval(id="cam-tick", interval=refresh),
            dcc.Interval(id="cam-chart-tick", interval=max(refresh, 5000)),
            dcc.Interval(id="cam-clock-tick", interval=1000),
            dcc.Store(id="cam-selected", data=None),
            dcc.Store(id="cam-last-update"),
            dcc.Store(id="cam-focus-sink"),
            dcc.Store(id="cam-keys-sink"),
            dcc.Store(id="cam-config",
                      data={"tz": settings.timezone, "staleMs": max(5000, 3 * refresh + 2000)}),
        ],
        id="cam-page",
        className="cam-page",
    )


# --------------------------------------------------------------------------- callbacks

# Keys: Enter or Space on a focused tile opens it; 1-9 open the tile of that number; arrows move
# between tiles; Esc closes the large view. Installed once per page.
_KEYS_JS = """
function (cfg) {
    if (window.__camKeys) { return window.dash_clientside.no_update; }
    window.__camKeys = true;
    document.addEventListener('keydown', function (e) {
        if (e.ctrlKey || e.altKey || e.metaKey) { return; }
        const detail = document.getElementById('cam-detail');
        const open = detail && detail.classList.contains('cam-open');
        if (e.key === 'Escape') {
            if (open) { document.getElementById('cam-detail-close').click(); e.preventDefault(); }
            return;
        }
        if (open) { return; }
        const tiles = Array.from(document.querySelectorAll('.cam-tile'));
        const t = e.target;
        const at = tiles.indexOf(t);
        if ((e.key === 'Enter' || e.key === ' ') && at >= 0) { t.click(); e.preventDefault(); return; }
        if (/^[1-9]$/.test(e.key)) {
            const el = tiles[Number(e.key) - 1];
            if (el) { el.focus(); el.click(); e.preventDefault(); }
            return;
        }
        const grid = document.getElementById('cam-grid');
        const cols = grid ? getComputedStyle(grid).gridTemplateColumns.split(' ').length : 1;
        const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols}[e.key];
        if (step !== undefined && tiles.length) {
            const next = tiles[Math.min(tiles.length - 1, Math.max(0, (at < 0 ? 0 : at + step)))];
            next.focus();
            e.preventDefault();
        }
    });
    return window.dash_clientside.no_update;
}
"""

# Focus follows the large view: into it when it opens, back to the camera's tile when it closes.
_FOCUS_JS = """
function (selected) {
    const w = window;
    setTimeout(function () {
        if (selected) {
            w.__camLast = selected;
            const b = document.getElementById('cam-detail-close');
            if (b) { b.focus(); }
        } else if (w.__camLast) {
            const tile = document.querySelector('.cam-tile[data-camera="' + CSS.escape(w.__camLast) + '"]');
            if (tile) { tile.focus(); }
        }
    }, 50);
    return window.dash_clientside.no_update;
}
"""

_CLOCK_JS = """
function (n, seq, cfg) {
    const now = new Date();
    const w = window;
    if (w.__camSeen === undefined || seq !== w.__camSeq) { w.__camSeq = seq; w.__camSeen = now.getTime(); }
    let time;
    try {
        time = new Intl.DateTimeFormat('en-GB', {timeZone: (cfg && cfg.tz) || 'UTC', hour: '2-digit',
            minute: '2-digit', second: '2-digit', hourCycle: 'h23'}).format(now);
    } catch (e) { time = now.toISOString().slice(11, 19); }
    const quiet = now.getTime() - w.__camSeen;
    const stale = quiet > ((cfg && cfg.staleMs) || 10000);
    return [time, stale ? ('NO UPDATE FOR ' + Math.round(quiet / 1000) + ' s') : '',
            stale ? 'cam-link-status cam-stale' : 'cam-link-status'];
}
"""


def _summary(healths: Sequence[Health], alerts: dict[str, list[cq.CameraAlert]]) -> list[Any]:
    n = len(healths)
    live = sum(1 for h in healths if h.state in ("ok", "fault"))
    offline = sum(1 for h in healths if h.state == "offline")
    faulty = sum(1 for h in healths if h.state == "fault")
    open_alerts = sum(len(v) for v in alerts.values())
    parts: list[Any] = [html.Span(f"{live} / {n} live", className="cam-pill")]
    if offline:
        parts.append(html.Span(f"{offline} offline", className="cam-pill cam-pill-bad"))
    if faulty:
        parts.append(html.Span(f"{faulty} faulty", className="cam-pill cam-pill-bad"))
    text = f"{open_alerts} open alert{'s' * (open_alerts != 1)}" if open_alerts else "no open alerts"
    parts.append(html.Span(text, className="cam-pill" + (" cam-pill-warn" if open_alerts else "")))
    return parts


def register_callbacks(app: dash.Dash, view: CameraView) -> None:
    """Wire the page's callbacks onto ``app`` (never the global callback list)."""
    tz = view.tz

    @app.callback(
        *[Output({"type": kind, "camera": ALL}, prop) for _, kind, prop in TILE_PARTS],
        Output("cam-summary", "children"),
        Output("cam-asof", "children"),
        Output("cam-last-update", "data"),
        Input("cam-tick", "n_intervals"),
    )
    def refresh_tiles(_n: int | None) -> tuple[Any, ...]:
        ids = [o["id"]["camera"] for o in dash.ctx.outputs_list[0]]
        try:
            snap = cq.camera_statuses(view.pool, ids)
            counts = counts_by_camera(cq.latest_counts(view.pool, camera_ids=ids))
            alerts = cq.open_camera_alerts(view.pool, ids)
        except psycopg.Error as exc:
            log.warning("cameras: store query failed: %s", exc)
            raise PreventUpdate from None
        now = snap.as_of
        updates, healths = [], []
        for cam_id in ids:
            status = snap.get(cam_id)
            cam_alerts = alerts.get(cam_id, [])
            health = camera_health(status, cam_alerts, fault_limits(view.settings, cam_id), now)
            healths.append(health)
            updates.append(tile_update(view.info(cam_id), status, health, cam_alerts, counts.get(cam_id),
                                       now, tz))
        columns = [[getattr(u, name) for u in updates] for name, _, _ in TILE_PARTS]
        return (*columns, _summary(healths, alerts), f"Data as of {c.local_time(now, tz)}", now.isoformat())

    @app.callback(
        Output("cam-selected", "data"),
        Input({"type": "cam-tile", "camera": ALL}, "n_clicks"),
        Input("cam-detail-close", "n_clicks"),
        prevent_initial_call=True,
    )
    def select(_tiles: list[int | None], _close: int | None) -> str | None:
        trigger = dash.ctx.triggered_id
        if trigger == "cam-detail-close":
            return None
        if isinstance(trigger, dict) and trigger.get("type") == "cam-tile":
            if not any(t.get("value") for t in dash.ctx.triggered):
                raise PreventUpdate  # a tile (re)appeared; nobody clicked
            return str(trigger["camera"])
        raise PreventUpdate

    @app.callback(
        Output("cam-detail", "className"),
        Output("cam-detail-title", "children"),
        Output("cam-detail-badge", "children"),
        Output("cam-detail-badge", "className"),
        Output("cam-detail-img", "src"),
        Output("cam-detail-cap", "children"),
        Output("cam-detail-health", "children"),
        Output("cam-detail-counts", "children"),
        Output("cam-detail-alerts", "children"),
        Input("cam-tick", "n_intervals"),
        Input("cam-selected", "data"),
    )
    def refresh_detail(_n: int | None, selected: str | None) -> tuple[Any, ...]:
        if not selected:
            return ("cam-detail",) + (dash.no_update,) * 8
        try:
            snap = cq.camera_statuses(view.pool, [selected])
            counts = counts_by_camera(cq.latest_counts(view.pool, camera_ids=[selected]))
            open_alerts = cq.open_camera_alerts(view.pool, [selected]).get(selected, [])
            alerts = cq.camera_alerts(view.pool, selected, limit=DETAIL_ALERTS)
        except psycopg.Error as exc:
            log.warning("cameras: store query failed: %s", exc)
            raise PreventUpdate from None
        now = snap.as_of
        info = view.info(selected)
        status = snap.get(selected)
        health = camera_health(status, open_alerts, fault_limits(view.settings, selected), now)
        kf = status.keyframe if status else None
        cap = frame_caption(kf, tz, size=True) or "no key frame yet"
        return (
            f"cam-detail cam-open cam-{health.state}",
            c.place(info.name, info.area),
            health.label,
            f"cam-badge cam-badge-{health.state}",
            frame_url(kf) or "",
            cap,
            health_facts(status, health, tz),
            counts_block(info, counts.get(selected), now, tz),
            alert_rows(alerts, now, tz),
        )

    @app.callback(
        Output("cam-detail-chart", "figure"),
        Input("cam-chart-tick", "n_intervals"),
        Input("cam-selected", "data"),
    )
    def refresh_chart(_n: int | None, selected: str | None) -> dict:
        if not selected:
            raise PreventUpdate
        try:
            snap = cq.camera_statuses(view.pool, [selected])
            rows = cq.camera_counts(view.pool, selected, minutes=CHART_MINUTES)
        except psycopg.Error as exc:
            log.warning("cameras: store query failed: %s", exc)
            raise PreventUpdate from None
        end = snap.as_of
        return count_figure(rows, view.info(selected), end - timedelta(minutes=CHART_MINUTES), end, tz,
                            view.rule_levels(selected))

    app.clientside_callback(_KEYS_JS, Output("cam-keys-sink", "data"), Input("cam-config", "data"))
    app.clientside_callback(_FOCUS_JS, Output("cam-focus-sink", "data"), Input("cam-selected", "data"),
                            prevent_initial_call=True)
    app.clientside_callback(
        _CLOCK_JS,
        Output("cam-clock", "children"),
        Output("cam-link-status", "children"),
        Output("cam-link-status", "className"),
        Input("cam-clock-tick", "n_intervals"),
        State("cam-last-update", "data"),
        State("cam-config", "data"),
    )


# --------------------------------------------------------------------------- routes


def install_frame_route(server: Flask, view: CameraView) -> None:
    """``/cameras/frame/<camera>/<file>.jpg``: a key frame file from ``vision.keyframes_dir``, nothing else.

    A path that resolves outside the folder is refused (403); a missing file is 404. Served
    with ``Cache-Control: no-cache`` and an ETag, so a browser revalidates cheaply (304).
    """

    def frame(camera_id: str, name: str) -> Response:
        path = safe_frame_path(view.keyframes_dir, camera_id, name)
        if path is None:
            abort(403)
        if not path.is_file():
            abort(404)
        resp = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=0)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    server.add_url_rule(f"{FRAME_PREFIX}<camera_id>/<path:name>", "ioc_cameras_frame", frame)


def attach(server: Flask, view: CameraView) -> dash.Dash:
    """Mount the camera wall on ``server`` under ``/cameras/``, with its frame route."""
    app = dash.Dash(
        __name__,
        server=server,
        url_base_pathname=PREFIX,
        title=f"Cameras · {view.settings.city}",
        update_title=None,
        assets_folder=str(ASSETS),
        assets_ignore=r"^(?!cameras\.css$)",  # the other pages' stylesheets are theirs
        serve_locally=True,  # a control room may have no internet
    )
    app.layout = lambda: layout(view)
    register_callbacks(app, view)
    install_frame_route(server, view)
    if "ioc_cameras_no_slash" not in server.view_functions:
        server.add_url_rule("/cameras", "ioc_cameras_no_slash", lambda: redirect(PREFIX, code=308))
    return app


def create_camera_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """The camera wall on ``server`` (the wall's), reading from ``pool``: ``/cameras/`` and its frames."""
    return attach(server, CameraView(pool=pool, settings=settings))


__all__ = [
    "CameraView", "FaultLimits", "Health", "attach", "camera_health", "count_figure", "counts_by_camera",
    "create_camera_page", "fault_limits", "frame_url", "grid_shape", "safe_frame_path",
]
