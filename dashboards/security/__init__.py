"""``/security/``: the security officer's page (events per minute, top sources and accounts, latest).

Texts come from the ``security`` catalogue in the screen's language; raw log lines are shown only
to analysts and admins. The page needs a session (the login guard covers ``/security``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from flask import Flask

from dashboards import auth
from dashboards import components as c
from dashboards.i18n import page_language
from ioc.config import Settings
from ioc.feeds.security import queries as q
from ioc.i18n import Translator, format_time

PREFIX = "/security/"
t = Translator("security")
RAW_ROLES = {"analyst", "admin"}


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
        fig.add_bar(x=[p["bucket"].astimezone(tz) for p in pts], y=[p["events"] for p in pts], name=category)
    fig.update_layout(barmode="stack", height=260, margin={"l": 40, "r": 10, "t": 30, "b": 30},
                      title=t("Events per minute by category", lang), template="plotly_dark",
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    who = auth.principal()
    latest = q.latest(pool)
    for row in latest:
        row["time"] = format_time(row["time"], lang, settings.timezone, "short")
        if who is None or who.role not in RAW_ROLES:
            row["raw"] = ""
    columns = [("time", "Time"), ("host", "Host"), ("log", "Log"), ("action", "Action"),
               ("outcome", "Outcome"), ("src_ip", "Source"), ("user", "Account"), ("signature", "Signature")]
    if who is not None and who.role in RAW_ROLES:
        columns.append(("raw", "Raw line"))
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
        html.H3(t("Latest events", lang)),
        _table(latest, columns, lang, "sec-table sec-latest"),
    ]


def create_security_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """Mount ``/security/`` on the wall's server."""
    app = c.page_app(server, PREFIX, f"Security · {settings.city}", "feed-page.css")

    def layout() -> html.Div:
        lang = page_language(settings)
        return html.Div([
            html.Header([html.A("←", href="/", className="back"), html.H1(t("Network security", lang)),
                         html.Span(settings.city, className="city")], className="sec-header"),
            html.Div(content(pool, settings, lang, datetime.now(UTC)), id="security-body"),
            dcc.Interval(id="security-refresh", interval=settings.web.refresh_ms * 2),
            dcc.Store(id="security-lang", data=lang),
        ], className="security-page", lang=lang)

    app.layout = layout

    @app.callback(Output("security-body", "children"), Input("security-refresh", "n_intervals"),
                  Input("security-lang", "data"))
    def refresh(_: int | None, lang: str) -> list[Any]:
        return content(pool, settings, lang or page_language(settings), datetime.now(UTC))

    return app
