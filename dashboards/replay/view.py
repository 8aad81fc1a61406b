"""What the replay page draws at its time cursor: pure functions from store rows to components.

Nothing here reads the store; :mod:`dashboards.replay.page` asks :mod:`ioc.store.replay_queries`
for the city as of the cursor and hands the rows here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
from dash import html

from dashboards import components as c
from ioc.i18n import Translator, format_number, format_time, gettext, render
from ioc.store.replay_queries import KeyFrameAt, ReadingAt, TrackPoint
from ioc.store.replay_runs import ReplayRequest

t = Translator("replay")
FRAME_PREFIX = "/cameras/frame/"  # the camera page's key frame route (dashboards.cameras.routes)
STATE_LABELS = {"queued": "Queued", "running": "Running", "paused": "Paused", "done": "Done",
                "failed": "Failed", "cancelled": "Cancelled"}
TRACK_COLOURS = ("#5cc8ff", "#ffb020", "#7ee081", "#ff7ab6", "#c9a0ff", "#ff8a5c", "#4dd0c8", "#e6e05c")


def when(at: datetime | None, lang: str, tz: str) -> str:
    return "—" if at is None else format_time(at, lang, tz, "yyyy-MM-dd HH:mm:ss")


def severity_word(severity: str, lang: str) -> str:
    """An alert's severity in ``lang``'s word (the alerts' catalogue, as the console says it)."""
    return gettext("alerts", severity, lang)


def title_of(alert: dict[str, Any], lang: str) -> str:
    """A replayed alert's title in ``lang``: from its template and fields, else the stored English."""
    return render("alerts", alert.get("title_template"), alert.get("title_params"), lang, alert["title"])


def alerts_open_at(alerts: Sequence[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The replay's alerts raised by ``at`` and not resolved by then, newest first."""
    out = []
    for a in alerts:
        first = datetime.fromisoformat(a["first_seen"])
        resolved = datetime.fromisoformat(a["resolved_at"]) if a.get("resolved_at") else None
        if first <= at and (resolved is None or resolved > at):
            out.append(a)
    return sorted(out, key=lambda a: a["first_seen"], reverse=True)


def tiles(at: datetime, readings: Sequence[ReadingAt], tracks: dict[int, list[TrackPoint]],
          frames: Sequence[KeyFrameAt], open_alerts: Sequence[dict[str, Any]], lang: str,
          tz: str) -> html.Div:
    """The wall's tiles at the cursor (each with an id the browser test reads)."""
    stations = len({r.station_id for r in readings})
    items = [("replay-tile-time", t("Replay time", lang), format_time(at, lang, tz, "HH:mm:ss")),
             ("replay-tile-stations", t("Stations reporting", lang), str(stations)),
             ("replay-tile-vessels", t("Vessels tracked", lang), str(len(tracks))),
             ("replay-tile-frames", t("Camera key frames", lang), str(len(frames))),
             ("replay-tile-alerts", t("Alerts open", lang), str(len(open_alerts)))]
    return html.Div([html.Div([html.Div(label, className="tile-label"),
                               html.Div(value, className="tile-value")], className="tile", id=tile_id)
                     for tile_id, label, value in items], className="tiles", id="replay-tiles")


def readings_table(readings: Sequence[ReadingAt], lang: str, tz: str, limit: int = 24) -> html.Table:
    head = html.Tr([html.Th(t(h, lang)) for h in ("Station", "Metric", "Value", "Time")])
    rows = [html.Tr([html.Td(r.station_id), html.Td(c.metric_label(r.metric, lang)),
                     html.Td(f"{c.fmt_value(r.value, lang)} {r.unit}".strip()),
                     html.Td(format_time(r.time, lang, tz, "HH:mm:ss"))])
            for r in sorted(readings, key=lambda r: (r.station_id, c.metric_sort_key(r.metric)))[:limit]]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="sec-table", id="replay-readings")


def track_figure(tracks: dict[int, list[TrackPoint]], lang: str, height: int = 420) -> go.Figure:
    """Every vessel's track up to the cursor as a line, its position at the cursor as a dot."""
    fig = go.Figure()
    for i, (mmsi, points) in enumerate(sorted(tracks.items())):
        colour = TRACK_COLOURS[i % len(TRACK_COLOURS)]
        fig.add_scatter(x=[p.lon for p in points], y=[p.lat for p in points], mode="lines",
                        line={"color": colour, "width": 2}, name=str(mmsi), hoverinfo="name",
                        showlegend=False)
        last = points[-1]
        fig.add_scatter(x=[last.lon], y=[last.lat], mode="markers", marker={"color": colour, "size": 9},
                        name=str(mmsi), hovertext=f"MMSI {mmsi}", hoverinfo="text", showlegend=False)
    fig.update_layout(height=height, margin={"l": 40, "r": 10, "t": 30, "b": 30}, template="plotly_dark",
                      title=t("Vessel tracks up to the cursor", lang), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor=c.PANEL, uirevision="tracks")
    if not tracks:  # no made-up axes around nothing: say what the empty map means
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text=t("No vessel positions up to the cursor", lang), showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 16, "color": c.MUTED})
        return fig
    fig.update_yaxes(scaleanchor="x", scaleratio=1.045, title_text=t("latitude", lang))  # ~1/cos(16.5°)
    fig.update_xaxes(title_text=t("longitude", lang))
    return fig


def frame_url(frame: KeyFrameAt) -> str:
    return FRAME_PREFIX + quote(frame.path, safe="/")


