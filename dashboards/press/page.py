"""``/press/``: the press alerts (stories spreading, bursts, negative coverage) filtered by department,
the stories of the last two days with their outlets and growth and the trending watched topics and
places with sparklines (:mod:`dashboards.press.panels`), the latest matched articles (outlet, time,
tone, places, topics, named entities, the watched terms highlighted, links to the original) and tone
by outlet. A Dash page: the body is read from the store
again every ``web.refresh_ms`` × 2 and replaced in place when it changed, so new articles appear
without a reload and an unchanged body costs the screen nothing.
Every text from an article reaches the browser as a text node (React escapes it): nothing of a
feed is ever active on the page. SIMULATED when the articles are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update
from flask import Flask, has_request_context, request
from psycopg_pool import ConnectionPool

from dashboards import components as c
from dashboards.i18n import page_language
from dashboards.pacing import pace, paced_interval
from dashboards.press.panels import panels
from dashboards.signatures import signature
from ioc.config import Settings
from ioc.i18n import Translator, format_time, render

PREFIX = "/press/"
t = Translator("press")
ENTITY_KINDS = {"PER": "person", "LOC": "place", "ORG": "organisation"}


def watch_terms(settings: Settings) -> dict[str, list[str]]:
    """Entry name -> its terms, from every press feed's watch lists (what a match can be highlighted by)."""
    terms: dict[str, list[str]] = {}
    for feed in settings.feeds:
        if feed.kind not in ("rss", "press-simulator"):
            continue
        for group in ("places", "agencies", "titles", "topics"):
            for entry in feed.options.get(group, []) or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    terms.setdefault(entry["name"], []).extend(
                        x for x in entry.get("terms", []) if isinstance(x, str))
    return terms


def highlight(text: str, terms: Iterable[str]) -> list[Any]:
    """``text`` as text nodes, every watched term in it (case-insensitive) in a ``<mark>``."""
    names = sorted({x for x in terms if x}, key=len, reverse=True)
    if not names:
        return [text]
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    out: list[Any] = []
    last = 0
    for m in pattern.finditer(text):
        out += [text[last:m.start()], html.Mark(m.group(0))]
        last = m.end()
    return [*out, text[last:]]


def _articles(pool: ConnectionPool) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT time, outlet, url, title, tone, places, agencies, topics, simulated, entities "
            "FROM press_articles ORDER BY time DESC LIMIT 100").fetchall()


def _alerts(pool: ConnectionPool, department: str) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT last_seen, rule, severity, title, details, title_template, title_params FROM alerts "
            "WHERE detector = 'press' "
            "AND (%s = '' OR details->>'department' = %s) ORDER BY last_seen DESC LIMIT 50",
            (department, department)).fetchall()


def _tone_by_outlet(pool: ConnectionPool) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT outlet, count(*) FILTER (WHERE tone = 'negative'),"
            " count(*) FILTER (WHERE tone = 'neutral'), count(*) FILTER (WHERE tone = 'positive')"
            " FROM press_articles "
            "WHERE time > now() - interval '7 days' GROUP BY outlet ORDER BY outlet").fetchall()


def departments(settings: Settings) -> list[str]:
    """The departments press alerts are routed to, from ``[rules.press]``."""
    cfg = settings.rules.press
    if cfg is None:
        return []
    return sorted({*cfg.departments.values(), cfg.default_department})


def _entity(value: str, lang: str) -> html.Span:
    kind, _, name = value.partition(":")
    return html.Span(name or kind, className=f"entity entity-{kind.lower()}",
                     title=t(ENTITY_KINDS.get(kind, kind), lang))


def _table(table_id: str, heads: Iterable[str], rows: list[Any], lang: str) -> html.Table:
    return html.Table([html.Thead(html.Tr([html.Th(t(h, lang)) for h in heads])), html.Tbody(rows)],
                      id=table_id, className="sec-table")


