"""The duty officer's console: live incidents and alerts, actions with a note, history, shift figures.

A second Dash app on the wall's Flask server, under ``/console/`` (login
required, see :mod:`dashboards.auth`). One screen, dark like the wall:

- a header (city, who is logged in and as what, the clock, log out),
- the shift's figures (open by severity, waiting for acknowledgement, mean
  time to acknowledge and to resolve this shift, failed notifications,
  active silences),
- filters (feed, severity, state, area, time) and an AG Grid of incidents
  (the worst alert of each, with how many it groups) or of single alerts,
- the selected alert: what, where, since when, a link to the data that
  raised it, the actions (acknowledge, assign, resolve, silence, ...) with
  a note, the incident's other alerts, notifications and its audit history,
- a help line of keyboard shortcuts (j/k move, a acknowledge, r resolve ...).

Every action goes through :class:`alerts.service.AlertService` in the
logged-in user's name; the service checks the role and the alert's version,
so the page only greys out what the user may not do. A new critical alert
or escalation flashes the screen and chimes (the console channel).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_ag_grid as dag
import psycopg
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import Flask

from alerts import lifecycle as lc
from alerts.lifecycle import AlertError
from alerts.links import FEEDS
from alerts.models import Alert, AlertFilter
from alerts.people import People, Principal
from alerts.service import AlertService
from alerts.settings import AlertSettings
from alerts.transitions import actions_for
from dashboards import auth
from dashboards.components import SEVERITY_SHORT, fmt_age, severity_rank
from dashboards.http_security import origin
from ioc.config import Settings

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
PREFIX = "/console/"
ACTIVE = ["open", "reopened", "acknowledged", "assigned", "silenced"]
STATE_LABELS = {
    "open": "OPEN",
    "reopened": "REOPENED",
    "acknowledged": "ACK",
    "assigned": "ASSIGNED",
    "silenced": "SILENCED",
    "resolved": "RESOLVED",
}
TIME_WINDOWS = {
    "1h": timedelta(hours=1),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
SILENCE_CHOICES = {
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "8h": timedelta(hours=8),
}
BUTTONS: dict[str, tuple[str, str, str]] = {  # id -> (action, label, key)
    "btn-ack": ("acknowledge", "Acknowledge", "a"),
    "btn-assign": ("assign", "Assign", "g"),
    "btn-resolve": ("resolve", "Resolve", "r"),
    "btn-silence": ("silence", "Silence", "s"),
    "btn-unsilence": ("unsilence", "Unsilence", "u"),
    "btn-reopen": ("reopen", "Reopen", "o"),
    "btn-comment": ("comment", "Add note", "c"),
}
HELP = (
    "j / k  next / previous   ·   a acknowledge   ·   g assign   ·   r resolve   ·   s silence   ·   "
    "u unsilence   ·   o reopen   ·   c add note   ·   i acknowledge whole incident   ·   "
    "n write a note (Esc to leave it)   ·   / filters"
)


@dataclass(frozen=True)
class ConsoleView:
    """What the console's layout and callbacks share."""

    service: AlertService
    people: People
    settings: Settings
    alert_settings: AlertSettings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def station_name(self, source_id: str) -> str:
        station = self.settings.station(source_id)
        return station.name if station else source_id


# --------------------------------------------------------------------------- pure helpers


def local(t: datetime | None, tz: ZoneInfo, fmt: str = "%H:%M") -> str:
    """``t`` as local wall-clock time (``—`` for none)."""
    return "—" if t is None else t.astimezone(tz).strftime(fmt)


def fmt_duration(d: timedelta | None) -> str:
    """A mean time for the shift strip: ``—``, ``45 s``, ``3 min 20 s``, ``1 h 05``."""
    if d is None:
        return "—"
    s = int(round(d.total_seconds()))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d}"


FEED_LABELS = {
    "environment": "Environ.",
    "vessels": "Vessels",
    "cameras": "Cameras",
    "cybersecurity": "Cyber",
    "press": "Press",
    "reports": "Reports",
    "other": "Other",
}


def where(alert: Alert, view: ConsoleView) -> str:
    """The place of an alert as people say it: station name (or MMSI, camera) and area."""
    name = view.station_name(alert.source_id)
    if alert.feed == "vessels" and name.isdigit():
        name = f"MMSI {name}"
    if alert.area and alert.area.casefold() not in name.casefold():
        return f"{name} · {alert.area}"
    return name


