"""Making one report: claim the period, gather the figures, render HTML (and PDF), archive, deliver."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from alerts.notify import enqueue
from dashboards.reports import archive
from dashboards.reports.figures import gather
from dashboards.reports.media import incident_media
from dashboards.reports.pdf import PdfError, html_to_pdf
from dashboards.reports.periods import Period, periods_between
from dashboards.reports.render import KIND_TITLES, render_html, t
from dashboards.reports.settings import ReportSettings
from ioc.i18n import format_time

log = logging.getLogger(__name__)


def make_report(pool: ConnectionPool, period: Period, lang: str, cfg: ReportSettings, *, tz: str,
                city: str, maker: str, simulated: bool = False, incident_id: int | None = None,
                keyframes_dir: Path | None = None, recipients: list[str] | None = None) -> int | None:
    """Make and archive one report; ``None`` when another maker already has this period.

    Maritime incidents get a track map, camera incidents their key frames (from ``keyframes_dir``);
    it is delivered to ``recipients`` (default: every configured one)."""
    report_id = archive.claim(pool, period.kind, period.start, period.end, lang, maker, incident_id)
    if report_id is None:
        return None
    make_claimed(pool, report_id, period, lang, cfg, tz=tz, city=city, simulated=simulated,
                 incident_id=incident_id, keyframes_dir=keyframes_dir, recipients=recipients)
    return report_id


def make_claimed(pool: ConnectionPool, report_id: int, period: Period, lang: str, cfg: ReportSettings, *,
                 tz: str, city: str, simulated: bool = False, incident_id: int | None = None,
                 keyframes_dir: Path | None = None, recipients: list[str] | None = None) -> None:
    """Make the report of a row already claimed (see :func:`make_report`)."""
    try:
        figures = gather(pool, period.start, period.end, cfg.top, incident_id=incident_id)
        media = incident_media(pool, figures.incidents, keyframes_dir, t("Vessel tracks", lang))
        html = render_html(period.kind, figures, lang, tz, city, simulated=simulated, media=media)
    except Exception as exc:  # the period stays claimable: the next run tries again
        archive.fail(pool, report_id, f"{type(exc).__name__}: {exc}")
        raise
    span = f"{format_time(period.start, lang, tz, 'short')} – {format_time(period.end, lang, tz, 'short')}"
    subject = f"{t(KIND_TITLES[period.kind], lang)} · {city} · {span}"
    pdf, error = None, None
    if cfg.pdf:
        try:
            pdf = html_to_pdf(html, cfg.chromium)
        except PdfError as exc:
            error = str(exc)
            log.warning("report %d: no PDF: %s", report_id, exc)
    archive.finish(pool, report_id, subject, html, pdf, error)
    to = cfg.recipients if recipients is None else recipients
    if to:
        _deliver(pool, report_id, subject, figures.raised, cfg, to, lang)
    log.info("report %d made: %s", report_id, subject)


def _deliver(pool: ConnectionPool, report_id: int, subject: str, raised: int, cfg: ReportSettings,
             recipients: list[str], lang: str) -> None:
    """Queue the report for its recipients in the notification outbox (the sender retries), its
    message in the report's language (the recipients' own)."""
    link = f"{cfg.base_url.rstrip('/')}/reports/{report_id}.pdf" if cfg.base_url else \
        t("Report {id}: open it on the Reports page.", lang, id=report_id)
    payload: dict[str, Any] = {"message": f"{subject}\n{link}", "report_id": report_id, "raised": raised,
                               "language": lang}
    with pool.connection() as conn, conn.transaction():
        for recipient in recipients:
            enqueue(conn, alert_id=None, channels=cfg.channels, recipient=recipient, reason="report",
                    subject=subject, payload=payload, now=datetime.now(UTC))


def recipient_languages(pool: ConnectionPool, cfg: ReportSettings, users: Mapping[str, str | None]
                        ) -> dict[str, str]:
    """Each recipient's language: its console user's (``users``: recipient -> user name, from
    ``[alerts.recipients]``; ``users.language``), else the first of ``[reports] languages``."""
    names = [u for r in cfg.recipients if (u := users.get(r))]
    with pool.connection() as conn:
        chosen = dict(conn.execute("SELECT name, language FROM users WHERE name = ANY(%s) "
                                   "AND language IS NOT NULL", (names,)).fetchall()) if names else {}
    default = cfg.languages[0] if cfg.languages else "vi"
    return {r: chosen.get(users.get(r) or "", default) for r in cfg.recipients}


def run_due(pool: ConnectionPool, cfg: ReportSettings, *, tz: str, city: str, shift_starts: list[str],
            maker: str, now: datetime | None = None, simulated: bool = False,
            keyframes_dir: Path | None = None, recipient_users: Mapping[str, str | None] | None = None
            ) -> list[int]:
    """Make every report whose period ended within ``catch_up_days`` (and since the system first
    ran) and is not made yet: in each of ``[reports] languages`` and each recipient's language, each
    recipient getting the one in theirs."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=cfg.catch_up_days)
    with pool.connection() as conn:  # periods before the system first ran have nothing to report
        first = conn.execute("SELECT min(started_at) FROM role_health").fetchone()
    if first is not None and first[0] is not None:
        since = max(since, first[0])
    made: list[int] = []
    langs_of = recipient_languages(pool, cfg, recipient_users or {})
    languages = list(dict.fromkeys([*cfg.languages, *langs_of.values()]))
    for kind in cfg.kinds:
        for lang in languages:
            done = archive.made_periods(pool, kind, lang, since - timedelta(days=8))
            for period in periods_between(kind, since, now, tz, shift_starts, cfg.daily_at, cfg.weekly_on):
                if period.start in done:
                    continue
                try:
                    report_id = make_report(pool, period, lang, cfg, tz=tz, city=city, maker=maker,
                                            simulated=simulated, keyframes_dir=keyframes_dir,
                                            recipients=[r for r, x in langs_of.items() if x == lang])
                except Exception:
                    log.exception("report %s %s (%s) failed", kind, period.start, lang)
                    continue
                if report_id is not None:
                    made.append(report_id)
    return made
