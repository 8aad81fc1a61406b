"""The console's callbacks: refresh, selection, the operator's actions, notices.

What a request asks is checked first (:mod:`dashboards.console.asks`): a value no page of ours sends
(a filter of 400,000 areas, an id of ``1.5``, a silence "for 999y") is refused, ``400``. The selected
alert's history (up to 200 entries of 4,000 characters) is sent only when it changed, not with every
refresh of the pane: the pane's ``selected`` store keeps a digest of the history the page shows.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import dash
import psycopg
from dash import ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate
from plotly.io.json import to_json_plotly

from alerts import lifecycle as lc
from alerts.delivery_errors import delivery_error_in
from alerts.lifecycle import AlertError
from alerts.models import AlertFilter
from alerts.transitions import actions_for
from dashboards import auth
from dashboards.console import asks
from dashboards.console.details import detail_children, history_children
from dashboards.console.grid import grid_rows
from dashboards.console.layout import _tile_children
from dashboards.console.view import BUTTONS, SILENCE_CHOICES, TIME_WINDOWS, ConsoleView
from dashboards.i18n import page_language, t
from dashboards.pacing import pace, timer_of
from dashboards.shared_reads import SharedReads

log = logging.getLogger(__name__)


def _actor() -> lc.Actor | None:
    who = auth.principal()
    return lc.Actor(who.name, who.role) if who else None  # type: ignore[arg-type]


def _digest(children: list[Any]) -> str:
    """A short digest of what a pane shows (its components as Dash sends them)."""
    return hashlib.blake2b(to_json_plotly(children).encode(), digest_size=12).hexdigest()


def register_callbacks(app: dash.Dash, view: ConsoleView) -> None:
    """Wire the console's callbacks onto ``app``."""
    svc = view.service
    shared = SharedReads(view.settings.web.shared_read_s)

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
        try:  # checked first: a filter no page offers is refused (400), never a cache key or a query
            ask = asks.grid_ask(feeds, sevs, states, areas, window, group,
                                lambda fresh: shared.get(("areas",), svc.areas, fresh=fresh))
        except psycopg.Error as exc:
            log.warning("console: store query failed: %s", exc)
            raise PreventUpdate from None

        def read() -> tuple[Any, ...]:
            clock = svc.clock()
            flt = AlertFilter(
                feeds=ask.feeds,
                severities=ask.severities or ("-",),
                states=ask.states,
                areas=ask.areas,
                since=clock - TIME_WINDOWS[ask.window],
            )
            fig = svc.shift_figures(view.tz)
            failed = svc.failed_notifications(limit=1) if fig.notifications_failed else []
            return clock, svc.alerts(flt), fig, failed

        # screens with the same filters share a read; after an action on this screen it reads anew
        try:
            clock, alerts, fig, failed = shared.get(ask.key, read,
                                                    fresh=dash.ctx.triggered_id == "action-done")
        except psycopg.Error as exc:
            log.warning("console: store query failed: %s", exc)
            raise PreventUpdate from None
        rows = grid_rows(alerts, view, clock, by_incident=ask.by_incident)
        f = view.formats()
        lang = f.lang
        since = f.time(fig.shift_start, seconds=False)  # this shift's start
        crit, warn, info = (fig.open_by_severity[s] for s in ("critical", "warning", "info"))
        notify_sub = (
            f"#{failed[0]['id']} {failed[0]['channel']}: {delivery_error_in(failed[0]['last_error'], lang)}"
            if failed
            else t("all delivered", lang)
        )
        return (
            rows,
            _tile_children(t("Critical open", lang), f.number(crit)),
            "ctile crit" if crit else "ctile",
            _tile_children(t("Warning open", lang), f.number(warn)),
            "ctile warn" if warn else "ctile",
            _tile_children(t("Info open", lang), f.number(info)),
            _tile_children(t("Waiting for ack", lang), f.number(fig.unacknowledged),
                           t("open or reopened", lang)),
            "ctile warn" if fig.unacknowledged else "ctile",
            _tile_children(
                t("Mean ack time", lang),
                f.duration(fig.mean_time_to_acknowledge),
                t("{n} acked since {since}", lang, n=f.number(fig.acknowledged), since=since),
            ),
            _tile_children(
                t("Mean resolve time", lang),
                f.duration(fig.mean_time_to_resolve),
                t("{n} resolved since {since}", lang, n=f.number(fig.resolved), since=since),
            ),
            _tile_children(
                t("Notifications", lang),
                t("{n} failed", lang, n=fig.notifications_failed) if fig.notifications_failed else "OK",
                notify_sub,
            ),
            "ctile crit" if fig.notifications_failed else "ctile",
            _tile_children(t("Silences", lang), f.number(fig.silences_active), t("active now", lang)),
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
        lang = page_language(view.settings)
        note_off = not lc.may(who.role, "comment")
        # a row that left the grid (resolved while the filter shows active ones) stays in the pane
        if rows is not None and not (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)):
            raise asks.BadRequest("selectedRows: a list of rows")
        if previous is not None and not isinstance(previous, dict):
            raise asks.BadRequest("selected: a dict")
        wanted = rows[0].get("id") if rows else (previous or {}).get("id")
        if wanted is not None:
            wanted = asks.alert_id(wanted)  # "1.5" or 1.5 is no alert: refused, never alert 1
        if wanted is None:
            return (
                [html.Div(t("Select an alert (click, or j / k).", lang), className="detail-empty")],
                [],
                None,
                *none_allowed,
                note_off,
                dash.no_update,
            )
        try:
            alert = svc.get(wanted)
            history = history_children(view, alert)
        except AlertError:
            return (
                [html.Div(t("That alert is gone.", lang), className="detail-empty")],
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
        shown = _digest(history)
        return (
            detail_children(alert, view, svc.clock()),
            dash.no_update if (previous or {}).get("history") == shown else history,
            {"id": alert.id, "version": alert.version, "incident": alert.incident_id, "history": shown},
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
        # what no page of ours sends is refused (400) before anything acts: a note or an assignee that
        # is no text, an id of 1.5, a silence "for 999y"; what the note says is the service's to judge
        note = asks.text(note, "note")
        assignee = asks.chosen_name(assignee, "assignee")
        silence_for = asks.silence_for(silence_for)
        scope = asks.choice(scope, "silence-scope", asks.SCOPES)
        done = asks.counter(done)
        if selected is not None and not isinstance(selected, dict):
            raise asks.BadRequest("selected: a dict")
        f = view.formats()
        lang = f.lang
        if not selected:
            return t("Select an alert first.", lang), "action-message refused", dash.no_update, dash.no_update
        alert_id, version = asks.alert_id(selected.get("id")), asks.version(selected.get("version"))
        incident = selected.get("incident")
        incident = None if incident is None else asks.alert_id(incident, "incident")
        try:
            if trigger == "btn-ack-incident":
                if incident is None:
                    raise AlertError(t("This alert belongs to no incident.", lang))
                done_now = svc.acknowledge_incident(incident, actor, note)
                msg = t("Acknowledged {n} alert(s) of incident #{id}.", lang, n=len(done_now), id=incident)
            else:
                action = BUTTONS[str(trigger)][0]
                if action == "acknowledge":
                    svc.acknowledge(alert_id, actor, note, expected_version=version)
                elif action == "assign":
                    if not assignee:
                        raise AlertError(t("Choose whom to assign it to.", lang))
                    svc.assign(alert_id, actor, assignee, note, expected_version=version)
                elif action == "resolve":
                    svc.resolve(alert_id, actor, note, expected_version=version)
                elif action == "silence":
                    until = svc.clock() + SILENCE_CHOICES[silence_for]
                    svc.silence(alert_id, actor, until, note, scope=scope,  # type: ignore[arg-type]
                                expected_version=version)
                elif action == "unsilence":
                    svc.unsilence(alert_id, actor, note, expected_version=version)
                elif action == "reopen":
                    svc.reopen(alert_id, actor, note, expected_version=version)
                else:
                    svc.comment(alert_id, actor, note)
                what = t(lc.PAST[action], lang) + (" " + t("to {who}", lang, who=assignee)
                                                   if action == "assign" else "")
                msg = t("Alert #{id} {what} by {who} at {time}.", lang, id=alert_id, what=what,
                        who=actor.name, time=f.time(svc.clock()))
        except AlertError as exc:  # the service's refusal, in the reader's language and the city's time
            return exc.text(lang, view.settings.timezone), "action-message refused", done + 1, dash.no_update
        except psycopg.Error as exc:
            log.warning("console: action failed on the store: %s", exc)
            return (
                t("The store did not answer; nothing was changed. Try again.", lang),
                "action-message refused",
                dash.no_update,
                dash.no_update,
            )
        return msg, "action-message ok", done + 1, ""

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
        lang = page_language(view.settings)
        subject = (newest.get("subjects") or {}).get(lang) or newest["subject"]  # in the reader's language
        banner = [html.Span(subject, className="notice-text")]
        if len(fresh) > 1:
            banner.append(html.Span(" " + t("+{n} more", lang, n=len(fresh) - 1), className="notice-more"))
        return (
            {"fresh": fresh},
            newest["id"],
            banner,
            "notice-banner show" + (" critical" if critical else ""),
        )

    pace(app, "console-tick")
    app.clientside_callback(ClientsideFunction("console", "keys"), Output("keys-sink", "data"),
                            Input("console-config", "data"))
    app.clientside_callback(
        ClientsideFunction("ioc", "clock"),
        Output("console-clock", "children"),
        Input(timer_of("console-tick"), "n_intervals"),  # the clock goes on while a refresh is out
        State("console-config", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("console", "alarm"), Output("alarm-sink", "data"), Input("notices", "data"),
        prevent_initial_call=True,
    )
