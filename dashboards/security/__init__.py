"""``/security/``: the security officer's page (events per minute, top sources and accounts, and the
latest events in a grid with a filter on every column).

``/security/?alert=<id>`` (the console's link from a security alert) fills the grid with that alert's
events only (:mod:`dashboards.security.scope`). Texts come from the ``security`` catalogue in the
screen's language; raw log lines are shown only to analysts and admins. The page needs a session
(the login guard covers ``/security``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from flask import Flask

from alerts.service import AlertNotFound, AlertService
from dashboards import auth
from dashboards import components as c
from dashboards.deep_links import int_arg
from dashboards.i18n import page_language
from dashboards.pacing import pace, paced_interval
from dashboards.security.grid import RAW_ROLES, events_grid, grid_rows
from dashboards.security.scope import AlertScope, scope_of
from ioc.config import Settings
from ioc.feeds.security import queries as q
from ioc.i18n import Translator

PREFIX = "/security/"
t = Translator("security")
GRID_ROWS = 500


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], lang: str, cls: str) -> html.Table:
    head = html.Tr([html.Th(t(label, lang)) for _, label in columns])
    body = [html.Tr([html.Td("" if r.get(k) is None else str(r[k])) for k, _ in columns]) for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className=cls)


def content(pool: Any, settings: Settings, lang: str, now: datetime) -> list[Any]:
    """Everything below the header, read from the store now."""
    s = q.summary(pool, now)
    tz = ZoneInfo(settings.timezone)  # the chart in the city's time, like every page
    minutes = q.per_minute(pool, now - timedelta(hours=2))
    fig = go.Figure()
    for category in sorted({m["category"] for m in minutes}):
        pts = [m for m in minutes if m["category"] == category]
        fig.add_bar(x=[p["bucket"].astimezone(tz) for p in pts], y=[p["events"] for p in pts],
                    # a parser's category word ("authentication") in the language; an IDS's own
                    # category (EVE ``alert.category``, a fail2ban jail) is outside text
                    name=c.plot_text(t(category, lang), 60))
    fig.update_layout(barmode="stack", height=260, margin={"l": 40, "r": 10, "t": 30, "b": 30},
                      title=t("Events per minute by category", lang), template="plotly_dark",
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      # two hours: the time of day is enough, and plotly's own dates speak English
                      xaxis={"tickformat": "%H:%M"})
    tiles = [(t("Events in the last hour", lang), s["events"]),
             (t("Failures in the last hour", lang), s["failures"]),
             (t("Open security alerts", lang), s["open_alerts"])]
    return [
        html.Div(t("SIMULATED: addresses from documentation ranges, not real attacks", lang),
                 className="simulated-banner") if s["simulated"] else None,
        html.Div([html.Div([html.Div(label, className="tile-label"),
                            html.Div(str(value), className="tile-value")], className="tile")
                  for label, value in tiles], className="tiles", id="security-tiles"),
        dcc.Graph(figure=fig, config={"displayModeBar": False}),
        html.Div([
            html.Div([html.H3(t("Top sources (24 h)", lang)),
                      _table(q.top_sources(pool, now - timedelta(days=1)),
                             [("src_ip", "Source"), ("failures", "Failures"), ("events", "Events")], lang,
                             "sec-table")]),
            html.Div([html.H3(t("Targeted accounts (24 h)", lang)),
                      _table(q.targeted_accounts(pool, now - timedelta(days=1)),
                             [("username", "Account"), ("failures", "Failures"), ("sources", "Sources")],
                             lang, "sec-table")]),
        ], className="sec-columns"),
    ]


def _may_read_raw() -> bool:
    who = auth.principal()
    return who is not None and who.role in RAW_ROLES


def alert_scope(service: AlertService, settings: Settings, alert_id: int | None,
                lang: str) -> AlertScope | None:
    """The scope of ``?alert=<id>``: ``None`` without one, or when it is no security alert."""
    if alert_id is None:
        return None
    try:
        alert = service.get(alert_id)
    except AlertNotFound:
        return None
    return scope_of(alert, getattr(settings.rules, "security", None), lang)


def events(pool: Any, settings: Settings, scope: AlertScope | None, lang: str) -> list[dict[str, Any]]:
    """The grid's rows: the latest events, or the alert's."""
    found = q.latest(pool, GRID_ROWS, **(scope.query() if scope else {}))
    return grid_rows(found, lang, settings.timezone, _may_read_raw())


def grid_head(scope: AlertScope | None, alert_id: int | None, lang: str) -> list[Any]:
    """The grid's title: the alert whose events it holds (and a way back to all of them)."""
    if scope is not None:
        return [html.H3(t("Events of alert #{id}: {title}", lang, id=scope.alert_id, title=scope.title),
                        id="security-scope"),
                html.A(t("Show all events", lang), href=PREFIX, className="scope-clear")]
    if alert_id is not None:
        return [html.H3(t("Latest events", lang)),
                html.Div(t("Alert #{id} is not a security alert: showing the latest events", lang,
                           id=alert_id), className="scope-missing", id="security-scope")]
    return [html.H3(t("Latest events", lang))]


def create_security_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """Mount ``/security/`` on the wall's server."""
    app = c.page_app(server, PREFIX, "Security", "feed-page.css", settings=settings)
    service = AlertService(pool)

    def layout() -> html.Div:
        lang = page_language(settings)
        return html.Div([
            html.Header([html.A("←", href="/", className="back"), html.H1(t("Network security", lang)),
                         html.Span(settings.city, className="city")], className="sec-header"),
            html.Div(content(pool, settings, lang, datetime.now(UTC)), id="security-body"),
            html.Section([html.Div(grid_head(None, None, lang), className="sec-grid-head",
                                   id="security-grid-head"),
                          events_grid(lang, _may_read_raw(), [])], className="sec-events"),
            dcc.Location(id="security-url", refresh=False),
            *paced_interval("security-refresh", settings.web.refresh_ms * 2),
            dcc.Store(id="security-lang", data=lang),
        ], className="security-page", lang=lang)

    app.layout = layout

    pace(app, "security-refresh")

    @app.callback(Output("security-body", "children"), Input("security-refresh", "n_intervals"),
                  Input("security-lang", "data"))
    def refresh(_: int | None, lang: str) -> list[Any]:
        return content(pool, settings, lang or page_language(settings), datetime.now(UTC))

    @app.callback(Output("security-grid", "rowData"), Output("security-grid-head", "children"),
                  Input("security-refresh", "n_intervals"), Input("security-lang", "data"),
                  Input("security-url", "search"))
    def refresh_grid(_: int | None, lang: str, search: str | None) -> tuple[list[dict[str, Any]], list[Any]]:
        """New rows only: the grid stays, so the filters the officer set stay too."""
        lang = lang or page_language(settings)
        alert_id = int_arg(search, "alert")
        scope = alert_scope(service, settings, alert_id, lang)
        return events(pool, settings, scope, lang), grid_head(scope, alert_id, lang)

    return app
