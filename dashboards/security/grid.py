"""The security page's grid of events: AG Grid columns (each with its filter), rows, the theme.

Column headers come from the ``security`` catalogue; the raw line column exists only for the roles
that may read raw lines (the rows of others carry none).
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag

from dashboards.console.grid import GRID_THEME
from ioc.i18n import Translator, format_time

t = Translator("security")
RAW_ROLES = frozenset({"analyst", "admin"})
TEXT, NUMBER = "agTextColumnFilter", "agNumberColumnFilter"
# the console's dark grid, denser: many columns and long lines
THEME = GRID_THEME.replace("fontSize: 18", "fontSize: 15").replace("rowHeight: 48", "rowHeight: 36")
#: (field, header msgid, filter, width weight)
COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("time", "Time", TEXT, 2), ("host", "Host", TEXT, 2), ("log", "Log", TEXT, 2),
    ("action", "Action", TEXT, 2), ("outcome", "Outcome", TEXT, 1), ("src_ip", "Source", TEXT, 2),
    ("dest_ip", "Destination", TEXT, 2), ("dest_port", "Port", NUMBER, 1), ("vhost", "Site", TEXT, 2),
    ("url", "Address requested", TEXT, 2), ("user", "Account", TEXT, 1), ("signature", "Signature", TEXT, 3),
    ("severity", "Severity", NUMBER, 1),
)


# AG Grid's own texts of its filters (its ``localeText`` keys), through the catalogue like the rest
GRID_TEXTS = {
    "noRowsToShow": "No events", "filterOoo": "Filter...", "contains": "Contains",
    "notContains": "Does not contain", "equals": "Equals", "notEqual": "Does not equal",
    "startsWith": "Begins with", "endsWith": "Ends with", "blank": "Blank", "notBlank": "Not blank",
    "lessThan": "Less than", "greaterThan": "Greater than", "lessThanOrEqual": "Less than or equal to",
    "greaterThanOrEqual": "Greater than or equal to", "inRange": "Between", "andCondition": "AND",
    "orCondition": "OR",
}


#: the parsers' closed vocabularies (``log``, ``action``, ``outcome``) as words of the page's language; a
#: value not listed (a future parser's) shows as it is stored
CODE_WORDS: dict[str, dict[str, str]] = {
    "log": {"auth": "login log", "syslog": "system log", "fail2ban": "fail2ban", "web": "web server",
            "suricata": "Suricata IDS"},
    "action": {"login": "login", "pam_check": "PAM check", "key_refused": "key refused",
               "refused": "connection refused",
               "message": "message", "ban": "ban",
               "unban": "unban", "match": "match",
               "http_request": "web request", "ids_alert": "IDS alert", "anomaly": "anomaly", "flow": "flow",
               "dns": "DNS query", "http": "HTTP", "tls": "TLS"},
    "outcome": {"success": "success", "failure": "failure", "unknown": "unknown"},
}


def column_defs(lang: str, raw: bool) -> list[dict[str, Any]]:
    cols = [{"field": f, "headerName": t(label, lang), "filter": kind, "flex": flex,
             **({"filterParams": {"maxNumConditions": 1}} if kind == NUMBER else {}),
             **({"minWidth": 220} if f == "time" else {}),  # the whole local time, seconds included
             **({"minWidth": 132} if f == "outcome" else {})}  # "thành công", "không rõ" whole
            for f, label, kind, flex in COLUMNS]
    if raw:
        cols.append({"field": "raw", "headerName": t("Raw line", lang), "filter": TEXT, "flex": 4,
                     "tooltipField": "raw", "cellClass": "raw-line"})
    return cols


def grid_rows(events: list[dict[str, Any]], lang: str, tz: str, raw: bool) -> list[dict[str, Any]]:
    """One row per event, its time in the city's zone; the raw line only when ``raw``."""
    rows = []
    for e in events:
        row = {k: e.get(k) for k, *_ in COLUMNS}
        row["id"] = f"{e['host']}|{e['time'].isoformat()}|{e['digest']}"
        row["time"] = format_time(e["time"], lang, tz, "yyyy-MM-dd HH:mm:ss")  # filterable as text
        for field, words in CODE_WORDS.items():  # filtered by the word shown, like every column
            if row[field] in words:
                row[field] = t(words[row[field]], lang)
        row["raw"] = e.get("raw") or "" if raw else ""
        rows.append(row)
    return rows


def events_grid(lang: str, raw: bool, rows: list[dict[str, Any]]) -> dag.AgGrid:
    return dag.AgGrid(
        id="security-grid", columnDefs=column_defs(lang, raw), rowData=rows, getRowId="params.data.id",
        defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True, "minWidth": 112},
        dashGridOptions={"theme": {"function": THEME}, "animateRows": False, "tooltipShowDelay": 400,
                         "localeText": {key: t(text, lang) for key, text in GRID_TEXTS.items()}},
        style={"height": "560px", "width": "100%"}, className="security-grid")
