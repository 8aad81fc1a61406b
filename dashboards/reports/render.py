"""A report as one self-contained HTML page (charts inline as SVG), in Vietnamese or English."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from alerts import lifecycle as lc
from dashboards.feed_titles import rule_title
from dashboards.reports.charts import bar_chart, stacked_severity_chart
from dashboards.reports.figures import ReportFigures
from ioc.i18n import Translator, format_number, format_time, render

t = Translator("reports")
_ENV = Environment(loader=PackageLoader("dashboards.reports", "templates"),
                   autoescape=select_autoescape(["html"]))

KIND_TITLES = {
    "shift": "Shift handover report",
    "daily": "Daily incident report",
    "weekly": "Weekly incident report",
    "incident": "Incident report",
}


def duration(value: timedelta | None, lang: str) -> str:
    """``12 min`` / ``1.5 h`` in the locale's numbers; a dash when nothing was measured."""
    if value is None:
        return "–"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return t("{n} min", lang, n=format_number(minutes, lang, 1))
    return t("{n} h", lang, n=format_number(minutes / 60, lang, 1))


def render_html(kind: str, figures: ReportFigures, lang: str, tz: str, city: str,
                simulated: bool = False, media: dict[int, Any] | None = None) -> str:
    """The report page for ``figures``: what a manager reads, top to bottom (``media``: incident id
    -> its track map and key frames, :mod:`dashboards.reports.media`)."""
    def tr(message: str, **params: Any) -> str:
        return t(message, lang, **params)

    def when(value: Any) -> str:
        return format_time(value, lang, tz, "short") if value is not None else "–"

    by_rule: dict[str, dict[str, int]] = {}  # the rules by their names in this language
    for detector, counts in figures.by_detector.items():
        named = by_rule.setdefault(rule_title(detector, lang), {})
        for severity, n in counts.items():
            named[severity] = named.get(severity, 0) + n
    charts = {
        "by_detector": Markup(stacked_severity_chart(by_rule, tr("Alerts by rule and severity"))),
        "by_area": Markup(stacked_severity_chart(figures.by_area, tr("Alerts by area and severity"))),
        "hourly": Markup(bar_chart([(when(h), n) for h, n in figures.hourly], tr("Alerts raised per hour"))),
    }
    return _ENV.get_template("report.html").render(
        lang=lang, tr=tr, when=when, dur=lambda v: duration(v, lang), f=figures, charts=charts,
        pct=lambda v: f"{format_number(100 * v, lang, 1)}%",  # as CLDR writes it: 81,4%
        title=tr(KIND_TITLES[kind]), city=city, simulated=simulated, media=media or {},
        svg=Markup,
        # the timeline's words in the report's language, as the console's history says them
        action=lambda a: tr(lc.PAST.get(a, a)), state=tr,
        actor=lambda a: tr(a) if a == lc.SYSTEM else a,
        rule=lambda detector: rule_title(detector, lang),
        alert_title=lambda a: render("alerts", a.get("title_template"), a.get("title_params"), lang,
                                     a["title"]),  # an alert's title in the report's language
        period=f"{when(figures.start)} – {when(figures.end)}",
    )
