"""``/reports311/``: the citizens' field reports page.

A map of the open reports by category and age, each department's queue sorted by its next
deadline, the photo and history of the report picked (on the map or in a queue: ``?report=ID``) and
the on-time rate per department this week. Everything is read from the store; texts come from the
``reports311`` catalogue in the screen's language; SIMULATED reports say so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html
from flask import Flask

from dashboards import components as c
from dashboards.i18n import page_language
from dashboards.map_view import fit_view
from dashboards.pacing import pace, paced_interval
from dashboards.reports311.figures import Case, age_hours, cases, on_time_rate, queue, week_start
from ioc.config import Settings
from ioc.feeds.reports.config import configured_feed
from ioc.feeds.reports.queries import page_records
from ioc.feeds.reports.records import OPEN_STATUSES
from ioc.feeds.reports.settings import ReportsFeed
from ioc.i18n import Translator, format_number, format_time

PREFIX = "/reports311/"
PHOTO_ROUTE = "/reports311/photo/"
t = Translator("reports311")
PALETTE = ("#5cc8ff", "#ffb020", "#57ab5a", "#e5534b", "#b083f0", "#f69d50", "#39c5bb", "#d2a8ff")
STATUS = {"received": "Received", "assigned": "Assigned", "in_progress": "In progress",
          "resolved": "Resolved", "rejected": "Rejected"}
QUEUE_ROWS = 12
MAP_PX = (1240, 530)  # the map on a 1920x1080 wall, less its title


def department(code: str, lang: str) -> str:
    """A department's name: the catalogue's, else its code made readable (``urban_works``: Urban works)."""
    name = t(code, lang)
    return code.replace("_", " ").capitalize() if name == code else name


def simulated(case: Case) -> bool:
    return case.report.client == "simulator" or case.report.description.startswith("SIMULATED")


def load(pool: Any, now: datetime, zone: ZoneInfo) -> dict[str, Case]:
    """The reports open now or closed this week (in the city's ``zone``), with their histories."""
    return cases(page_records(pool, week_start(now, zone).astimezone(UTC)))


def _age(hours: float, lang: str) -> str:
    if hours < 24:
        return t("{hours} h", lang, hours=format_number(hours, lang, 0))
    return t("{days} d {hours} h", lang, days=int(hours // 24), hours=int(hours % 24))


def _map(open_cases: list[Case], cfg: ReportsFeed | None, settings: Settings, lang: str,
         now: datetime) -> go.Figure:
    fig = go.Figure()
    categories = sorted({k.report.category for k in open_cases})
    for i, category in enumerate(categories):
        mine = [k for k in open_cases if k.report.category == category]
        ages = [age_hours(k, now) for k in mine]
        fig.add_scattermap(
            lat=[k.report.lat for k in mine], lon=[k.report.lon for k in mine], mode="markers",
            name=t(category, lang), customdata=[k.report.source_id for k in mine],
            marker={"size": [8 + min(a, 72) / 4 for a in ages], "color": PALETTE[i % len(PALETTE)],
                    "opacity": 0.85},
            text=[f"{k.report.source_id} · {_age(a, lang)}" for k, a in zip(mine, ages, strict=True)],
            hoverinfo="text+name",
        )
    layers = []
    for ward in (cfg.wards if cfg else []):
        ring = [list(p) for p in ward.polygon] + [list(ward.polygon[0])]
        layers.append({"sourcetype": "geojson", "type": "line", "color": "#5a6b80", "line": {"width": 1},
                       "source": {"type": "Feature", "properties": {},
                                  "geometry": {"type": "Polygon", "coordinates": [ring]}}})
    # the view holds every open report and every ward (a fixed zoom cut the northern wards off)
    lats = [k.report.lat for k in open_cases] + [p[1] for w in (cfg.wards if cfg else []) for p in w.polygon]
    lons = [k.report.lon for k in open_cases] + [p[0] for w in (cfg.wards if cfg else []) for p in w.polygon]
    if lats:
        centre, zoom = fit_view((min(lons), min(lats), max(lons), max(lats)), MAP_PX)
    else:
        centre, zoom = {"lat": 16.4637, "lon": 107.5909}, 13.2  # Huế's centre
    tiles = settings.web.map_tiles_url
    style: dict[str, Any] = {"version": 8, "sources": {}, "layers": [
        {"id": "ground", "type": "background", "paint": {"background-color": "#0f1722"}}]}
    if tiles:
        style["sources"]["tiles"] = {"type": "raster", "tiles": [tiles], "tileSize": 256,
                                     "attribution": settings.web.map_tiles_attribution}
        style["layers"].append({"id": "tiles", "type": "raster", "source": "tiles"})
    fig.update_layout(
        map={"style": style, "center": centre, "zoom": zoom, "layers": layers},
        height=560, margin={"l": 0, "r": 0, "t": 30, "b": 0}, template="plotly_dark",
        title=t("Open reports by category (larger: older)", lang), paper_bgcolor="rgba(0,0,0,0)",
        legend={"bgcolor": "rgba(18,25,35,0.8)", "x": 0.01, "y": 0.99}, uirevision="map",
    )
    return fig


def _on_time(rates: dict[str, tuple[int, int]], lang: str) -> go.Figure:
    ranked = sorted(rates.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0]))
    fig = go.Figure(go.Bar(
        x=[100 * good / total for _, (good, total) in ranked], y=[department(d, lang) for d, _ in ranked],
        orientation="h", text=[f"{good}/{total}" for _, (good, total) in ranked], textposition="auto",
        marker_color=["#e5534b" if good / total < 0.8 else "#57ab5a" for _, (good, total) in ranked]))
    fig.update_layout(height=max(220, 40 * len(ranked) + 60), margin={"l": 160, "r": 10, "t": 30, "b": 30},
                      title=t("Resolved on time this week, by department (%)", lang), template="plotly_dark",
                      xaxis={"range": [0, 100]}, paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return fig


def _queues(all_cases: dict[str, Case], settings: Settings, lang: str, now: datetime) -> html.Div:
    departments = sorted({k.report.department for k in all_cases.values() if k.status in OPEN_STATUSES})
    blocks = []
    for dept in departments:
        mine = queue(all_cases, dept)
        head = html.Tr([html.Th(t(x, lang)) for x in ("Report", "Category", "Status", "Due", "Age")])
        rows = [html.Tr([
            html.Td(dcc.Link(k.report.source_id, href=f"{PREFIX}?report={quote(k.report.source_id)}")),
            html.Td(t(k.report.category, lang)), html.Td(t(STATUS[k.status], lang)),
            html.Td(format_time(k.next_due(), lang, settings.timezone, "short"),
                    className="r311-late" if k.next_due() < now else ""),
            html.Td(_age(age_hours(k, now), lang)),
        ]) for k in mine[:QUEUE_ROWS]]
        blocks.append(html.Div([
            html.H3(f"{department(dept, lang)} · {format_number(len(mine), lang, 0)}"),
            html.Table([html.Thead(head), html.Tbody(rows)], className="sec-table r311-queue",
                       **{"data-department": dept}),
        ]))
    return html.Div(blocks, className="r311-queues", id="r311-queues")


PARTS = {"head": "r311-head", "map": "r311-mapbox", "queues": "r311-queuebox", "ontime": "r311-ontime"}


def content(pool: Any, settings: Settings, cfg: ReportsFeed | None, lang: str,
            now: datetime) -> dict[str, Any]:
    """Everything but the header and the selected report, by part (:data:`PARTS`), read from the store now."""
    zone = ZoneInfo(settings.timezone)
    all_cases = load(pool, now, zone)
    open_cases = [k for k in all_cases.values() if k.status in OPEN_STATUSES]
    rates = on_time_rate(all_cases, now, zone)
    good, total = sum(g for g, _ in rates.values()), sum(n for _, n in rates.values())
    tiles = [
        (t("Open reports", lang), format_number(len(open_cases), lang, 0)),
        (t("Past a deadline now", lang), format_number(sum(k.next_due() < now for k in open_cases), lang, 0)),
        (t("Received today", lang), format_number(sum(
            k.report.time.astimezone(zone).date() == now.astimezone(zone).date()
            for k in all_cases.values()), lang, 0)),
        (t("Resolved on time this week", lang),
         f"{format_number(100 * good / total, lang, 1)}%" if total else "–"),  # as CLDR writes it
    ]
    head = [
        html.Div(t("SIMULATED: reports generated for the demonstration, not real citizens' reports", lang),
                 className="simulated-banner", id="r311-simulated")
        if any(simulated(k) for k in all_cases.values()) else None,
        html.Div([html.Div([html.Div(label, className="tile-label"), html.Div(value, className="tile-value")],
                           className="tile") for label, value in tiles], className="tiles", id="r311-tiles"),
    ]
    return {
        "head": head,
        "map": dcc.Graph(id="r311-map", figure=_map(open_cases, cfg, settings, lang, now),
                         config={"displayModeBar": False}),
        "queues": [html.H3(t("Queues by department, next deadline first", lang)),
                   _queues(all_cases, settings, lang, now)],
        "ontime": dcc.Graph(figure=_on_time(rates, lang), config={"displayModeBar": False}),
    }


def detail(pool: Any, settings: Settings, rid: str, lang: str, now: datetime) -> list[Any]:
    """The photo(s), facts and history of one report."""
    if not rid:
        return [html.P(t("Pick a report on the map or in a queue to see its photo and history.", lang),
                       className="r311-hint")]
    case = load(pool, now, ZoneInfo(settings.timezone)).get(rid)
    if case is None:
        return [html.P(t("Report {id} is not open and was not closed this week.", lang, id=rid))]
    r = case.report
    facts = [
        (t("Category", lang), t(r.category, lang)), (t("Ward", lang), r.ward or "–"),
        (t("Department", lang), department(r.department, lang)), (t("Team", lang), r.assignee_group),
        (t("Status", lang), t(STATUS[case.status], lang)),
        (t("Acknowledge by", lang), format_time(r.ack_due, lang, settings.timezone, "short")),
        (t("Resolve by", lang), format_time(r.resolve_due, lang, settings.timezone, "short")),
    ]
    if r.duplicate_of:
        facts.append((t("Grouped with", lang), r.duplicate_of))
    history = [html.Tr([html.Td(format_time(h.time, lang, settings.timezone, "short")),
                        html.Td(t(STATUS[h.status], lang)), html.Td(h.actor), html.Td(h.reason)])
               for h in case.history or []]
    photos: list[Any] = [html.Img(src=f"{PHOTO_ROUTE}{p.sha256}", alt=t("Photo sent with the report", lang),
                                  className="r311-photo") for p in r.photos]
    if r.media_url:  # the app's own copy: a link staff open themselves, never an image the page loads
        photos.append(html.A(t("Photo kept by the app (external link)", lang), href=r.media_url,
                             target="_blank", rel="noopener noreferrer nofollow", className="r311-media-url"))
    return [
        html.H3(f"{r.source_id} · {t(r.category, lang)}"),
        html.Div(photos or [html.P(t("No photo was sent.", lang))], className="r311-photos"),
        html.P(r.description, className="r311-description"),
        html.Dl([x for label, value in facts for x in (html.Dt(label), html.Dd(value))],
                className="r311-facts"),
        html.Table([html.Thead(html.Tr([html.Th(t(x, lang)) for x in ("Time", "Status", "By", "Reason")])),
                    html.Tbody(history)], className="sec-table", id="r311-history"),
    ]


def picked(search: str | None) -> str:
    values = parse_qs((search or "").lstrip("?")).get("report", [""])
    return values[0][:128]


def create_reports311_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """Mount ``/reports311/`` (the page, its photos and the staff API) on the wall's server."""
    from dashboards.reports311.actions import action_bar, register_actions
    from dashboards.reports311.routes import register_routes

    cfg = configured_feed(settings)
    register_routes(server, pool, settings.web.language)
    app = c.page_app(server, PREFIX, "Citizens' reports", "feed-page.css", "reports311.css",
                     settings=settings)

    def layout() -> html.Div:
        lang = page_language(settings)
        now = datetime.now(UTC)
        parts = content(pool, settings, cfg, lang, now)
        return html.Div([
            dcc.Location(id="r311-url", refresh=False),
            html.Header([html.A("←", href="/", className="back"), html.H1(t("Citizens' field reports", lang)),
                         html.Span(settings.city, className="city")], className="sec-header"),
            html.Div(parts["head"], id=PARTS["head"]),
            html.Div([
                html.Div(parts["map"], id=PARTS["map"]),
                html.Div([
                    action_bar(lang),
                    html.Section(detail(pool, settings, "", lang, now), id="r311-detail",
                                 className="r311-detail"),
                ]),
                html.Div(parts["queues"], id=PARTS["queues"]),
                html.Div(parts["ontime"], id=PARTS["ontime"]),
            ], className="r311-grid"),
            *paced_interval("r311-refresh", settings.web.refresh_ms * 4),
            dcc.Store(id="r311-lang", data=lang),
        ], className="security-page", lang=lang)

    app.layout = layout

    pace(app, "r311-refresh")

    @app.callback([Output(PARTS[p], "children") for p in PARTS],
                  Input("r311-refresh", "n_intervals"), State("r311-lang", "data"), prevent_initial_call=True)
    def refresh(_: int | None, lang: str) -> list[Any]:
        parts = content(pool, settings, cfg, lang or page_language(settings), datetime.now(UTC))
        return [parts[p] for p in PARTS]

    @app.callback(Output("r311-url", "search"), Input("r311-map", "clickData"), prevent_initial_call=True)
    def pick_on_map(click: dict[str, Any] | None) -> str:
        points = (click or {}).get("points") or []
        if not points or not points[0].get("customdata"):
            raise dash.exceptions.PreventUpdate
        return f"?report={quote(str(points[0]['customdata']))}"

    @app.callback(Output("r311-detail", "children"), Input("r311-url", "search"),
                  Input("r311-refresh", "n_intervals"), Input("r311-changed", "data"),
                  State("r311-lang", "data"))
    def show(search: str | None, _: int | None, __: int | None, lang: str) -> list[Any]:
        return detail(pool, settings, picked(search), lang or page_language(settings), datetime.now(UTC))

    register_actions(app, pool, picked, lambda: page_language(settings))
    return app

