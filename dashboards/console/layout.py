"""The duty console's layout: tiles, filters, the grid, the detail panel, the action bar."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import dash_ag_grid as dag
import psycopg
from dash import dcc, html

from alerts import lifecycle as lc
from alerts.links import FEEDS
from alerts.people import Principal
from dashboards import auth
from dashboards import components as c
from dashboards.console.grid import GRID_THEME, ROW_CLASS_RULES, columns
from dashboards.console.view import (
    ACTIVE,
    BUTTONS,
    HELP,
    SILENCE_CHOICES,
    STATE_LABELS,
    TIME_WINDOWS,
    ConsoleView,
)
from dashboards.i18n import clock_texts, dropdown_labels, page_language, t
from dashboards.pacing import paced_interval

log = logging.getLogger(__name__)


def _tile(tile_id: str, label: str) -> html.Div:
    return html.Div(
        [
            html.Div(label, className="ctile-label"),
            html.Div("—", className="ctile-value"),
            html.Div("", className="ctile-sub"),
        ],
        id=tile_id,
        className="ctile",
    )


def _tile_children(label: str, value: str, sub: str = "") -> list[Any]:
    return [
        html.Div(label, className="ctile-label"),
        html.Div(value, className="ctile-value"),
        html.Div(sub, className="ctile-sub"),
    ]


def layout(view: ConsoleView) -> html.Div:
    """The console; built on each page load for the logged-in user (the same components for everyone)."""
    who: Principal | None = auth.principal()
    role = who.role if who else "viewer"
    may_change = lc.can_change_alerts(role)
    lang = page_language(view.settings)
    try:
        areas = view.service.areas()
        assignable = view.people.assignable()
        last_notice = max((n["id"] for n in view.service.console_notices(limit=1)), default=0)
    except psycopg.Error as exc:
        log.warning("console: store unavailable while building the page: %s", exc)
        areas, assignable, last_notice = [], [], 0
    csrf = who.csrf_token if who else ""
    user_box = html.Div(
        [
            html.Span(who.shown if who else t("not logged in", lang), className="who-name", id="who-name"),
            html.Span(t(lc.label(role), lang), className=f"who-role role-{role}", id="who-role"),
            html.Form(
                [
                    dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=csrf),
                    html.Button(t("Log out", lang), type="submit", className="btn-quiet", id="logout"),
                ],
                method="post",
                action="/logout",
                className="logout-form",
            ),
        ],
        className="who",
    )
    readonly = (
        None
        if may_change
        else html.Div(
            t("Read-only: as {role} you can watch; only duty officers and above change alerts.", lang,
              role=t(lc.label(role), lang)),
            className="readonly-note",
            id="readonly-note",
        )
    )
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [
                            html.Div(view.settings.city, className="city"),
                            html.Div(t("Duty console", lang), className="page-title"),
                            html.A(t("Wall ↗", lang), href="/", className="wall-link",
                                   title=t("the wall of live data", lang)),
                        ],
                        className="brand",
                    ),
                    html.Div(id="notice-banner", className="notice-banner"),
                    html.Div(
                        [
                            html.Div(
                                view.formats().time(datetime.now(view.tz)),
                                id="console-clock",
                                className="clock",
                            ),
                            user_box,
                        ],
                        className="head-right",
                    ),
                ],
                className="console-header",
            ),
            html.Section(
                [
                    _tile("fig-critical", t("Critical open", lang)),
                    _tile("fig-warning", t("Warning open", lang)),
                    _tile("fig-info", t("Info open", lang)),
                    _tile("fig-unacked", t("Waiting for ack", lang)),
                    _tile("fig-mtta", t("Mean ack time", lang)),
                    _tile("fig-mttr", t("Mean resolve time", lang)),
                    _tile("fig-notify", t("Notifications", lang)),
                    _tile("fig-silences", t("Silences", lang)),
                ],
                className="figures",
                id="figures",
            ),
            html.Section(
                [
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id="f-feed",
                        options=[{"label": t(f.capitalize(), lang), "value": f} for f in FEEDS],
                        multi=True,
                        placeholder=t("Every feed", lang),
                        className="filter filter-feed",
                    ),
                    dcc.Checklist(
                        id="f-severity",
                        options=[
                            {"label": t(s.capitalize(), lang), "value": s}
                            for s in ("critical", "warning", "info")
                        ],
                        value=["critical", "warning", "info"],
                        inline=True,
                        className="filter filter-sev",
                        inputClassName="chk",
                    ),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id="f-state",
                        options=[
                            {"label": t(STATE_LABELS[s].capitalize(), lang), "value": s}
                            for s in [*ACTIVE, "resolved"]
                        ],
                        value=list(ACTIVE),
                        multi=True,
                        placeholder=t("Every state", lang),
                        className="filter filter-state",
                    ),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id="f-area",
                        options=[{"label": a, "value": a} for a in areas],
                        multi=True,
                        placeholder=t("Every area", lang),
                        className="filter filter-area",
                    ),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id="f-time",
                        options=[{"label": t("last {span}", lang, span=k), "value": k} for k in TIME_WINDOWS],
                        value="24h",
                        clearable=False,
                        className="filter filter-time",
                    ),
                    dcc.Checklist(
                        id="f-group",
                        options=[{"label": t("Group into incidents", lang), "value": "group"}],
                        value=["group"],
                        className="filter filter-group",
                        inputClassName="chk",
                    ),
                ],
                className="filters",
                id="filters",
            ),
            html.Main(
                [
                    html.Section(
                        [
                            dag.AgGrid(
                                id="alert-grid",
                                columnDefs=columns(lang),
                                rowData=[],
                                getRowId="params.data.id",
                                columnSize="responsiveSizeToFit",
                                defaultColDef={
                                    "sortable": True,
                                    "resizable": True,
                                    "suppressHeaderMenuButton": True,
                                },
                                rowClassRules=ROW_CLASS_RULES,
                                dashGridOptions={
                                    "theme": {"function": GRID_THEME},
                                    "rowSelection": {
                                        "mode": "singleRow",
                                        "checkboxes": False,
                                        "enableClickSelection": True,
                                    },
                                    "animateRows": False,
                                    "suppressCellFocus": False,
                                    "tooltipShowDelay": 400,
                                    "localeText": {
                                        "noRowsToShow": t("Nothing here: all quiet for these filters", lang)
                                    },
                                },
                                style={"height": "100%", "width": "100%"},
                                className="alert-grid",
                            )
                        ],
                        className="grid-pane",
                    ),
                    html.Aside(
                        [
                            html.Div(
                                html.Div(t("Select an alert (click, or j / k).", lang),
                                         className="detail-empty"),
                                id="detail",
                                className="detail",
                            ),
                            html.Div(
                                [
                                    readonly,
                                    dcc.Textarea(
                                        id="note",
                                        placeholder=t("Note for the record (needed to resolve "
                                                      "or silence). n to write, Esc to leave.", lang),
                                        className="note",
                                        # no maxLength: the browser would cut a pasted note silently;
                                        # the service refuses one over alerts.lifecycle.MAX_NOTE_CHARS
                                        # and the console says why
                                        disabled=False,
                                    ),
                                    html.Div(
                                        [
                                            html.Label(t("Assign to", lang), htmlFor="assignee"),
                                            html.Label(t("Silence for", lang), htmlFor="silence-for"),
                                            html.Label(t("Silence what", lang), htmlFor="silence-scope"),
                                        ],
                                        className="action-labels",
                                    ),
                                    html.Div(
                                        [
                                            dcc.Dropdown(
                                                labels=dropdown_labels(lang),
                                                id="assignee",
                                                options=[
                                                    {
                                                        "label": f"{u.shown} ({t(lc.label(u.role), lang)})",
                                                        "value": u.name,
                                                    }
                                                    for u in assignable
                                                ],
                                                placeholder=t("Assign to…", lang),
                                                className="assignee",
                                                value=who.name if who and may_change else None,
                                            ),
                                            dcc.Dropdown(
                                                labels=dropdown_labels(lang),
                                                id="silence-for",
                                                options=[
                                                    {"label": t("silence {span}", lang, span=k), "value": k}
                                                    for k in SILENCE_CHOICES
                                                ],
                                                value="1h",
                                                clearable=False,
                                                className="silence-for",
                                            ),
                                            dcc.Dropdown(
                                                labels=dropdown_labels(lang),
                                                id="silence-scope",
                                                options=[
                                                    {"label": t("this alert", lang), "value": "alert"},
                                                    {"label": t("all from this source", lang),
                                                     "value": "source"},
                                                ],
                                                value="alert",
                                                clearable=False,
                                                className="silence-scope",
                                            ),
                                        ],
                                        className="action-options",
                                    ),
                                    html.Div(
                                        [
                                            html.Button(
                                                [t(label, lang), html.Kbd(key)],
                                                id=bid,
                                                className=f"btn {bid}",
                                                disabled=True,
                                                title=t("{action} (key {key})", lang, action=t(label, lang),
                                                        key=key),
                                            )
                                            for bid, (_, label, key) in BUTTONS.items()
                                        ]
                                        + [
                                            html.Button(
                                                [t("Ack incident", lang), html.Kbd("i")],
                                                id="btn-ack-incident",
                                                className="btn btn-ack-incident",
                                                disabled=True,
                                                title=t("acknowledge every unacknowledged alert of this "
                                                        "incident (key i)", lang),
                                            )
                                        ],
                                        className="actions",
                                    ),
                                    html.Div(
                                        "",
                                        id="action-message",
                                        className="action-message",
                                        role="status",
                                        **{"aria-live": "polite"},
                                    ),
                                ],
                                className="action-panel",
                            ),
                            html.Div(id="history", className="history"),
                        ],
                        className="detail-pane",
                    ),
                ],
                className="console-main",
            ),
            html.Footer(t(HELP, lang), className="help-line", id="help-line"),
            *paced_interval("console-tick", max(1000, view.settings.web.refresh_ms)),
            dcc.Store(id="selected", data=None),
            dcc.Store(id="action-done", data=0),
            dcc.Store(id="notice-seen", data=last_notice),
            dcc.Store(id="notices", data=None),
            dcc.Store(id="console-config", data=c.clock_config(view.settings.timezone, role=role,
                                                                 **clock_texts(lang))),
            dcc.Store(id="keys-sink"),
            dcc.Store(id="alarm-sink"),
        ],
        className="console",
        id="console",
    )