def content(pool: ConnectionPool, settings: Settings, lang: str, department: str) -> list[Any]:
    """Everything below the header, read from the store now."""
    tz = settings.timezone
    articles = [a for a in _articles(pool) if a[2].startswith(("http://", "https://"))]
    terms = watch_terms(settings)
    article_rows = [
        html.Tr([
            html.Td(format_time(when, lang, tz, "short")),
            html.Td(outlet),
            html.Td(html.A(highlight(title, [n for x in (*places, *agencies, *topics)
                                             for n in (x, *terms.get(x, []))]),
                           href=url, target="_blank", rel="noopener noreferrer"), className="headline"),
            html.Td(t(tone, lang), className="tone"),
            html.Td(", ".join(places)),
            html.Td(", ".join(t(x, lang) for x in topics)),
            html.Td([_entity(e, lang) for e in entities], className="entities"),
        ], className=f"article tone-{tone}")
        for when, outlet, url, title, tone, places, agencies, topics, _, entities in articles]
    alert_rows = [
        html.Tr([html.Td(format_time(when, lang, tz, "short")), html.Td(t(rule, lang)),
                 html.Td(render("alerts", template, params, lang, title)),  # in the screen's language
                 html.Td(str(len(details["outlets"])) if details.get("outlets") else ""),
                 html.Td(str(details.get("department", "")))],
                className=f"alert {severity}")
        for when, rule, severity, title, details, template, params in _alerts(pool, department)]
    tone_rows = [html.Tr([html.Td(o), html.Td(str(n)), html.Td(str(z)), html.Td(str(p))])
                 for o, n, z, p in _tone_by_outlet(pool)]
    stories_and_trends, simulated_stories = panels(pool, settings, lang, department, datetime.now(UTC))
    simulated = simulated_stories or any(a[8] for a in articles)
    return [
        html.Div(f'{t("SIMULATED", lang)} · {t("outlets named SIM are not real", lang)}',
                 className="simulated-banner", id="simulated") if simulated else None,
        html.H3(t("Alerts", lang)),
        _table("press-alerts", ("Time", "Rule", "Story", "Outlets", "Department"), alert_rows, lang),
        stories_and_trends,
        html.H3(t("Articles", lang)),
        _table("press-articles", ("Time", "Outlet", "Title", "Tone", "Places", "Topics", "Named entities"),
               article_rows, lang),
        html.H3(t("Tone by outlet (7 days)", lang)),
        _table("press-tone", ("Outlet", "negative", "neutral", "positive"), tone_rows, lang),
    ]


def create_press_page(server: Flask, pool: ConnectionPool, settings: Settings) -> dash.Dash:
    """Mount ``/press/`` on the wall's server."""
    app = c.page_app(server, PREFIX, "Press", "feed-page.css", settings=settings)

    def layout() -> html.Div:
        lang = page_language(settings)
        department = request.args.get("department", "")[:128] if has_request_context() else ""
        return html.Div([
            html.Header([html.A("←", href="/", className="back"), html.H1(t("Local press", lang)),
                         html.Span(settings.city, className="city")], className="sec-header"),
            html.Div([html.Span(t("Department", lang)), dcc.RadioItems(
                id="press-department", inline=True, value=department,
                options=[{"label": t("All departments", lang), "value": ""},
                         *({"label": d, "value": d} for d in departments(settings))])],
                className="press-filter"),
            html.Div(body := content(pool, settings, lang, department), id="press-body"),
            dcc.Store(id="press-sent", data=signature(body)),  # the digest of the body this screen has
            *paced_interval("press-refresh", settings.web.refresh_ms * 2),
            dcc.Store(id="press-lang", data=lang),
        ], className="security-page press-page", lang=lang)

    app.layout = layout

    pace(app, "press-refresh")

    @app.callback(Output("press-body", "children"), Output("press-sent", "data"),
                  Input("press-refresh", "n_intervals"), Input("press-department", "value"),
                  Input("press-lang", "data"), State("press-sent", "data"))
    def refresh(_: int | None, department: str | None, lang: str | None, sent: str | None) -> tuple[Any, Any]:
        body = content(pool, settings, lang or page_language(settings), (department or "")[:128])
        digest = signature(body)
        return (no_update, no_update) if digest == sent else (body, digest)

    return app
