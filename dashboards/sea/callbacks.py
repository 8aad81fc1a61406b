"""The sea page's callbacks: vessels every tick, tracks every few, the selection and its details."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dash
import psycopg
from dash import ALL, ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboards.deep_links import int_arg
from dashboards.formats import Formats
from dashboards.i18n import page_language, t
from dashboards.pacing import pace, timer_of
from dashboards.sea.basemap import SeaView, TrackSet
from dashboards.sea.layout import vessel_refresh_ms
from dashboards.sea.panel import alert_items, counts_children, details_children, simulated_note
from dashboards.sea.style import (
    DEFAULT_TRACK_HOURS,
    TRACK,
    TRACK_BUDGET,
    TRACK_HOURS,
    TRACK_TOLERANCE_DEG,
)
from dashboards.sea.vessels import classify, selection_traces, track_geojson, vessel_trace
from dashboards.signatures import signature
from ioc.store import vessel_queries as vq

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetTick:
    """The vessel tick's outputs that are the same for every screen in one language."""

    as_of: datetime
    markers: str  # {"traces": [the vessel trace], "count": n}, encoded once (see :func:`fleet_tick`)
    counts: Any
    note: Any
    items: Any
    list_sig: str
    in_alert: int
    options: list[dict[str, Any]]
    options_sig: str
    refresh_ms: int


def fleet_tick(view: SeaView, lang: str) -> FleetTick:
    """What every screen in ``lang`` gets alike on a vessel tick, made once per shared read
    (:attr:`SeaView.fleet`): the markers come encoded, so fifty screens are not each sent a
    2,000-vessel trace encoded again."""

    def made() -> FleetTick:
        f = Formats.of(view.settings, lang)
        snap = vq.latest_vessels(view.pool)
        rows = classify(snap, view.ports)
        flagged = sorted((r.vessel.mmsi, r.vessel.label, r.vessel.alert_severity, r.vessel.alert_detectors,
                          r.vessel.alerts_open, r.vessel.simulated) for r in rows if r.vessel.in_alert)
        names = [(r.vessel.mmsi, r.vessel.label) for r in rows]
        options = [{"label": f"{label} · {mmsi}" if label != str(mmsi) else label, "value": mmsi}
                   for mmsi, label in sorted(names, key=lambda x: x[1])]
        markers = json.dumps({"traces": [vessel_trace(rows, snap.as_of, f)], "count": len(rows)},
                             separators=(",", ":"), ensure_ascii=False)
        return FleetTick(snap.as_of, markers, counts_children(rows, lang), simulated_note(rows, lang),
                         alert_items(rows, lang=lang), signature(flagged), len(flagged), options,
                         signature(names),
                         vessel_refresh_ms(view.settings, len(rows)))

    return view.fleet.get(("vessels", lang), made)


def vessels_update(view: SeaView, list_sig: str | None, options_sig: str | None) -> tuple[Any, ...]:
    """What the tick callback returns: markers (a JSON document the browser parses), header counts,
    the alert list and search options (each only when changed), the data time."""
    f = Formats.of(view.settings)
    lang = f.lang
    tick = fleet_tick(view, lang)
    return (
        tick.markers,
        tick.counts,
        tick.note,
        tick.items if tick.list_sig != list_sig else dash.no_update,
        tick.list_sig,
        f.number(tick.in_alert) if tick.in_alert else t("none", lang),
        tick.options if tick.options_sig != options_sig else dash.no_update,
        tick.options_sig,
        t("Data as of {time}", lang, time=f.time(tick.as_of)),
        tick.as_of.isoformat(),
        tick.refresh_ms,
    )


