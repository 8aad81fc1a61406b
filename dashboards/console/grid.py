"""The alert grid: its rows from the alerts, its columns, row classes and theme."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts import lifecycle as lc
from alerts.models import Alert
from dashboards.components import severity_rank, severity_short, state_label
from dashboards.console.view import ConsoleView, feed_label, where
from dashboards.i18n import t


def grid_rows(
    alerts: list[Alert], view: ConsoleView, now: datetime, by_incident: bool
) -> list[dict[str, Any]]:
    """Rows of the grid: one per alert, or one per incident (its most urgent alert, and its size)."""
    groups: dict[object, list[Alert]] = {}
    for a in alerts:
        key = ("i", a.incident_id) if by_incident and a.incident_id is not None else ("a", a.id)
        groups.setdefault(key, []).append(a)
    rows = []
    f = view.formats()
    lang = f.lang
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
                "sev": severity_short(lead.severity, lang),
                "state": lead.state,
                "stateLabel": state_label(lead.state, lang) + (f" · {owner}" if owner else ""),
                "title": lead.title_in(lang)
                + ("   " + t("(+{n} related)", lang, n=others) if others else ""),
                "where": where(lead, view),
                "feed": lead.feed,
                "feedLabel": feed_label(lead.feed, lang),
                "age": f.age(age) if active else f.ago(age),
                "ageSeconds": int(age.total_seconds()),
                "count": lead.count,
                "countLabel": f.number(lead.count),
                "incident": f"#{lead.incident_id}" + (f" · {len(members)}" if others else "")
                if lead.incident_id
                else "",
                "owner": owner,
                "lastSeen": f.time(lead.last_seen, seconds=False),
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


#: the columns in English; :func:`columns` gives them in a language (header names and tooltips)
COLUMNS: list[dict[str, Any]] = [
    {
        "field": "sev",
        "headerName": "Sev",
        "width": 108,
        "minWidth": 108,
        "maxWidth": 120,
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
        "valueFormatter": {"function": "params.data.countLabel"},
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

_TRANSLATED = ("headerName", "headerTooltip")


def columns(lang: str) -> list[dict[str, Any]]:
    """:data:`COLUMNS` with their header names and tooltips in ``lang``."""
    return [{k: t(v, lang) if k in _TRANSLATED else v for k, v in col.items()} for col in COLUMNS]


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