def keyframe_tiles(frames: Sequence[KeyFrameAt], lang: str, tz: str) -> html.Div:
    if not frames:
        return html.Div(t("No camera key frame in the ten minutes before the cursor.", lang),
                        className="replay-empty", id="replay-frames")
    def caption(f: KeyFrameAt) -> str:
        return (f"{f.camera_id} · {format_time(f.time, lang, tz, 'HH:mm:ss')} · "
                + t("{n} detections", lang, n=f.detections))

    return html.Div([html.Figure([html.Img(src=frame_url(f), alt=f.camera_id, width=f.width, height=f.height),
                                  html.Figcaption(caption(f))],
                                 className="replay-frame", **{"data-camera": f.camera_id})
                     for f in frames], className="replay-frames", id="replay-frames")


def alerts_list(alerts: Sequence[dict[str, Any]], lang: str, tz: str, limit: int = 15) -> html.Table:
    head = html.Tr([html.Th(t(h, lang)) for h in ("Raised", "Severity", "Rule", "Source", "Title")])
    rows = [html.Tr([html.Td(when(datetime.fromisoformat(a["first_seen"]), lang, tz)),
                     html.Td(severity_word(a["severity"], lang), className=f"sev-{a['severity']}"),
                     html.Td(a["rule"]), html.Td(a["source_id"]), html.Td(title_of(a, lang))])
            for a in alerts[:limit]]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="sec-table", id="replay-alerts")


def backtest_table(result: dict[str, Any] | None, lang: str, tz: str) -> html.Div:
    """The back-test's difference per rule (added, removed, changed), and the alerts behind each."""
    diff = (result or {}).get("backtest")
    if not diff:
        return html.Div(t("No back-test: give edited rules when starting a replay.", lang),
                        className="replay-empty", id="replay-backtest")
    head = html.Tr([html.Th(t(h, lang)) for h in ("Rule", "Added", "Removed", "Changed")])
    rows = [html.Tr([html.Td(rule), html.Td(str(n["added"])), html.Td(str(n["removed"])),
                     html.Td(str(n["changed"]))], **{"data-rule": rule})
            for rule, n in diff["per_rule"].items()]
    detail = []
    for what, sign, word in (("added", "+", "Added"), ("removed", "−", "Removed")):
        for a in diff[what]:
            detail.append(html.Tr([html.Td(f"{sign} {t(word, lang)}"), html.Td(a["rule"]),
                                   html.Td(a["fingerprint"]),
                                   html.Td(when(datetime.fromisoformat(a["first_seen"]), lang, tz)),
                                   html.Td(severity_word(a["severity"], lang)), html.Td(title_of(a, lang))],
                                  **{"data-change": what}))
    for pair in diff["changed"]:
        old, new = pair["before"], pair["after"]
        detail.append(html.Tr([html.Td(f"~ {t('Changed', lang)}"), html.Td(old["rule"]),
                               html.Td(old["fingerprint"]),
                               html.Td(f"{when(datetime.fromisoformat(old['first_seen']), lang, tz)} → "
                                       f"{when(datetime.fromisoformat(new['first_seen']), lang, tz)}"),
                               html.Td(f"{severity_word(old['severity'], lang)} → "
                                       f"{severity_word(new['severity'], lang)}"),
                               html.Td(title_of(new, lang))], **{"data-change": "changed"}))
    summary = t("{same} alerts the same", lang, same=diff["same"])
    return html.Div([
        html.Table([html.Thead(head), html.Tbody(rows)], className="sec-table", id="replay-backtest-rules"),
        html.P(summary),
        html.Table([html.Thead(html.Tr([html.Th("")] + [html.Th(t(h, lang)) for h in (
                        "Rule", "Fingerprint", "Raised", "Severity", "Title")])),
                    html.Tbody(detail)], className="sec-table", id="replay-backtest-alerts"),
    ], id="replay-backtest")


def progress(run: ReplayRequest | None, lang: str) -> list[Any]:
    """The run's state, a progress bar, records done of the total and the time left."""
    if run is None:
        return [html.Span(t("No replay yet: choose a period and start one.", lang))]
    pct = round(100 * run.fraction)
    eta = run.eta_s
    parts = [html.Span(t(STATE_LABELS.get(run.state, run.state), lang), id="replay-state",
                       className=f"replay-state state-{run.state}", **{"data-state": run.state}),
             html.Progress(value=str(pct), max="100", id="replay-bar"),
             html.Span(f"{pct}%", id="replay-pct"),
             html.Span(t("{done} of {total} records", lang, done=format_number(run.events, lang, 0),
                         total=format_number(run.total, lang, 0) if run.total is not None else "?"))]
    if eta is not None:
        parts.append(html.Span(t("about {s} s left", lang, s=format_number(eta, lang, 0)), id="replay-eta"))
    if run.error_code == "abandoned":
        parts.append(html.Span(t("Given up: its replay worker stopped {n} times in the middle of it "
                                 "(the process ended or its machine restarted).", lang, n=run.attempts),
                               className="replay-error", id="replay-abandoned"))
    elif run.error:
        parts.append(html.Span(run.error, className="replay-error"))
    if run.attempts > 1 and run.state in ("running", "paused"):
        parts.append(html.Span(t("Started again from the beginning: its replay worker stopped (attempt {n}).",
                                 lang, n=run.attempts), className="replay-note", id="replay-restarted"))
    return parts
