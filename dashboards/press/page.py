"""``/press/``: recent matched articles (outlet, time, tone, places, topics, matched terms
highlighted, links to the original), the press alerts (stories spreading, bursts, negative
coverage) filtered by department, and tone by outlet. Server-rendered: every text from an
article is escaped, so nothing of a feed is ever active on the page. SIMULATED when it is."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask, Response, request
from psycopg_pool import ConnectionPool

from dashboards import components as c
from dashboards.i18n import page_language
from ioc.config import Settings
from ioc.i18n import format_time, gettext

PREFIX = "/press"


def t(message: str, lang: str, **params: Any) -> str:
    return gettext("press", message, lang, **params)


def highlight(text: str, terms: list[str]) -> str:
    """``text`` escaped, with every watched term (case-insensitive) in ``<mark>``."""
    escaped = html.escape(text)
    names = sorted({html.escape(x) for x in terms if x}, key=len, reverse=True)
    if not names:
        return escaped
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)


def _articles(pool: ConnectionPool) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT time, outlet, url, title, tone, places, agencies, topics, simulated FROM press_articles "
            "ORDER BY time DESC LIMIT 100").fetchall()


def _alerts(pool: ConnectionPool, department: str) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT last_seen, rule, severity, title, details FROM alerts WHERE detector = 'press' "
            "AND (%s = '' OR details->>'department' = %s) ORDER BY last_seen DESC LIMIT 50",
            (department, department)).fetchall()


def _tone_by_outlet(pool: ConnectionPool) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT outlet, count(*) FILTER (WHERE tone = 'negative'),"
            " count(*) FILTER (WHERE tone = 'neutral'), count(*) FILTER (WHERE tone = 'positive')"
            " FROM press_articles "
            "WHERE time > now() - interval '7 days' GROUP BY outlet ORDER BY outlet").fetchall()


def register_press_page(server: Flask, pool: ConnectionPool, settings: Settings) -> None:
    """Add ``/press/`` to the pages' Flask server (the login guard covers it)."""

    @server.route(f"{PREFIX}/", endpoint="ioc_press")
    def press_page() -> Response:
        lang = page_language(settings)
        department = request.args.get("department", "")[:128]
        articles = _articles(pool)
        tz = settings.timezone
        rows = "".join(
            f'<tr class="article tone-{tone}"><td>{html.escape(format_time(when, lang, tz, "short"))}</td>'
            f"<td>{html.escape(outlet)}</td>"
            f'<td><a href="{html.escape(url)}" rel="noopener noreferrer" target="_blank">'
            f"{highlight(title, [*places, *agencies, *topics])}</a></td>"
            f"<td>{html.escape(t(tone, lang))}</td><td>{html.escape(', '.join(places))}</td>"
            f"<td>{html.escape(', '.join(t(x, lang) for x in topics))}</td></tr>"
            for when, outlet, url, title, tone, places, agencies, topics, _ in articles
            if url.startswith(("http://", "https://")))
        alerts = "".join(
            f'<tr class="alert {html.escape(sev)}">'
            f'<td>{html.escape(format_time(when, lang, tz, "short"))}</td>'
            f"<td>{html.escape(t(rule, lang))}</td><td>{html.escape(title)}</td>"
            f"<td>{len(details.get('outlets', []))}</td>"
            f"<td>{html.escape(str(details.get('department', '')))}</td></tr>"
            for when, rule, sev, title, details in _alerts(pool, department))
        tones = "".join(f"<tr><td>{html.escape(o)}</td><td>{n}</td><td>{z}</td><td>{p}</td></tr>"
                        for o, n, z, p in _tone_by_outlet(pool))
        simulated = any(a[8] for a in articles)
        banner = (f'<p class="simulated" id="simulated"><b>{html.escape(t("SIMULATED", lang))}</b> · '
                  f'{html.escape(t("outlets named SIM are not real", lang))}</p>' if simulated else "")

        def head(*names: str) -> str:
            return "<tr>" + "".join(f"<th>{html.escape(t(n, lang))}</th>" for n in names) + "</tr>"

        title = t("Local press", lang)
        page = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(title)} · {html.escape(settings.city)}</title>
{c.SHARED_TAGS}
<link rel="stylesheet" href="/console/assets/feed-page.css">
</head><body class="feed-page"><h1>{html.escape(title)} · {html.escape(settings.city)}</h1>{banner}
<form method="get"><label>{html.escape(t("Department", lang))}
<input name="department" value="{html.escape(department)}"></label>
<input type="hidden" name="lang" value="{lang}"><button>{html.escape(t("Filter", lang))}</button></form>
<h2>{html.escape(t("Alerts", lang))}</h2>
<table id="press-alerts">{head("Time", "Rule", "Story", "Outlets", "Department")}{alerts}</table>
<h2>{html.escape(t("Articles", lang))}</h2>
<table id="press-articles">{head("Time", "Outlet", "Title", "Tone", "Places", "Topics")}{rows}</table>
<h2>{html.escape(t("Tone by outlet (7 days)", lang))}</h2>
<table id="press-tone">{head("Outlet", "negative", "neutral", "positive")}{tones}</table>
</body></html>"""
        return Response(page, mimetype="text/html")