def grid_rows(
    alerts: list[Alert], view: ConsoleView, now: datetime, by_incident: bool
) -> list[dict[str, Any]]:
    """Rows of the grid: one per alert, or one per incident (its most urgent alert, and its size)."""
    groups: dict[object, list[Alert]] = {}
    for a in alerts:
        key = ("i", a.incident_id) if by_incident and a.incident_id is not None else ("a", a.id)
        groups.setdefault(key, []).append(a)
    rows = []
    for members in groups.values():
        lead = members[0]  # the service orders active first, worst first, newest first
        others = len(members) - 1
        owner = lead.assignee or lead.acknowledged_by or ""
        active = lead.active
        age = max(timedelta(0), now - (lead.started_at if active else (lead.closed_at or lead.last_seen)))
        rows.append(
            {
                "id": str(lead.id),
                "version": lead.version,
                "severity": lead.severity,
                "sev": SEVERITY_SHORT.get(lead.severity, lead.severity.upper()),
                "state": lead.state,
                "stateLabel": STATE_LABELS.get(lead.state, lead.state.upper())
                + (f" · {owner}" if owner else ""),
                "title": lead.title + (f"   (+{others} related)" if others else ""),
                "where": where(lead, view),
                "feed": lead.feed,
                "feedLabel": FEED_LABELS.get(lead.feed, lead.feed),
                "age": fmt_age(age) + ("" if active else " ago"),
                "ageSeconds": int(age.total_seconds()),
                "count": lead.count,
                "incident": f"#{lead.incident_id}" + (f" · {len(members)}" if others else "")
                if lead.incident_id
                else "",
                "owner": owner,
                "lastSeen": local(lead.last_seen, view.tz),
            }
        )
    rows.sort(
        key=lambda r: (
            r["state"] == "resolved",
            severity_rank(r["severity"]),
            r["state"] not in lc.UNACKNOWLEDGED,
            r["ageSeconds"] if r["state"] == "resolved" else -r["ageSeconds"],
        )
    )
    return rows


COLUMNS: list[dict[str, Any]] = [
    {
        "field": "sev",
        "headerName": "Sev",
        "width": 100,
        "minWidth": 100,
        "maxWidth": 110,
        "cellClass": "cell-sev",
    },
    {
        "field": "stateLabel",
        "headerName": "State · owner",
        "width": 160,
        "minWidth": 150,
        "maxWidth": 200,
        "cellClass": "cell-state",
        "tooltipField": "stateLabel",
    },
    {
        "field": "title",
        "headerName": "Alert",
        "flex": 4,
        "minWidth": 280,
        "tooltipField": "title",
        "wrapText": True,
        "autoHeight": True,
        "cellClass": "cell-title",
    },
    {
        "field": "where",
        "headerName": "Where",
        "flex": 1.6,
        "minWidth": 150,
        "tooltipField": "where",
        "wrapText": True,
        "autoHeight": True,
        "cellClass": "cell-where",
    },
    {"field": "feedLabel", "headerName": "Feed", "width": 126, "minWidth": 126, "maxWidth": 140},
    {
        "field": "age",
        "headerName": "For",
        "width": 112,
        "minWidth": 104,
        "maxWidth": 150,
        "headerTooltip": "how long the condition has lasted (for resolved ones: since it ended)",
    },
    {
        "field": "count",
        "headerName": "×",
        "width": 56,
        "minWidth": 56,
        "maxWidth": 70,
        "headerTooltip": "signals seen",
        "type": "rightAligned",
    },
    {
        "field": "incident",
        "headerName": "Incident",
        "width": 116,
        "minWidth": 116,
        "maxWidth": 130,
        "headerTooltip": "incident number · alerts it groups",
    },
]

ROW_CLASS_RULES = {
    "row-critical": "params.data.severity === 'critical'",
    "row-warning": "params.data.severity === 'warning'",
    "row-info": "params.data.severity === 'info'",
    "row-unacked": "params.data.state === 'open' || params.data.state === 'reopened'",
    "row-resolved": "params.data.state === 'resolved'",
    "row-silenced": "params.data.state === 'silenced'",
}

GRID_THEME = (
    "themeQuartz.withParams({backgroundColor: '#121923', foregroundColor: '#eef2f7', "
    "headerBackgroundColor: '#18212d', headerTextColor: '#9aa8ba', borderColor: '#253041', "
    "accentColor: '#5cc8ff', selectedRowBackgroundColor: '#1f3b57', "
    "rowHoverColor: '#1a2634', fontSize: 18, headerFontSize: 16, rowHeight: 48, headerHeight: 44, "
    'fontFamily: \'Inter, Roboto, "DejaVu Sans", "Liberation Sans", Arial, sans-serif\', '
    "oddRowBackgroundColor: '#121923', wrapperBorderRadius: 10})"
)


