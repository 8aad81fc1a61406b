"""One camera's tile: its frame, counts, health line and alert strip, and what each refresh changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from dashboards.formats import Formats
from dashboards.i18n import t
from ioc.store import camera_queries as cq


def _health_line(h: Health, f: Formats) -> list[Any]:
    bits: list[Any] = [html.Span("", className=f"cam-dot cam-dot-{h.state}")]
    if h.state == "waiting":
        bits.append(html.Span(t("waiting for the first frame", f.lang), className="cam-fact"))
        return bits
    if h.state == "offline":
        text = (t("no frame since {ago}", f.lang, ago=f.ago(h.last_frame_age)) if h.last_frame_age
                else t("no frame yet", f.lang))
        bits.append(html.Span(text, className="cam-fact cam-fact-bad"))
        return bits
    if h.fps_in is not None:
        bits.append(html.Span([html.B(f.number(h.fps_in)), " " + t("fps in", f.lang)], className="cam-fact"))
    if h.last_frame_age is not None:
        bits.append(html.Span(t("last frame {ago}", f.lang, ago=f.ago(h.last_frame_age)),
                              className="cam-fact"))
    return bits


def _count_chip(label: str, n: int, f: Formats, big: bool = True) -> html.Span:
    return html.Span(
        [html.Span("", className="cam-swatch", style={"background": label_colour(label)}),
         html.Span(label_name(label, f.lang), className="cam-count-label"),
         html.B(f.number(n), className="cam-count-value")],
        className="cam-count" + ("" if big else " cam-count-small") + (" cam-zero" if n == 0 else ""),
        **{"data-label": label, "data-count": str(n)},
    )


def counts_block(info: CameraInfo, counts: CameraCounts | None, now: datetime, f: Formats) -> html.Div:
    """Peak objects per frame in the newest minute: whole frame by class, then each zone."""
    if counts is None or counts.bucket is None:
        return html.Div(html.Span(t("no objects counted in the last hour", f.lang), className="cam-none"),
                        className="cam-counts")
    labels = sorted(counts.whole, key=label_sort_key)
    old = now - counts.bucket > STALE_COUNTS
    when = t("minute {time}", f.lang, time=f.time(counts.bucket, seconds=False))
    if old:
        when += f" · {f.ago(now - counts.bucket)}"
    zone_rows = []
    for zone in [*info.zones, *sorted(set(counts.zones) - set(info.zones))]:
        per = counts.zones.get(zone, {})
        zone_rows.append(html.Div(
            [html.Span(zone + (" " + t("(restricted)", f.lang) if zone in info.restricted else ""),
                       className="cam-zone-name" + (" cam-restricted" if zone in info.restricted else "")),
             *([_count_chip(lbl, per.get(lbl, 0), f, big=False) for lbl in labels] or
               [html.Span("—", className="cam-none")])],
            className="cam-zone", **{"data-zone": zone},
        ))
    return html.Div(
        [
            html.Div(
                [html.Span(t("Peak in one frame", f.lang), className="cam-counts-title"),
                 html.Span(when, className="cam-counts-when" + (" cam-old" if old else ""),
                           title=t("the most objects seen at once in an analysed frame during this minute: "
                                   "whole frame, then each zone", f.lang))],
                className="cam-counts-head",
            ),
            html.Div([_count_chip(lbl, counts.whole[lbl], f) for lbl in labels], className="cam-count-row"),
            html.Div(zone_rows, className="cam-zones"),
        ],
        className="cam-counts",
    )


def alert_strip(alerts: Sequence[cq.CameraAlert], now: datetime, f: Formats) -> tuple[list[Any], str]:
    """Children and classes of a tile's alert strip: the worst open alert and how many more."""
    if not alerts:
        return [], "cam-alert-strip cam-empty"
    worst = alerts[0]
    others = len(alerts) - 1
    more = t.plural("+ {n} more alert", "+ {n} more alerts", others, f.lang) if others else ""
    title = worst.title_in(f.lang)
    return (
        [html.Span(c.severity_short(worst.severity, f.lang), className="cam-sev"),
         html.Span(title, className="cam-alert-title", title=title),
         html.Span(t("for {age}", f.lang, age=f.age(now - worst.started_at)), className="cam-alert-age"),
         html.Span(more, className="cam-alert-more")],
        f"cam-alert-strip cam-sev-{worst.severity}",
    )


def frame_caption(kf: cq.KeyFrameRow | None, f: Formats, size: bool = False) -> str:
    """The line over a key frame: when it was taken, how many boxes it has (and its size)."""
    if kf is None:
        return ""
    text = t("frame {time}", f.lang, time=f.time(kf.time)) + " · " + t.plural(
        "{n} box", "{n} boxes", kf.detections, f.lang)
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
    f: Formats,
) -> TileUpdate:
    """A tile's new content: health badge, worst alert, key frame, health line, counts."""
    kf = status.keyframe if status else None
    alert, alert_class = alert_strip(alerts, now, f)
    return TileUpdate(
        tile_class=tile_class(health, alerts),
        badge=health.shown(f.lang),
        badge_class=f"cam-badge cam-badge-{health.state}",
        alert=alert,
        alert_class=alert_class,
        frame_class="cam-frame" if kf else "cam-frame cam-nokf",
        src=frame_url(kf) or "",
        caption=frame_caption(kf, f),
        health=_health_line(health, f),
        counts=counts_block(info, counts, now, f),
    )


def _tile(index: int, info: CameraInfo, lang: str = "en") -> html.Div:
    """A tile's elements, filled in by the refresh callback."""
    key = {"camera": info.id}
    place = c.place(info.name, info.area)
    return html.Div(
        [
            html.Div(
                [html.Span(str(index) if index <= 9 else "", className="cam-key",  # keys 1-9 open it
                           title=t("press {n} to open", lang, n=index)),
                 html.Span(info.name, className="cam-name", title=info.id),
                 html.Span("" if place == info.name else info.area, className="cam-area"),
                 html.Span("", id={"type": "cam-badge", **key}, className="cam-badge")],
                className="cam-tile-head",
            ),
            html.Div([], id={"type": "cam-alert", **key}, className="cam-alert-strip cam-empty"),
            html.Div(
                [html.Img(id={"type": "cam-img", **key}, className="cam-img",
                          alt=t("key frame of {name}", lang, name=info.name)),
                 html.Div(t("no key frame yet", lang), className="cam-noimg"),
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
        title=t("{name}: open large (Enter)", lang, name=info.name),
        **{"aria-label": t("Camera {n}: {name}. Press Enter to open it large.", lang, n=index,
                           name=info.name),
           "data-camera": info.id},
    )