def track_set(view: SeaView, hours: int) -> TrackSet:
    """The thinned tracks of the last ``hours``, shared by every screen showing the page
    (:attr:`SeaView.tracks`): queried at most once every :data:`TRACK_CACHE_S`, and past that age
    still served while one background read builds the next, so no screen waits on the query once a
    set exists (one that nothing warmed, :func:`warm_page`, is read in the first request). An empty
    set past that age is not served so: warmed as the page was mounted, before the store held the
    fleet, it left a screen opened just after start-up without tracks for a whole track tick."""
    hours = hours if hours in TRACK_HOURS else DEFAULT_TRACK_HOURS

    def build() -> TrackSet:
        tracks = vq.vessel_tracks(view.pool, hours=hours, budget=TRACK_BUDGET,
                                  tolerance_deg=TRACK_TOLERANCE_DEG)
        return view.recent_tracks.add(TrackSet(version=next(view.track_versions), hours=hours,
                                               points=tracks.points, vessels=len(tracks.lines),
                                               body=track_geojson(tracks)))

    return view.tracks.get(hours, build, worth_serving_stale=lambda kept: kept.points > 0)


def track_set_named(view: SeaView, hours: int, version: int | None) -> TrackSet:
    """The set a map's URL names (``v``), the one whose note its page shows, while it is among the last
    few made; else the current one (:func:`track_set`)."""
    named = None if version is None else view.recent_tracks.get(hours, version)
    return named if named is not None else track_set(view, hours)


def warm_page(view: SeaView, hours: int = DEFAULT_TRACK_HOURS) -> threading.Thread:
    """Make the fleet's tick (in the page's language) and the default tracks in the background as the
    page is mounted, so that the first screens to open it (a room's sea screens open together) do not
    wait for cold reads."""

    def warm() -> None:
        try:
            fleet_tick(view, page_language(view.settings))
            track_set(view, hours)
        except Exception as exc:  # noqa: BLE001 - the store not up yet: the first request reads it
            log.info("sea map: not warmed: %s", exc)

    thread = threading.Thread(target=warm, name="sea-warm", daemon=True)
    thread.start()
    return thread


def tracks_update(view: SeaView, hours: int | None) -> tuple[Any, ...]:
    """What the track callback returns: where the map loads the tracks from, and a note on them."""
    ts = track_set(view, int(hours or DEFAULT_TRACK_HOURS))
    return {"url": ts.url, "hours": ts.hours, "points": ts.points, "color": TRACK, "width": 1.6}, \
        ts.note_in(page_language(view.settings))


def details_update(view: SeaView, selected: dict[str, Any] | None, hours: int | None) -> tuple[Any, ...]:
    """What the details callback returns: the panel, its class, and the selection's traces."""
    selected = selected or {}
    mmsi = selected.get("mmsi")
    seq = selected.get("seq", 0)
    if mmsi is None:
        return [], "sea-details hidden", {"traces": [], "seq": seq}
    hours = int(hours or DEFAULT_TRACK_HOURS)
    d = vq.vessel_details(view.pool, int(mmsi), hours=hours)
    if d is None:
        text = t("Vessel {mmsi}: no position stored", page_language(view.settings), mmsi=mmsi)
        return [html.Div(text, className="sea-none")], "sea-details", \
            {"traces": [], "seq": seq}
    v = d.vessel
    sev = v.alert_severity if v.in_alert else None
    focus = {"lon": v.lon, "lat": v.lat} if selected.get("focus") else None
    lang = page_language(view.settings)
    return (
        details_children(d, view.tz, hours, lang),
        "sea-details" + (f" alert-{sev}" if sev else ""),
        {"traces": selection_traces(d, view.tz, lang), "seq": seq, "focus": focus, "mmsi": v.mmsi},
    )


