"""One camera's tile: its frame, counts, health line and alert strip, and what each refresh changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from dashboards import components as c
from dashboards.cameras.health import Health
from dashboards.cameras.model import (
    STALE_COUNTS,
    CameraCounts,
    CameraInfo,
    frame_url,
    label_colour,
    label_name,
    label_sort_key,
)
from ioc.store import camera_queries as cq


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
