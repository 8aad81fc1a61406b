"""``/reports/``: the archive of reports (HTML and PDF), and a report on one incident on demand."""

from __future__ import annotations

import html
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, redirect, request
from psycopg_pool import ConnectionPool

from alerts.lifecycle import can_change_alerts
from alerts.settings import alert_settings
from dashboards import auth
from dashboards import components as c
from dashboards.i18n import page_language
from dashboards.reports import archive
from dashboards.reports.making import make_claimed
from dashboards.reports.periods import Period, next_period_end
from dashboards.reports.render import KIND_TITLES, t
from dashboards.reports.settings import report_settings
from ioc.config import Settings
from ioc.i18n import format_time, language
from ioc.store.health import instance_id

PREFIX = "/reports"
STATE_WORDS = {"claimed": "being made", "done": "done", "failed": "failed"}  # a report row's state, as read
log = logging.getLogger(__name__)


def next_reports(settings: Settings, lang: str, now: datetime) -> str:
    """The line under the archive that says when the next scheduled reports are made (or that none
    are), so an empty archive reads as "not yet", not as "broken"."""
    cfg = report_settings(settings)
    if not cfg.enabled or not cfg.kinds:
        return t("Scheduled reports are off ([reports] enabled).", lang)
    shifts = alert_settings(settings).shift_starts
    due = sorted((at, kind) for kind in cfg.kinds
                 if (at := next_period_end(kind, now, settings.timezone, shifts, cfg.daily_at,
                                           cfg.weekly_on)) is not None)
    when = [f"{t(KIND_TITLES[kind], lang)} {format_time(at, lang, settings.timezone, 'short')}"
            for at, kind in due]
    return t("Next scheduled reports: {reports}", lang, reports="; ".join(when))


def _make_in_background(pool: ConnectionPool, report_id: int, *args: Any, **kwargs: Any) -> None:
    """:func:`make_claimed` on the page's maker thread; a failure is logged (and, where it can be,
    archived as the report's state), never lost in a future nobody reads."""
    try:
        make_claimed(pool, report_id, *args, **kwargs)
    except Exception:
        log.exception("incident report %d failed", report_id)


def register_reports_page(server: Flask, pool: ConnectionPool, settings: Settings) -> None:
    """Add the report routes to the pages' Flask server (the login guard covers them)."""
    cfg = report_settings(settings)
    makers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incident-report")

    @server.route(f"{PREFIX}/", endpoint="ioc_reports")
    def reports_list() -> Response:
        lang = page_language(settings)
        rows = []
        recent = archive.recent(pool)
        for r in recent:
            period = (f"{format_time(r.period_start, lang, settings.timezone, 'short')} – "
                      f"{format_time(r.period_end, lang, settings.timezone, 'short')}")
            links = (f'<a href="{PREFIX}/{r.id}.html">HTML</a>'
                     + (f' · <a href="{PREFIX}/{r.id}.pdf">PDF</a>' if r.has_pdf else ""))
            what = t(KIND_TITLES[r.kind], lang) + (f" #{r.incident_id}" if r.incident_id else "")
            rows.append(f"<tr><td>{html.escape(what)}</td><td>{html.escape(period)}</td>"
                        f"<td>{r.lang}</td><td>{html.escape(t(STATE_WORDS.get(r.state, r.state), lang))}</td>"
                        f"<td>{links if r.state == 'done' else ''}</td></tr>")
        guard = auth.Auth.of(server)
        token = html.escape(guard.csrf_token()) if guard is not None else ""
        if not rows:
            rows.append(f'<tr><td colspan="5">{html.escape(t("No report made yet.", lang))}</td></tr>')
        head = "".join(f"<th>{html.escape(t(h, lang))}</th>" for h in ("Report", "Period", "Language",
                                                                          "State", ""))
        # the console links here with ?incident=<id> (its "Report on this incident"): the form comes filled
        asked = request.args.get("incident", "")
        prefill = f' value="{int(asked)}" autofocus' if asked.isdigit() and 0 < len(asked) < 12 else ""
        simulated = (f'<p class="simulated"><b>{html.escape(t("SIMULATED", lang))}</b></p>'
                     if cfg.simulated else "")
        # a report being made: the list looks again every few seconds until it is there
        refresh = ('<meta http-equiv="refresh" content="5">' if any(r.state == "claimed" for r in recent)
                   else "")
        page = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{refresh}
<title>{html.escape(t("Reports", lang))} · {html.escape(settings.city)}</title>
{c.SHARED_TAGS}
<link rel="stylesheet" href="/console/assets/feed-page.css">
</head><body class="feed-page"><header class="reports-head"><a class="back" href="/">←</a>
<h1>{html.escape(t("Reports", lang))} · {html.escape(settings.city)}</h1></header>
{simulated}<form method="post" action="{PREFIX}/incident">
<input type="hidden" name="{auth.CSRF_FIELD}" value="{token}">
<label>{html.escape(t("Report on incident", lang))} #
<input name="incident" type="number" min="1" required{prefill}></label>
<input type="hidden" name="lang" value="{lang}">
<button type="submit">{html.escape(t("Make", lang))}</button></form>
<table id="reports"><tr>{head}</tr>{"".join(rows)}</table>
<p id="reports-next">{html.escape(next_reports(settings, lang, datetime.now(UTC)))}</p></body></html>"""
        return Response(page, mimetype="text/html")

    @server.route(f"{PREFIX}/<int:report_id>.<any(html, pdf):fmt>", endpoint="ioc_report_file")
    def report_file(report_id: int, fmt: str) -> Response:
        data = archive.body(pool, report_id, fmt)
        if data is None:
            return Response(t("No such report.", page_language(settings)), status=404, mimetype="text/plain")
        mime = {"html": "text/html", "pdf": "application/pdf"}[fmt]
        disposition = f'inline; filename="report-{report_id}.{fmt}"'
        return Response(data, mimetype=mime, headers={"Content-Disposition": disposition})

    @server.route(f"{PREFIX}/incident", methods=["POST"], endpoint="ioc_report_incident")
    def report_incident() -> Response:
        who = auth.principal()
        lang = language(request.form.get("lang"), page_language(settings))  # the form's, else the reader's
        if who is None or not can_change_alerts(who.role):
            return Response(t("Your role may not make reports.", lang), status=403, mimetype="text/plain")
        try:
            incident = int(request.form.get("incident", ""))
        except ValueError:
            return Response(t("Name an incident by its number.", lang), status=400, mimetype="text/plain")
        with pool.connection() as conn:
            row = conn.execute("SELECT first_at, last_at FROM incidents WHERE id = %s",
                               (incident,)).fetchone()
        if row is None:
            return Response(t("No such incident.", lang), status=404, mimetype="text/plain")
        start, end = row[0], max(row[1], row[0]) + timedelta(minutes=1)
        period = Period("incident", start, min(end, datetime.now(UTC) + timedelta(days=1)))
        # claimed here, so the list the officer is sent back to shows it "being made"; made (figures,
        # PDF by Chromium) off the request, one at a time
        report_id = archive.claim(pool, period.kind, period.start, period.end, lang, instance_id(), incident)
        if report_id is not None:
            makers.submit(_make_in_background, pool, report_id, period, lang, cfg, tz=settings.timezone,
                          city=settings.city, simulated=cfg.simulated, incident_id=incident,
                          keyframes_dir=settings.vision.keyframes_dir)
        return redirect(f"{PREFIX}/", code=303)
