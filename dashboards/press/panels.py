"""The press page's stories and trends panels: the stories of the last two days (headline linked to
the first article, outlets, first seen in the city's time, articles, growth per hour as a sparkline),
the fastest growing first; the watched topics and places trending against their baseline, each with
its last two days per hour. Both narrowed to one department's (``[rules.press] departments``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html
from psycopg_pool import ConnectionPool

from dashboards.press.sparkline import ACCENT, WARN, sparkline
from ioc.config import Settings
from ioc.feeds.press.queries import StoryRow, Trend, stories, trends
from ioc.feeds.press.settings import PressRuleSettings
from ioc.i18n import Translator, format_number, format_time

t = Translator("press")
STORY_HOURS = 48  # stories of articles seen this long ago at most
GROWTH_HOURS = 12  # a story's sparkline
RECENT_HOURS = 3  # its growth: articles per hour over these last hours (what sorts the stories)
TREND_HOURS = 48
SHOWN = 10  # rows of each panel (a wall screen)


def rules(settings: Settings) -> PressRuleSettings:
    return settings.rules.press or PressRuleSettings()


def department_of(names: frozenset[str] | list[str], cfg: PressRuleSettings) -> set[str]:
    """The departments that answer for these watched names (the default one when none is named)."""
    found = {cfg.departments[n] for n in names if n in cfg.departments}
    return found or {cfg.default_department}


def _head(heads: tuple[str, ...], lang: str) -> html.Thead:
    return html.Thead(html.Tr([html.Th(t(h, lang)) for h in heads]))


def _headline(story: StoryRow) -> Any:
    if story.url.startswith(("http://", "https://")):
        return html.A(story.title, href=story.url, target="_blank", rel="noopener noreferrer")
    return story.title


def story_panel(found: list[StoryRow], settings: Settings, lang: str, department: str) -> html.Div:
    cfg = rules(settings)
    shown = [s for s in found if not department or department in department_of(s.watched, cfg)][:SHOWN]
    rows = [
        html.Tr([
            html.Td(_headline(s), className="headline"),
            html.Td([html.Span(str(len(s.outlets)), className="count"), " ", ", ".join(s.outlets)],
                    className="outlets"),
            html.Td(format_time(s.first_seen, lang, settings.timezone, "short")),
            html.Td(str(s.articles), className="num"),
            html.Td([sparkline(s.hourly, t("Articles per hour", lang), width=128, height=36,
                               color=WARN if s.recent_outlets >= cfg.spread_outlets else ACCENT),
                     html.Span(t("{rate}/h", lang, rate=format_number(s.recent / RECENT_HOURS, lang)),
                               className="rate")], className="growth"),
        ], className="story spreading" if s.recent_outlets >= cfg.spread_outlets else "story")
        for s in shown]
    heads = ("Story", "Outlets", "First seen", "Articles", "Growth (12 h)")
    body: list[Any] = [html.Table([_head(heads, lang), html.Tbody(rows)], id="press-stories",
                                  className="sec-table")]
    if not rows:
        body.append(html.P(t("No story carried by several articles in the last 48 hours", lang),
                           className="empty"))
    return html.Div([html.H3(t("Stories (48 hours)", lang)), *body], className="press-panel")


def _name(x: Trend, lang: str) -> str:
    return t(x.name, lang) if x.kind == "topic" else x.name


def trend_panel(found: list[Trend], settings: Settings, lang: str, department: str) -> html.Div:
    cfg = rules(settings)
    shown = [x for x in found if not department or department in department_of([x.name], cfg)][:SHOWN]
    rows = [
        html.Tr([
            html.Td(_name(x, lang), className="name"),
            html.Td(t(x.kind, lang), className="kind"),
            html.Td(str(x.count), className="num"),
            html.Td(format_number(x.baseline, lang), className="num"),
            html.Td(sparkline(x.hourly, t("Articles per hour", lang), width=200, height=36,
                              color=WARN if x.z >= cfg.burst_z else ACCENT), className="spark"),
        ], className="trend rising" if x.z >= cfg.burst_z else "trend")
        for x in shown]
    body: list[Any] = [html.Table([_head(("Topic or place", "Kind", "Last hour", "Baseline per hour",
                                          "48 hours"), lang), html.Tbody(rows)],
                                  id="press-trends", className="sec-table")]
    if not rows:
        body.append(html.P(t("No topic or place mentioned in the last 48 hours", lang), className="empty"))
    return html.Div([html.H3(t("Trending topics and places", lang)), *body], className="press-panel")


def panels(pool: ConnectionPool, settings: Settings, lang: str, department: str,
           now: datetime) -> tuple[html.Div, bool]:
    """The two panels side by side, and whether a story shown is SIMULATED."""
    cfg = rules(settings)
    found = stories(pool, now, threshold=cfg.story_similarity, window_hours=STORY_HOURS,
                    growth_hours=GROWTH_HOURS, recent_hours=RECENT_HOURS, limit=40)
    top = trends(pool, now, hours=TREND_HOURS, baseline_hours=min(cfg.baseline_hours, TREND_HOURS - 1),
                 limit=40)
    story = story_panel(found, settings, lang, department)
    trend = trend_panel(top, settings, lang, department)
    return html.Div([story, trend], className="press-panels"), any(s.simulated for s in found)