# --------------------------------------------------------------------------- layout


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
            html.Span(who.shown if who else "not logged in", className="who-name", id="who-name"),
            html.Span(lc.label(role), className=f"who-role role-{role}", id="who-role"),
            html.Form(
                [
                    dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=csrf),
                    html.Button("Log out", type="submit", className="btn-quiet", id="logout"),
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
            f"Read-only: as {'an' if role[0] in 'aeiou' else 'a'} {lc.label(role)} you can watch; "
            "only duty officers and above change alerts.",
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
                            html.Div("Duty console", className="page-title"),
                            html.A("Wall ↗", href="/", className="wall-link", title="the wall of live data"),
                        ],
                        className="brand",
                    ),
                    html.Div(id="notice-banner", className="notice-banner"),
                    html.Div(
                        [
                            html.Div(
                                datetime.now(view.tz).strftime("%H:%M:%S"),
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
                    _tile("fig-critical", "Critical open"),
                    _tile("fig-warning", "Warning open"),
                    _tile("fig-info", "Info open"),
                    _tile("fig-unacked", "Waiting for ack"),
                    _tile("fig-mtta", "Mean ack time"),
                    _tile("fig-mttr", "Mean resolve time"),
                    _tile("fig-notify", "Notifications"),
                    _tile("fig-silences", "Silences"),
                ],
                className="figures",
                id="figures",
            ),
            html.Section(
                [
                    dcc.Dropdown(
                        id="f-feed",
                        options=[{"label": f.capitalize(), "value": f} for f in FEEDS],
                        multi=True,
                        placeholder="Every feed",
                        className="filter filter-feed",
                    ),
                    dcc.Checklist(
                        id="f-severity",
                        options=[
                            {"label": s.capitalize(), "value": s} for s in ("critical", "warning", "info")
                        ],
                        value=["critical", "warning", "info"],
                        inline=True,
                        className="filter filter-sev",
                        inputClassName="chk",
                    ),
                    dcc.Dropdown(
                        id="f-state",
                        options=[
                            {"label": STATE_LABELS[s].capitalize(), "value": s} for s in [*ACTIVE, "resolved"]
                        ],
                        value=list(ACTIVE),
                        multi=True,
                        placeholder="Every state",
                        className="filter filter-state",
                    ),
                    dcc.Dropdown(
                        id="f-area",
                        options=[{"label": a, "value": a} for a in areas],
                        multi=True,
                        placeholder="Every area",
                        className="filter filter-area",
                    ),
                    dcc.Dropdown(
                        id="f-time",
                        options=[{"label": f"last {k}", "value": k} for k in TIME_WINDOWS],
                        value="24h",
                        clearable=False,
                        className="filter filter-time",
                    ),
                    dcc.Checklist(
                        id="f-group",
                        options=[{"label": "Group into incidents", "value": "group"}],
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
                                columnDefs=COLUMNS,
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
                                        "noRowsToShow": "Nothing here: all quiet for these filters"
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
                                html.Div("Select an alert (click, or j / k).", className="detail-empty"),
                                id="detail",
                                className="detail",
                            ),
                            html.Div(
                                [
                                    readonly,
                                    dcc.Textarea(
                                        id="note",
                                        placeholder="Note for the record (needed to resolve "
                                        "or silence). n to write, Esc to leave.",
                                        className="note",
                                        maxLength=2000,
                                        disabled=False,
                                    ),
                                    html.Div(
                                        [
                                            html.Label("Assign to", htmlFor="assignee"),
                                            html.Label("Silence for", htmlFor="silence-for"),
                                            html.Label("Silence what", htmlFor="silence-scope"),
                                        ],
                                        className="action-labels",
                                    ),
                                    html.Div(
                                        [
                                            dcc.Dropdown(
                                                id="assignee",
                                                options=[
                                                    {
                                                        "label": f"{u.shown} ({lc.label(u.role)})",
                                                        "value": u.name,
                                                    }
                                                    for u in assignable
                                                ],
                                                placeholder="Assign to…",
                                                className="assignee",
                                                value=who.name if who and may_change else None,
                                            ),
                                            dcc.Dropdown(
                                                id="silence-for",
                                                options=[
                                                    {"label": f"silence {k}", "value": k}
                                                    for k in SILENCE_CHOICES
                                                ],
                                                value="1h",
                                                clearable=False,
                                                className="silence-for",
                                            ),
                                            dcc.Dropdown(
                                                id="silence-scope",
                                                options=[
                                                    {"label": "this alert", "value": "alert"},
                                                    {"label": "all from this source", "value": "source"},
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
                                                [label, html.Kbd(key)],
                                                id=bid,
                                                className=f"btn {bid}",
                                                disabled=True,
                                                title=f"{label} (key {key})",
                                            )
                                            for bid, (_, label, key) in BUTTONS.items()
                                        ]
                                        + [
                                            html.Button(
                                                ["Ack incident", html.Kbd("i")],
                                                id="btn-ack-incident",
                                                className="btn btn-ack-incident",
                                                disabled=True,
                                                title="acknowledge every unacknowledged alert of this "
                                                "incident (key i)",
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
            html.Footer(HELP, className="help-line", id="help-line"),
            dcc.Interval(id="console-tick", interval=max(1000, view.settings.web.refresh_ms)),
            dcc.Store(id="selected", data=None),
            dcc.Store(id="action-done", data=0),
            dcc.Store(id="notice-seen", data=last_notice),
            dcc.Store(id="notices", data=None),
            dcc.Store(id="console-config", data={"tz": view.settings.timezone, "role": role}),
            dcc.Store(id="keys-sink"),
            dcc.Store(id="alarm-sink"),
        ],
        className="console",
        id="console",
    )


# --------------------------------------------------------------------------- detail


def _fact(label: str, value: Any) -> html.Div:
    return html.Div(
        [html.Span(label, className="fact-label"), html.Span(value, className="fact-value")], className="fact"
    )


def detail_children(alert: Alert, view: ConsoleView, now: datetime) -> list[Any]:
    """What the detail pane shows of one alert (without the actions, which stay put)."""
    tz = view.tz
    link = alert.link
    facts = [
        _fact("Where", where(alert, view)),
        _fact(
            "Since",
            f"{local(alert.started_at, tz)} ({fmt_age(now - alert.started_at)})"
            if alert.active
            else f"{local(alert.started_at, tz)}, resolved {local(alert.closed_at, tz)}",
        ),
        _fact("Seen", f"×{alert.count}, last {local(alert.last_seen, tz, '%H:%M:%S')}"),
        _fact("Rule", f"{alert.detector} / {alert.rule}"),
    ]
    if alert.acknowledged_by:
        facts.append(_fact("Acknowledged", f"{alert.acknowledged_by} at {local(alert.acknowledged_at, tz)}"))
    if alert.assignee:
        facts.append(_fact("Assigned to", alert.assignee))
    if alert.state == "silenced" and alert.silenced_until:
        facts.append(_fact("Silenced until", local(alert.silenced_until, tz)))
    if alert.reopened_count:
        facts.append(_fact("Reopened", f"{alert.reopened_count}×"))
    if alert.resolved_by:
        facts.append(_fact("Resolved by", alert.resolved_by))
    return [
        html.Div(
            [
                html.Span(
                    SEVERITY_SHORT.get(alert.severity, alert.severity.upper()),
                    className=f"badge sev-{alert.severity}",
                ),
                html.Span(
                    STATE_LABELS.get(alert.state, alert.state.upper()),
                    className=f"badge state-{alert.state}",
                    id="detail-state",
                ),
                html.Span(f"#{alert.id}", className="detail-id"),
            ],
            className="detail-badges",
        ),
        html.H2(alert.title, className="detail-title", id="detail-title"),
        html.Div(facts, className="facts"),
        html.A(
            f"{link[0]} ↗",
            href=link[1],
            className="data-link",
            id="data-link",
            target="_blank",
            rel="noopener",
        )
        if link
        else html.Div("No page shows this source yet.", className="data-link none"),
    ]


def history_children(view: ConsoleView, alert: Alert) -> list[Any]:
    """The incident's other alerts, the notifications about this one, and its audit history (newest first)."""
    tz = view.tz
    out: list[Any] = []
    if alert.incident_id is not None:
        related = [a for a in view.service.incident_alerts(alert.incident_id) if a.id != alert.id]
        if related:
            out.append(html.H3(f"Incident #{alert.incident_id}: {len(related)} more"))
            out.append(
                html.Ul(
                    [
                        html.Li(
                            [
                                html.Span(
                                    STATE_LABELS.get(a.state, a.state), className=f"mini state-{a.state}"
                                ),
                                f" #{a.id} {a.title}",
                            ],
                            className=f"related sev-{a.severity}",
                        )
                        for a in related[:8]
                    ],
                    className="related-list",
                )
            )
    notes = view.service.notifications_of(alert.id)
    if notes:
        failed = [n for n in notes if n["state"] == "failed"]
        text = ", ".join(f"{n['channel']}→{n['recipient']} {n['state']}" for n in notes[:4])
        out.append(
            html.Div(
                f"Notified: {text}"
                + (f" · {len(failed)} FAILED: {failed[0]['last_error']}" if failed else ""),
                className="notified" + (" failed" if failed else ""),
            )
        )
    out.append(html.H3("History"))
    entries = []
    for e in reversed(view.service.history(alert.id)):
        move = e.to_state if e.from_state in (None, e.to_state) else f"{e.from_state} → {e.to_state}"
        entries.append(
            html.Li(
                [
                    html.Span(local(e.at, tz, "%H:%M:%S"), className="h-time"),
                    html.Span(e.actor, className="h-actor" + (" system" if e.actor == lc.SYSTEM else "")),
                    html.Span(lc.PAST.get(e.action, e.action), className=f"h-action act-{e.action}"),
                    html.Span(move, className="h-move"),
                    html.Div(e.note or "", className="h-note"),
                ],
                className="h-entry",
                **{"data-action": e.action, "data-actor": e.actor},
            )
        )
    out.append(html.Ol(entries, className="history-list", id="history-list"))
    return out


# --------------------------------------------------------------------------- callbacks

_KEYS_JS = """
function (cfg) {
    if (window.__iocConsoleKeys) { return window.dash_clientside.no_update; }
    window.__iocConsoleKeys = true;
    const click = function (id) {
        const b = document.getElementById(id);
        if (b && !b.disabled) { b.click(); }
    };
    const move = async function (delta) {
        const api = await dash_ag_grid.getApiAsync('alert-grid');
        const n = api.getDisplayedRowCount();
        if (!n) { return; }
        const sel = api.getSelectedNodes();
        let i = sel.length && sel[0].rowIndex !== null ? sel[0].rowIndex + delta : (delta > 0 ? 0 : n - 1);
        i = Math.max(0, Math.min(n - 1, i));
        const node = api.getDisplayedRowAtIndex(i);
        if (node) {
            node.setSelected(true, true);
            api.ensureIndexVisible(i);
            api.setFocusedCell(i, 'title');
        }
    };
    const keys = {a: 'btn-ack', g: 'btn-assign', r: 'btn-resolve', s: 'btn-silence', u: 'btn-unsilence',
                  o: 'btn-reopen', c: 'btn-comment', i: 'btn-ack-incident'};
    document.addEventListener('keydown', function (e) {
        const t = e.target;
        const typing = t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' || t.tagName === 'SELECT'
                             || t.isContentEditable);
        if (typing) {
            if (e.key === 'Escape') { t.blur(); }
            return;
        }
        if (e.ctrlKey || e.metaKey || e.altKey) { return; }
        if (e.key === 'j') { move(1); e.preventDefault(); }
        else if (e.key === 'k') { move(-1); e.preventDefault(); }
        else if (e.key === 'n') {
            const n = document.getElementById('note');
            if (n) { n.focus(); }
            e.preventDefault();
        }
        else if (e.key === '/') {
            const f = document.querySelector('#f-feed input, #f-feed button, #f-feed');
            if (f) { f.focus(); }
            e.preventDefault();
        }
        else if (keys[e.key]) { click(keys[e.key]); e.preventDefault(); }
    });
    // a session that ran out sends the officer to the login, instead of leaving a dead page
    setInterval(function () {
        fetch('/whoami', {credentials: 'same-origin'}).then(function (r) {
            if (r.status === 401) { window.location.href = '/login?next=' + encodeURIComponent('/console/'); }
        }).catch(function () {});
    }, 30000);
    return window.dash_clientside.no_update;
}
"""

_CLOCK_JS = """
function (n, cfg) {
    const tz = (cfg && cfg.tz) || 'UTC';
    try {
        return new Intl.DateTimeFormat('en-GB', {timeZone: tz, hour: '2-digit', minute: '2-digit',
            second: '2-digit', hourCycle: 'h23'}).format(new Date());
    } catch (e) { return new Date().toISOString().slice(11, 19); }
}
"""

# critical notices flash the screen and chime (Web Audio; no file to fetch)
_ALARM_JS = """
function (notices) {
    if (!notices || !notices.fresh || !notices.fresh.length) { return window.dash_clientside.no_update; }
    const critical = notices.fresh.some(function (n) { return n.critical; });
    window.__iocNotices = (window.__iocNotices || 0) + notices.fresh.length;
    if (critical) {
        window.__iocChimes = (window.__iocChimes || 0) + 1;
        const root = document.getElementById('console');
        if (root) {
            root.classList.remove('flash');
            void root.offsetWidth;
            root.classList.add('flash');
            setTimeout(function () { root.classList.remove('flash'); }, 6000);
        }
        try {
            const Ctx = window.AudioContext || window.webkitAudioContext;
            const ctx = window.__iocAudio || (window.__iocAudio = new Ctx());
            [0, 0.35].forEach(function (at) {
                const o = ctx.createOscillator();
                const g = ctx.createGain();
                o.type = 'sine';
                o.frequency.value = at ? 660 : 880;
                g.gain.setValueAtTime(0.0001, ctx.currentTime + at);
                g.gain.exponentialRampToValueAtTime(0.25, ctx.currentTime + at + 0.03);
                g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.3);
                o.connect(g).connect(ctx.destination);
                o.start(ctx.currentTime + at);
                o.stop(ctx.currentTime + at + 0.32);
            });
        } catch (e) { /* no audio device: the flash still shows */ }
    }
    return window.dash_clientside.no_update;
}
"""


def _actor() -> lc.Actor | None:
    who = auth.principal()
    return lc.Actor(who.name, who.role) if who else None  # type: ignore[arg-type]


def register_callbacks(app: dash.Dash, view: ConsoleView) -> None:
    """Wire the console's callbacks onto ``app``."""
    svc = view.service

    @app.callback(
        Output("alert-grid", "rowData"),
        Output("fig-critical", "children"),
        Output("fig-critical", "className"),
        Output("fig-warning", "children"),
        Output("fig-warning", "className"),
        Output("fig-info", "children"),
        Output("fig-unacked", "children"),
        Output("fig-unacked", "className"),
        Output("fig-mtta", "children"),
        Output("fig-mttr", "children"),
        Output("fig-notify", "children"),
        Output("fig-notify", "className"),
        Output("fig-silences", "children"),
        Input("console-tick", "n_intervals"),
        Input("action-done", "data"),
        Input("f-feed", "value"),
        Input("f-severity", "value"),
        Input("f-state", "value"),
        Input("f-area", "value"),
        Input("f-time", "value"),
        Input("f-group", "value"),
    )
    def refresh(
        _n: int | None,
        _done: int,
        feeds: list[str] | None,
        sevs: list[str] | None,
        states: list[str] | None,
        areas: list[str] | None,
        window: str | None,
        group: list[str] | None,
    ) -> tuple[Any, ...]:
        if auth.principal() is None:
            raise PreventUpdate
        clock = svc.clock()
        flt = AlertFilter(
            feeds=tuple(feeds or ()),
            severities=tuple(sevs or ()) or ("-",),
            states=tuple(states or ()),
            areas=tuple(areas or ()),
            since=clock - TIME_WINDOWS.get(window or "24h", TIME_WINDOWS["24h"]),
        )
        try:
            alerts = svc.alerts(flt)
            fig = svc.shift_figures(view.tz)
            failed = svc.failed_notifications(limit=1) if fig.notifications_failed else []
        except psycopg.Error as exc:
            log.warning("console: store query failed: %s", exc)
            raise PreventUpdate from None
        rows = grid_rows(alerts, view, clock, by_incident="group" in (group or []))
        since = local(fig.shift_start, view.tz)  # this shift's start
        crit, warn, info = (fig.open_by_severity[s] for s in ("critical", "warning", "info"))
        notify_sub = (
            f"#{failed[0]['id']} {failed[0]['channel']}: {failed[0]['last_error']}"
            if failed
            else "all delivered"
        )
        return (
            rows,
            _tile_children("Critical open", str(crit)),
            "ctile crit" if crit else "ctile",
            _tile_children("Warning open", str(warn)),
            "ctile warn" if warn else "ctile",
            _tile_children("Info open", str(info)),
            _tile_children("Waiting for ack", str(fig.unacknowledged), "open or reopened"),
            "ctile warn" if fig.unacknowledged else "ctile",
            _tile_children(
                "Mean ack time",
                fmt_duration(fig.mean_time_to_acknowledge),
                f"{fig.acknowledged} acked since {since}",
            ),
            _tile_children(
                "Mean resolve time",
                fmt_duration(fig.mean_time_to_resolve),
                f"{fig.resolved} resolved since {since}",
            ),
            _tile_children(
                "Notifications",
                f"{fig.notifications_failed} failed" if fig.notifications_failed else "OK",
                notify_sub,
            ),
            "ctile crit" if fig.notifications_failed else "ctile",
            _tile_children("Silences", str(fig.silences_active), "active now"),
        )

    @app.callback(
        Output("detail", "children"),
        Output("history", "children"),
        Output("selected", "data"),
        *[Output(bid, "disabled") for bid in BUTTONS],
        Output("btn-ack-incident", "disabled"),
        Output("note", "disabled"),
        Output("action-message", "children", allow_duplicate=True),
        Input("alert-grid", "selectedRows"),
        Input("console-tick", "n_intervals"),
        Input("action-done", "data"),
        State("selected", "data"),
        prevent_initial_call=True,
    )
    def show(
        rows: list[dict[str, Any]] | None, _n: int | None, _done: int, previous: dict[str, Any] | None
    ) -> tuple[Any, ...]:
        who = auth.principal()
        if who is None:
            raise PreventUpdate
        none_allowed = [True] * (len(BUTTONS) + 1)
        note_off = not lc.may(who.role, "comment")
        # a row that left the grid (resolved while the filter shows active ones) stays in the pane
        wanted = rows[0].get("id") if rows else (previous or {}).get("id")
        if wanted is None:
            return (
                [html.Div("Select an alert (click, or j / k).", className="detail-empty")],
                [],
                None,
                *none_allowed,
                note_off,
                dash.no_update,
            )
        try:
            alert = svc.get(int(wanted))
            history = history_children(view, alert)
        except (AlertError, ValueError, KeyError):
            return (
                [html.Div("That alert is gone.", className="detail-empty")],
                [],
                None,
                *none_allowed,
                note_off,
                dash.no_update,
            )
        except psycopg.Error as exc:
            log.warning("console: store query failed: %s", exc)
            raise PreventUpdate from None
        allowed = set(actions_for(who.role, alert.state))
        disabled = [BUTTONS[bid][0] not in allowed for bid in BUTTONS]
        siblings = view.service.incident_alerts(alert.incident_id) if alert.incident_id is not None else []
        incident_off = not (
            lc.may(who.role, "acknowledge")
            and any(a.state in lc.UNACKNOWLEDGED for a in siblings if a.id != alert.id)
        )
        moved = previous is not None and previous.get("id") != alert.id
        return (
            detail_children(alert, view, svc.clock()),
            history,
            {"id": alert.id, "version": alert.version, "incident": alert.incident_id},
            *disabled,
            incident_off,
            note_off,
            "" if moved else dash.no_update,
        )

    @app.callback(
        Output("action-message", "children"),
        Output("action-message", "className"),
        Output("action-done", "data"),
        Output("note", "value"),
        *[Input(bid, "n_clicks") for bid in BUTTONS],
        Input("btn-ack-incident", "n_clicks"),
        State("selected", "data"),
        State("note", "value"),
        State("assignee", "value"),
        State("silence-for", "value"),
        State("silence-scope", "value"),
        State("action-done", "data"),
        prevent_initial_call=True,
    )
    def act(*args: Any) -> tuple[Any, ...]:
        selected, note, assignee, silence_for, scope, done = args[-6:]
        trigger = dash.ctx.triggered_id
        actor = _actor()
        if actor is None or trigger is None:
            raise PreventUpdate
        if not selected:
            return "Select an alert first.", "action-message refused", dash.no_update, dash.no_update
        alert_id, version = int(selected["id"]), selected.get("version")
        note = (note or "").strip()
        try:
            if trigger == "btn-ack-incident":
                if selected.get("incident") is None:
                    raise AlertError("This alert belongs to no incident.")
                done_now = svc.acknowledge_incident(int(selected["incident"]), actor, note)
                msg = f"Acknowledged {len(done_now)} alert(s) of incident #{selected['incident']}."
            else:
                action = BUTTONS[str(trigger)][0]
                if action == "acknowledge":
                    svc.acknowledge(alert_id, actor, note, expected_version=version)
                elif action == "assign":
                    if not assignee:
                        raise AlertError("Choose whom to assign it to.")
                    svc.assign(alert_id, actor, assignee, note, expected_version=version)
                elif action == "resolve":
                    svc.resolve(alert_id, actor, note, expected_version=version)
                elif action == "silence":
                    until = svc.clock() + SILENCE_CHOICES.get(silence_for or "1h", timedelta(hours=1))
                    svc.silence(
                        alert_id,
                        actor,
                        until,
                        note,
                        scope="source" if scope == "source" else "alert",
                        expected_version=version,
                    )
                elif action == "unsilence":
                    svc.unsilence(alert_id, actor, note, expected_version=version)
                elif action == "reopen":
                    svc.reopen(alert_id, actor, note, expected_version=version)
                else:
                    svc.comment(alert_id, actor, note)
                msg = (
                    f"Alert #{alert_id} {lc.PAST[action]}"
                    + (f" to {assignee}" if action == "assign" else "")
                    + f" by {actor.name} at {local(svc.clock(), view.tz, '%H:%M:%S')}."
                )
        except AlertError as exc:
            return str(exc), "action-message refused", (done or 0) + 1, dash.no_update
        except psycopg.Error as exc:
            log.warning("console: action failed on the store: %s", exc)
            return (
                "The store did not answer; nothing was changed. Try again.",
                "action-message refused",
                dash.no_update,
                dash.no_update,
            )
        return msg, "action-message ok", (done or 0) + 1, ""

    @app.callback(
        Output("notices", "data"),
        Output("notice-seen", "data"),
        Output("notice-banner", "children"),
        Output("notice-banner", "className"),
        Input("console-tick", "n_intervals"),
        State("notice-seen", "data"),
    )
    def notices(_n: int | None, seen: int | None) -> tuple[Any, ...]:
        if auth.principal() is None:
            raise PreventUpdate
        try:
            fresh = svc.console_notices(after_id=int(seen or 0))
        except psycopg.Error:
            raise PreventUpdate from None
        if not fresh:
            raise PreventUpdate
        newest = fresh[0]
        critical = any(n["critical"] for n in fresh)
        banner = [html.Span(newest["subject"], className="notice-text")]
        if len(fresh) > 1:
            banner.append(html.Span(f" +{len(fresh) - 1} more", className="notice-more"))
        return (
            {"fresh": fresh},
            newest["id"],
            banner,
            "notice-banner show" + (" critical" if critical else ""),
        )

    app.clientside_callback(_KEYS_JS, Output("keys-sink", "data"), Input("console-config", "data"))
    app.clientside_callback(
        _CLOCK_JS,
        Output("console-clock", "children"),
        Input("console-tick", "n_intervals"),
        State("console-config", "data"),
    )
    app.clientside_callback(
        _ALARM_JS, Output("alarm-sink", "data"), Input("notices", "data"), prevent_initial_call=True
    )


def attach(server: Flask, view: ConsoleView) -> dash.Dash:
    """Mount the console on ``server`` under ``/console/``."""
    app = dash.Dash(
        __name__,
        server=server,
        url_base_pathname=PREFIX,
        title=f"Duty console · {view.settings.city}",
        update_title=None,
        assets_folder=str(ASSETS),
        assets_ignore=r"^(?!console\.css$)",  # the wall's stylesheet is the wall's
        serve_locally=True,
    )
    app.layout = lambda: layout(view)
    register_callbacks(app, view)

    @server.route("/console")
    def console_no_slash():  # noqa: ANN202 - a Flask view
        from flask import redirect

        return redirect(PREFIX, code=308)

    return app


def create_console(
    server: Flask,
    pool: Any,
    settings: Settings,
    alert_settings: AlertSettings | None = None,
    clock: Any = None,
) -> dash.Dash:
    """Login, sessions, CSRF and the console on ``server`` (the wall's), reading from ``pool``."""
    from alerts.settings import alert_settings as read_settings

    cfg = alert_settings or read_settings(settings)
    kwargs = {"clock": clock} if clock is not None else {}
    service = AlertService(pool, cfg, **kwargs)
    people = People(pool, cfg.auth, **kwargs)
    auth.install(
        server,
        people,
        cfg.auth,
        title=f"{settings.web.title} · {settings.city}",
        trusted_proxies=settings.web.trusted_proxies,
        extra_origins=[o for o in [origin(settings.web.map_tiles_url)] if o],
    )
    view = ConsoleView(service=service, people=people, settings=settings, alert_settings=cfg)
    return attach(server, view)


__all__ = ["ConsoleView", "attach", "create_console", "fmt_duration", "grid_rows"]
