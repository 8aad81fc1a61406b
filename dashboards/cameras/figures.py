"""The selected camera's detail: the count chart, its alerts, its health facts."""

from __future__ import annotations

import html as html_text
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dash import html

from dashboards import components as c
from dashboards.cameras.health import Health
from dashboards.cameras.model import (
    RULE_COLOUR,
    ZONE_DASHES,
    CameraInfo,
    label_colour,
    label_name,
    label_sort_key,
)
from dashboards.formats import Formats
from dashboards.i18n import t
from ioc.store import camera_queries as cq


def count_figure(
    rows: Sequence[cq.CountRow],
    info: CameraInfo,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    levels: Sequence[tuple[str, str, float]] = (),
    lang: str = "en",
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
        where = t("whole frame", lang) if zone == "*" else zone
        name = f"{label_name(label, lang)} · {html_text.escape(where)}"
        data.append({
            "type": "scatter", "mode": "lines+markers",
            "x": [p.bucket.astimezone(tz).replace(tzinfo=None).isoformat() for p in pts],
            "y": [p.max_count for p in pts],
            "name": name,
            "line": {"color": label_colour(label), "width": 3 if zone == "*" else 2,
                     "dash": ZONE_DASHES[zones.index(zone) % len(ZONE_DASHES)]},
            "marker": {"size": 6},
            "hovertemplate": t("{count} at {time}", lang, count="%{y}", time="%{x|%H:%M}")
                             + f"<extra>{name}</extra>",
        })
    shapes, annotations = [], []
    for kind, zone, level in levels:  # red: no label's boxes are drawn red, so a level is never a series
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": level,
                       "y1": level, "line": {"color": RULE_COLOUR, "width": 1.5, "dash": "dash"}})
        where = t("whole frame", lang) if zone == "*" else zone
        annotations.append({"xref": "paper", "x": 0, "xanchor": "left", "yref": "y", "y": level,
                            "yanchor": "bottom", "showarrow": False,
                            "text": html_text.escape(t("{kind} rule: above {level} in {where}", lang,
                                                       kind=t(kind, lang), where=where,
                                                       level=Formats(lang, "UTC").number(level, 2))),
                            "font": {"size": 14, "color": RULE_COLOUR}})
    if len(data) == 1:
        annotations.append({"text": t("nothing counted in the last hour", lang), "showarrow": False, "x": 0.5,
                            "y": 0.5, "xref": "paper", "yref": "paper",
                            "font": {"size": 20, "color": c.MUTED}})
    top = max([p.max_count for pts in series.values() for p in pts] + [lvl for _, _, lvl in levels] + [1])
    return {
        "data": data,
        "layout": {
            "uirevision": info.id,
            "separators": Formats(lang, "UTC").plotly_separators,
            "paper_bgcolor": c.PANEL, "plot_bgcolor": c.PANEL,
            "font": {"family": c.FONT, "color": c.TEXT, "size": 15},
            "margin": {"l": 52, "r": 16, "t": 8, "b": 34},
            "hovermode": "x unified",
            "showlegend": True,
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 15},
                       "bgcolor": "rgba(0,0,0,0)"},
            "xaxis": {"type": "date", "tickformat": "%H:%M", "showgrid": False, "fixedrange": True,
                      "linecolor": c.GRID, "tickfont": {"size": 14, "color": c.MUTED}},
            "yaxis": {"title": {"text": t("peak per frame", lang), "font": {"size": 14, "color": c.MUTED}},
                      "rangemode": "tozero", "range": [0, math.ceil(top * 1.15) + 0.5], "fixedrange": True,
                      "gridcolor": c.GRID, "zeroline": False, "tickfont": {"size": 14, "color": c.MUTED}},
            "shapes": shapes,
            "annotations": annotations,
        },
    }


STATE_LABELS = c.ALERT_STATE_LABELS


def alert_rows(alerts: Sequence[cq.CameraAlert], now: datetime, f: Formats) -> list[html.Div]:
    """The large view's alert list: open ones, then those resolved in the last day."""
    if not alerts:
        return [html.Div(t("No alerts in the last 24 h", f.lang), className="cam-none")]
    rows = []
    for a in alerts:
        if a.resolved and a.resolved_at is not None:
            when = t("resolved {ago} ({time})", f.lang, ago=f.ago(now - a.resolved_at),
                     time=f.time(a.resolved_at, seconds=False))
        else:
            when = t("since {time} · for {age}", f.lang, time=f.time(a.started_at, seconds=False),
                     age=f.age(now - a.started_at))
        title = a.title_in(f.lang)
        rows.append(html.Div(
            [html.Span(c.severity_short(a.severity, f.lang), className="cam-sev"),
             html.Div([html.Div(title, className="cam-alert-title", title=title),
                       html.Div(when, className="cam-alert-when")], className="cam-alert-body"),
             html.Div([html.Div(c.state_label(a.state, f.lang), className="cam-alert-state"),
                       html.Div(f"×{f.number(a.count)}", className="cam-alert-count",
                                title=t("signals seen", f.lang))],
                      className="cam-alert-side")],
            className=f"cam-alert-row cam-sev-{a.severity}" + (" cam-resolved" if a.resolved else ""),
            **{"data-severity": a.severity, "data-state": a.state, "data-alert-id": str(a.id)},
        ))
    return rows


def health_facts(status: cq.CameraStatus | None, health: Health, f: Formats) -> html.Div:
    """The large view's health figures: state, frames in, last frame, the frame statistics."""
    s = status
    facts = [
        ("State", health.shown(f.lang)),
        ("Frames in", "—" if health.fps_in is None else f"{f.fixed(health.fps_in, 1)} / s"),
        ("Last frame", "—" if s is None or s.last_frame is None
         else f"{f.time(s.last_frame)} ({f.ago(health.last_frame_age or timedelta(0))})"),
        ("Brightness", f.fixed(s.brightness if s else None, 0) + " / 255"),
        ("Sharpness", f.fixed(s.sharpness if s else None, 0)),
        ("Change", f.fixed(s.change if s else None, 2)),
        ("Motion", "—" if s is None or s.motion is None else f.percent(s.motion)),
    ]
    return html.Div(
        [html.Div([html.Span(t(k, f.lang), className="cam-fact-key"), html.Span(v, className="cam-fact-val")],
                  className="cam-fact-row") for k, v in facts],
        className="cam-facts",
    )
