"""The sea page's callbacks: vessels every tick, tracks every few, the selection and its details."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import dash
import psycopg
from dash import ALL, ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboards.formats import Formats
from dashboards.i18n import page_language, t
from dashboards.sea.basemap import SeaView, TrackSet
from dashboards.sea.layout import vessel_refresh_ms
from dashboards.sea.panel import alert_items, counts_children, details_children, simulated_note
from dashboards.sea.style import (
    DEFAULT_TRACK_HOURS,
    TRACK,
    TRACK_BUDGET,
    TRACK_CACHE_S,
    TRACK_HOURS,
    TRACK_STALE_PERIODS,
    TRACK_TOLERANCE_DEG,
)
from dashboards.sea.vessels import classify, selection_traces, track_geojson, vessel_trace
from dashboards.shared_reads import SharedReads
from ioc.store import vessel_queries as vq

log = logging.getLogger(__name__)


def vessels_update(view: SeaView, list_sig: str | None, options_sig: str | None,
                   shared: SharedReads | None = None) -> tuple[Any, ...]:
    """What the tick callback returns: markers, header counts, the alert list and search options
    (each only when changed), the data time. What every screen in one language gets alike is made
    once per ``shared`` read."""
    f = Formats.of(view.settings)
    lang = f.lang

    def made() -> tuple[Any, ...]:
        snap = vq.latest_vessels(view.pool)
        rows = classify(snap, view.ports)
        flagged = sorted((r.vessel.mmsi, r.vessel.label, r.vessel.alert_severity, r.vessel.alert_detectors,
                          r.vessel.alerts_open, r.vessel.simulated) for r in rows if r.vessel.in_alert)
        names = [(r.vessel.mmsi, r.vessel.label) for r in rows]
        options = [{"label": f"{label} · {mmsi}" if label != str(mmsi) else label, "value": mmsi}
                   for mmsi, label in sorted(names, key=lambda x: x[1])]
        return (snap, {"traces": [vessel_trace(rows, snap.as_of, f)], "count": len(rows)},
                counts_children(rows, lang), simulated_note(rows, lang), alert_items(rows, lang=lang),
                str(hash(json.dumps(flagged, default=str))), len(flagged), options,
                str(hash(json.dumps(names))), vessel_refresh_ms(view.settings, len(rows)))

    snap, markers, counts, note, items, sig, n_alert, options, osig, refresh_ms = (
        made() if shared is None else shared.get(("vessels", lang), made))
    return (
        markers,
        counts,
        note,
        items if sig != list_sig else dash.no_update,
        sig,
        f.number(n_alert) if n_alert else t("none", lang),
        options if osig != options_sig else dash.no_update,
        osig,
        t("Data as of {time}", lang, time=f.time(snap.as_of)),
        snap.as_of.isoformat(),
        refresh_ms,
    )


def track_set(view: SeaView, hours: int, max_age_s: float | None = None) -> TrackSet:
    """The thinned tracks of the last ``hours``, queried at most once every ``max_age_s``
    (default :data:`TRACK_CACHE_S`) whatever the number of screens showing the page.

    A set past that age is still served while one background refresh builds the next, so no screen
    waits on the query; only a set older than :data:`TRACK_STALE_PERIODS` ages (the store failing
    to answer) is rebuilt in the request, which then sees the store's error. Only the first request
    for a window length that nothing warmed (:func:`warm_page`) waits for the query."""
    hours = hours if hours in TRACK_HOURS else DEFAULT_TRACK_HOURS
    max_age_s = TRACK_CACHE_S if max_age_s is None else max_age_s
    with view.track_lock:
        cached = view.track_cache.get(hours)
        age = time.monotonic() - cached.created if cached is not None else None
        if cached is not None and age is not None and age < max_age_s:
            return cached
        if cached is not None and age is not None and age < max_age_s * TRACK_STALE_PERIODS:
            if hours not in view.track_refreshing:
                view.track_refreshing.add(hours)
                threading.Thread(target=_refresh_tracks, args=(view, hours, max_age_s),
                                 name=f"sea-tracks-{hours}h", daemon=True).start()
            return cached
    return _build_tracks(view, hours, max_age_s)


def _build_tracks(view: SeaView, hours: int, max_age_s: float) -> TrackSet:
    """Query, thin and encode the tracks of ``hours`` once, however many callers need them at once."""
    with view.track_build_lock:
        with view.track_lock:  # built by another caller while this one waited
            cached = view.track_cache.get(hours)
            if cached is not None and time.monotonic() - cached.created < max_age_s:
                return cached
        tracks = vq.vessel_tracks(view.pool, hours=hours, budget=TRACK_BUDGET,
                                  tolerance_deg=TRACK_TOLERANCE_DEG)
        body = track_geojson(tracks)
        with view.track_lock:
            version = max((t.version for t in view.track_cache.values()), default=0) + 1
            fresh = TrackSet(version=version, created=time.monotonic(), hours=hours,
                             points=tracks.points, vessels=len(tracks.lines), body=body)
            view.track_cache[hours] = fresh
    return fresh


def _refresh_tracks(view: SeaView, hours: int, max_age_s: float) -> None:
    """The background refresh :func:`track_set` starts; a failure leaves the old set to age out."""
    try:
        _build_tracks(view, hours, max_age_s)
    except Exception as exc:  # noqa: BLE001 - the store down or closing: the next request sees it
        log.warning("sea map: track refresh failed: %s", exc)
    finally:
        with view.track_lock:
            view.track_refreshing.discard(hours)


def warm_page(view: SeaView, hours: int = DEFAULT_TRACK_HOURS) -> threading.Thread:
    """Read the fleet and build the default tracks in the background as the page is mounted, so that
    the first screens to open it (a room's sea screens open together) do not wait for cold reads."""

    def warm() -> None:
        try:
            vq.latest_vessels(view.pool)
            _build_tracks(view, hours, TRACK_CACHE_S)
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
    shared = SharedReads(view.settings.web.shared_read_s)

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
        Output("sea-tick", "interval"),
        Input("sea-tick", "n_intervals"),
        State("sea-list-sig", "data"),
        State("sea-options-sig", "data"),
    )
    def refresh_vessels(_n: int | None, list_sig: str | None, options_sig: str | None) -> tuple[Any, ...]:
        try:
            return vessels_update(view, list_sig, options_sig, shared)
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
        State("sea-selected", "data"),
        prevent_initial_call=True,
    )
    def select(click: dict | None, _items: list, search: int | None, _close: int | None,
               current: dict | None) -> tuple[Any, ...]:
        ctx = dash.callback_context
        trig = ctx.triggered_id
        seq = int((current or {}).get("seq", 0)) + 1
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
