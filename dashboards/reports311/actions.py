"""Staff change the picked report's status on ``/reports311/`` (assign, start work, resolve, reject
with a reason): the same lifecycle as the staff API (:mod:`ioc.feeds.reports.lifecycle`), in the name
of the logged-in user; viewers do not see the buttons, and the change is checked again on the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import auth
from dashboards.reports311.page import STATUS
from dashboards.reports311.routes import STAFF_ROLES
from ioc.feeds.reports.lifecycle import Change, ChangeRefused, change_status
from ioc.i18n import Translator

t = Translator("reports311")
BUTTONS = (("assigned", "Assign"), ("in_progress", "Start work"), ("resolved", "Resolve"),
           ("rejected", "Reject"))


def action_bar(lang: str) -> html.Div:
    """The buttons and the reason field (hidden until a staff member picks a report)."""
    return html.Div([
        html.Span(t("Change the status", lang), className="r311-actions-label"),
        *[html.Button(t(label, lang), id=f"r311-do-{status}", n_clicks=0) for status, label in BUTTONS],
        dcc.Input(id="r311-reason", placeholder=t("Reason (needed to reject)", lang), maxLength=1000,
                  debounce=False, className="r311-reason"),
        html.Span(id="r311-action-msg", className="r311-action-msg"),
        dcc.Store(id="r311-changed", data=0),
    ], id="r311-actions", className="r311-actions", style={"display": "none"})


def register_actions(app: dash.Dash, pool: Any, picked: Any, default_lang: Any) -> None:
    """The callbacks: who sees the bar, and what a click does."""

    @app.callback(Output("r311-actions", "style"), Input("r311-url", "search"))
    def visible(search: str | None) -> dict[str, str]:
        who = auth.principal()
        staff = who is not None and who.role in STAFF_ROLES
        return {} if staff and picked(search) else {"display": "none"}

    @app.callback(
        Output("r311-action-msg", "children"), Output("r311-changed", "data"), Output("r311-reason", "value"),
        *[Input(f"r311-do-{status}", "n_clicks") for status, _ in BUTTONS],
        State("r311-url", "search"), State("r311-reason", "value"), State("r311-changed", "data"),
        State("r311-lang", "data"), prevent_initial_call=True,
    )
    def act(*args: Any) -> tuple[str, int, str]:
        search, reason, changed, lang = args[len(BUTTONS):]
        lang = lang or default_lang()
        status = str(dash.ctx.triggered_id or "").removeprefix("r311-do-")
        rid, who = picked(search), auth.principal()
        if not rid or status not in STATUS:
            raise dash.exceptions.PreventUpdate
        if who is None or who.role not in STAFF_ROLES:
            return t("Only staff may change a report.", lang), changed, reason or ""
        if status == "rejected" and not (reason or "").strip():
            return t("A rejection needs a reason.", lang), changed, reason or ""
        try:
            change = Change(status=status, actor=who.name, reason=reason or "")
            change_status(pool, rid, change, datetime.now(UTC))
        except ChangeRefused as exc:
            if exc.code == 404:
                return t("Report {id} was not found.", lang, id=rid), changed, reason or ""
            return (t("Report {id} cannot become “{status}” from its current status.", lang, id=rid,
                      status=t(STATUS[status], lang)), changed, reason or "")
        done = t("Report {id} is now “{status}”.", lang, id=rid, status=t(STATUS[status], lang))
        return done, changed + 1, ""
