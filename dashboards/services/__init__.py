"""``/services/``: the public administrative services page (one-stop-shop dossiers).

On-time rate by department (worst first), overdue dossiers with their age, the online share by level,
the monthly trend and the manager's tiles, all from the feed's rollups (ioc.feeds.services.queries).
Texts come from the ``services`` catalogue in the screen's language; SIMULATED data says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update
from flask import Flask

from dashboards import components as c
from dashboards.formats import Formats
from dashboards.i18n import page_language
from dashboards.pacing import pace, paced_interval
from dashboards.signatures import signature
from ioc.config import Settings
from ioc.feeds.services import queries as q
from ioc.feeds.services.settings import ServicesRuleSettings
from ioc.i18n import Translator

PREFIX = "/services/"
DEPARTMENT_LABEL = 36  # characters of a department's name beside its bar (the chart's 260 px margin)
t = Translator("services")
LEVELS = {"online_4": "Online, level 4", "online_3": "Online, level 3", "in_person": "In person"}




def _age(age: timedelta, lang: str) -> str:
    days, hours = age.days, age.seconds // 3600
    return t("{days} d {hours} h", lang, days=days, hours=hours)


def content(pool: Any, settings: Settings, lang: str, now: datetime) -> list[Any]:
    """Everything below the header, read from the store now."""
    f = Formats.of(settings, lang)
    local_today: date = f.local(now).date()
    month_start = local_today.replace(day=1)
    k = q.tiles(pool, now)
    ranked = q.department_on_time(pool, local_today - timedelta(days=30))
    late = q.overdue(pool, now)
    share = q.level_share(pool, month_start)
    trend = q.monthly_trend(pool, (month_start - timedelta(days=335)).replace(day=1))
    total = sum(s["received"] for s in share) or 1
    tiles = [
        (t("Open dossiers", lang), f.number(k["open"])),
        (t("Overdue now", lang), f.number(k["overdue"])),
        (t("On time this month", lang), f.percent(k["on_time_month"])),
        (t("Received today", lang), f.number(k["received_today"])),
    ]
    rules = getattr(settings.rules, "services", None) or ServicesRuleSettings()
    for r in ranked:  # each department against its own target ([rules.services] department_targets)
        r["target"] = rules.department_targets.get(r["department"], rules.on_time_target)
    labels = [c.plot_text(r["department"], DEPARTMENT_LABEL) for r in ranked]  # names from the CSV
    bars = go.Figure(
        go.Bar(
            x=[100 * r["rate"] for r in ranked],
            y=labels,
            orientation="h",
            name=t("On time", lang),
            customdata=[f.percent(r["rate"]) for r in ranked],
            hovertemplate="%{y}: %{customdata}<extra></extra>",
            marker_color=["#e5534b" if r["rate"] < r["target"] else "#57ab5a" for r in ranked],
        )
    )
    bars.add_scatter(
        x=[100 * r["target"] for r in ranked], y=labels, mode="markers",
        name=t("Target", lang),
        marker={"symbol": "line-ns", "size": 18, "line": {"width": 3, "color": "#ffb020"}},
    )
    bars.update_layout(
        height=max(260, 22 * len(ranked)),
        margin={"l": 260, "r": 10, "t": 30, "b": 30},
        title=t("On-time rate by department, last 30 days (%)", lang),
        template="plotly_dark",
        yaxis={"autorange": "reversed"},
        showlegend=False,
    )
    target_rows = [
        html.Tr(
            [
                html.Td(r["department"]),
                html.Td(f.number(r["finished"])),
                html.Td(f.percent(r["rate"])),
                html.Td(f.percent(r["target"])),
                html.Td(t("{n} pt", lang, n=f.fixed(100 * (r["rate"] - r["target"]), 1))),
            ],
            className="svc-below" if r["rate"] < r["target"] else "svc-met",
        )
        for r in ranked
    ]
    target_head = html.Tr(
        [html.Th(t(x, lang)) for x in ("Department", "Finished", "On time", "Target", "Against target")]
    )
    months = [r["month"] for r in trend]
    month_names = [f.month(m) for m in months]
    line = go.Figure()
    for key, name in (("received", t("Received", lang)), ("on_time", t("On time", lang))):
        line.add_scatter(x=months, y=[r[key] for r in trend], name=name,
                         customdata=[[m, f.number(r[key])] for m, r in zip(month_names, trend, strict=True)],
                         hovertemplate="%{customdata[0]}: %{customdata[1]}<extra>" + name + "</extra>")
    line.update_layout(
        height=260,
        margin={"l": 50, "r": 10, "t": 30, "b": 30},
        template="plotly_dark",
        title=t("Dossiers per month", lang),
        # the months named in the screen's language (plotly's own date labels are English)
        xaxis={"tickmode": "array", "tickvals": months, "ticktext": month_names},
        separators=f.plotly_separators,
    )
    overdue_rows = [
        html.Tr(
            [
                html.Td(r["dossier_id"]),
                html.Td(r["department"]),
                html.Td(f"{r['procedure_code']} {r['procedure_name']}"),
                html.Td(f.datetime(r["due"])),
                html.Td(_age(r["age"], lang), className="svc-age"),
            ]
        )
        for r in late
    ]
    head = html.Tr([html.Th(t(x, lang)) for x in ("Dossier", "Department", "Procedure", "Due", "Overdue by")])
    return [
        html.Div(
            t("SIMULATED: dossiers generated for the demonstration, not real citizens' files", lang),
            className="simulated-banner",
            id="services-simulated",
        )
        if k["simulated"]
        else None,
        html.Div(
            [
                html.Div(
                    [html.Div(label, className="tile-label"), html.Div(value, className="tile-value")],
                    className="tile",
                )
                for label, value in tiles
            ],
            className="tiles",
            id="services-tiles",
        ),
        html.Div(
            [
                html.Div(dcc.Graph(figure=bars, config={"displayModeBar": False}), className="svc-ranked"),
                html.Div(
                    [
                        html.H3(t("Online share by level, this month", lang)),
                        html.Ul(
                            [
                                html.Li(
                                    f"{t(LEVELS.get(s['level'], s['level']), lang)}: "
                                    f"{f.percent(s['received'] / total)}"
                                )
                                for s in share
                            ],
                            id="services-levels",
                        ),
                    ]
                ),
            ],
            className="sec-columns",
        ),
        html.H3(t("On-time rate against each department's target, last 30 days", lang)),
        html.Table(
            [html.Thead(target_head), html.Tbody(target_rows)], className="sec-table", id="services-targets"
        ),
        dcc.Graph(figure=line, config={"displayModeBar": False}),
        html.H3(t("Overdue dossiers", lang)),
        html.Table(
            [html.Thead(head), html.Tbody(overdue_rows)], className="sec-table", id="services-overdue"
        ),
    ]


def create_services_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """Mount ``/services/`` on the wall's server."""
    app = c.page_app(server, PREFIX, "Public services", "feed-page.css", settings=settings)  # shared theme

    def layout() -> html.Div:
        lang = page_language(settings)
        return html.Div(
            [
                html.Header(
                    [
                        html.A("←", href="/", className="back"),
                        html.H1(t("Public administrative services", lang)),
                        html.Span(settings.city, className="city"),
                    ],
                    className="sec-header",
                ),
                html.Div(body := content(pool, settings, lang, datetime.now(UTC)), id="services-body"),
                dcc.Store(id="services-sent", data=signature(body)),  # the digest of the body shown
                *paced_interval("services-refresh", settings.web.refresh_ms * 4),
                dcc.Store(id="services-lang", data=lang),
            ],
            className="security-page",
            lang=lang,
        )

    app.layout = layout

    pace(app, "services-refresh")

    @app.callback(
        Output("services-body", "children"),
        Output("services-sent", "data"),
        Input("services-refresh", "n_intervals"),
        Input("services-lang", "data"),
        State("services-sent", "data"),
    )
    def refresh(_: int | None, lang: str, sent: str | None) -> tuple[Any, Any]:
        """The body again only when it changed: redrawn, its chart went blank a moment every 8 s."""
        body = content(pool, settings, lang or page_language(settings), datetime.now(UTC))
        digest = signature(body)
        return (no_update, no_update) if digest == sent else (body, digest)

    return app