def register_callbacks(app: dash.Dash, view: SeaView) -> None:
    """Wire the page's callbacks onto ``app`` (never the global callback list)."""
    pace(app, "sea-tick", "sea-track-tick")

    @app.callback(
        Output("sea-vessels", "data"),
        Output("sea-counts", "children"),
        Output("sea-sim-note", "children"),
        Output("sea-alert-list", "children"),
        Output("sea-list-sig", "data"),
        Output("sea-alert-count", "children"),
        Output("sea-search", "options"),
        Output("sea-options-sig", "data"),
        Output("sea-asof", "children"),
        Output("sea-last-update", "data"),
        Output(timer_of("sea-tick"), "interval"),  # the pace of a fleet of this size
        Input("sea-tick", "n_intervals"),
        State("sea-list-sig", "data"),
        State("sea-options-sig", "data"),
    )
    def refresh_vessels(_n: int | None, list_sig: str | None, options_sig: str | None) -> tuple[Any, ...]:
        try:
            return vessels_update(view, list_sig, options_sig)
        except psycopg.Error as exc:
            log.warning("sea map: store query failed: %s", exc)
            raise PreventUpdate from None

    @app.callback(
        Output("sea-tracks", "data"),
        Output("sea-track-note", "children"),
        Input("sea-track-tick", "n_intervals"),
        Input("sea-hours", "value"),
    )
    def refresh_tracks(_n: int | None, hours: int | None) -> tuple[Any, ...]:
        try:
            return tracks_update(view, hours)
        except psycopg.Error as exc:
            log.warning("sea map: track query failed: %s", exc)
            raise PreventUpdate from None

    @app.callback(
        Output("sea-selected", "data"),
        Output("sea-search", "value"),
        Input("sea-map", "clickData"),
        Input({"type": "sea-item", "mmsi": ALL}, "n_clicks"),
        Input("sea-search", "value"),
        Input("sea-close", "n_clicks"),
        Input("sea-url", "search"),
        State("sea-selected", "data"),
        prevent_initial_call=True,
    )
    def select(click: dict | None, _items: list, search: int | None, _close: int | None, query: str | None,
               current: dict | None) -> tuple[Any, ...]:
        ctx = dash.callback_context
        trig = ctx.triggered_id
        seq = int((current or {}).get("seq", 0)) + 1
        if trig == "sea-url":  # a link's vessel (``/sea/?mmsi=574001234``), shown and centred
            mmsi = int_arg(query, "mmsi", max_digits=9)
            if mmsi is None:
                raise PreventUpdate
            return {"mmsi": mmsi, "seq": seq, "focus": True}, dash.no_update
        if trig == "sea-close":
            if not ctx.triggered[0].get("value"):
                raise PreventUpdate
            return {"mmsi": None, "seq": seq, "focus": False}, None
        if trig == "sea-map":
            points = (click or {}).get("points") or []
            mmsi = next((cd[0] for p in points if isinstance(cd := p.get("customdata"), list) and cd
                         and isinstance(cd[0], int)), None)
            if mmsi is None:
                raise PreventUpdate
            return {"mmsi": mmsi, "seq": seq, "focus": False}, dash.no_update
        if trig == "sea-search":
            if search is None:
                raise PreventUpdate
            return {"mmsi": int(search), "seq": seq, "focus": True}, dash.no_update
        if isinstance(trig, dict) and trig.get("type") == "sea-item":
            if not ctx.triggered[0].get("value"):  # a list re-rendered, nobody clicked
                raise PreventUpdate
            return {"mmsi": int(trig["mmsi"]), "seq": seq, "focus": True}, dash.no_update
        raise PreventUpdate

    @app.callback(
        Output("sea-details-body", "children"),
        Output("sea-details", "className"),
        Output("sea-selection", "data"),
        Input("sea-selected", "data"),
        Input("sea-tick", "n_intervals"),
        Input("sea-hours", "value"),
    )
    def refresh_details(selected: dict | None, _n: int | None, hours: int | None) -> tuple[Any, ...]:
        if dash.callback_context.triggered_id == "sea-tick" and not (selected or {}).get("mmsi"):
            raise PreventUpdate
        try:
            return details_update(view, selected, hours)
        except psycopg.Error as exc:
            log.warning("sea map: details query failed: %s", exc)
            raise PreventUpdate from None

    app.clientside_callback(
        ClientsideFunction("sea", "figure"),
        Output("sea-map", "figure"),
        Input("sea-vessels", "data"),
        Input("sea-tracks", "data"),
        Input("sea-selection", "data"),
        Input("sea-reset", "n_clicks"),
        State("sea-base", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("ioc", "clock"),
        Output("sea-clock", "children"),
        Output("sea-link", "children"),
        Output("sea-link", "className"),
        Input("sea-clock-tick", "n_intervals"),
        State("sea-config", "data"),
        State("sea-last-update", "data"),
    )
    app.clientside_callback(ClientsideFunction("sea", "keys"), Output("sea-keys", "data"),
                            Input("sea-config", "data"))
