"""Refresh ticks that wait for the server: a slow link or a busy server slows a page, never freezes it.

Dash drops a callback's answer still on its way when the same callback is asked again, so a plain
``dcc.Interval`` faster than the server's answers drops every answer: the page never fills in. A
paced tick keeps the id the page's callbacks listen to (``Input(tick_id, "n_intervals")``) on an
``Interval`` that never fires by itself; a timer beside it (``<tick_id>-timer``) moves it on through
a browser callback (``assets/pacing.js``) only when the requests of its last move are answered.
"""

from __future__ import annotations

from typing import Any

from dash import ClientsideFunction, Input, Output, State, dcc

TIMER = "-timer"


def paced_interval(tick_id: str, interval_ms: int, *, disabled: bool = False) -> list[dcc.Interval]:
    """The page's tick ``tick_id`` and the timer that paces it (``disabled`` stops the timer; a
    callback that starts and stops the ticking writes ``timer_of(tick_id).disabled``)."""
    return [dcc.Interval(id=tick_id, interval=interval_ms, disabled=True, n_intervals=0),
            dcc.Interval(id=timer_of(tick_id), interval=interval_ms, disabled=disabled)]


def timer_of(tick_id: str) -> str:
    """The id of the timer that paces ``tick_id``."""
    return tick_id + TIMER


def pace(app: Any, *tick_ids: str) -> None:
    """Wire each paced tick of ``app``'s layout to its timer (``paced_interval``)."""
    for tick_id in tick_ids:
        app.clientside_callback(ClientsideFunction("ioc_pacing", "pulse"), Output(tick_id, "n_intervals"),
                                Input(timer_of(tick_id), "n_intervals"), State(tick_id, "id"),
                                prevent_initial_call=True)
