"""The camera wall's callbacks: tiles every tick, the selection, the detail and its chart."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import dash
import psycopg
from dash import ALL, ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboards import components as c
from dashboards.cameras.figures import alert_rows, count_figure, health_facts
from dashboards.cameras.health import Health, camera_health, fault_limits
from dashboards.cameras.model import CHART_MINUTES, DETAIL_ALERTS, CameraView, counts_by_camera, frame_url
from dashboards.cameras.tiles import TILE_PARTS, counts_block, frame_caption, tile_update
from dashboards.cameras.traffic import traffic_block
from dashboards.deep_links import query_arg, time_arg
from dashboards.formats import Formats
from dashboards.i18n import page_language, t
from dashboards.pacing import pace
from dashboards.shared_reads import SharedReads
from ioc.feeds.cameras.traffic_queries import latest_traffic
from ioc.store import camera_queries as cq

log = logging.getLogger(__name__)


def _summary(healths: Sequence[Health], alerts: dict[str, list[cq.CameraAlert]],
             lang: str = "en") -> list[Any]:
    n = len(healths)
    live = sum(1 for h in healths if h.state in ("ok", "fault"))
    offline = sum(1 for h in healths if h.state == "offline")
    faulty = sum(1 for h in healths if h.state == "fault")
    open_alerts = sum(len(v) for v in alerts.values())
    parts: list[Any] = [html.Span(t("{live} / {n} live", lang, live=live, n=n), className="cam-pill")]
    if offline:
        parts.append(html.Span(t("{n} offline", lang, n=offline), className="cam-pill cam-pill-bad"))
    if faulty:
        parts.append(html.Span(t("{n} faulty", lang, n=faulty), className="cam-pill cam-pill-bad"))
    text = (t.plural("{n} open alert", "{n} open alerts", open_alerts, lang) if open_alerts
            else t("no open alerts", lang))
    parts.append(html.Span(text, className="cam-pill" + (" cam-pill-warn" if open_alerts else "")))
    return parts


def register_callbacks(app: dash.Dash, view: CameraView) -> None:
    """Wire the page's callbacks onto ``app`` (never the global callback list)."""
    tz = view.tz
    shared = SharedReads(view.settings.web.shared_read_s)

    pace(app, "cam-tick", "cam-chart-tick")

    @app.callback(
        *[Output({"type": kind, "camera": ALL}, prop) for _, kind, prop in TILE_PARTS],
        Output("cam-summary", "children"),
        Output("cam-asof", "children"),
        Output("cam-last-update", "data"),
        Input("cam-tick", "n_intervals"),
    )
    def refresh_tiles(_n: int | None) -> tuple[Any, ...]:
        ids = [o["id"]["camera"] for o in dash.ctx.outputs_list[0]]

        def read() -> tuple[Any, ...]:
            counts = counts_by_camera(cq.latest_counts(view.pool, camera_ids=ids))
            return cq.camera_statuses(view.pool, ids), counts, cq.open_camera_alerts(view.pool, ids)

        try:
            snap, counts, alerts = shared.get(("tiles", tuple(ids)), read)
        except psycopg.Error as exc:
            log.warning("cameras: store query failed: %s", exc)
            raise PreventUpdate from None
        now = snap.as_of
        lang = page_language(view.settings)
        f = Formats(lang, view.settings.timezone)
        updates, healths = [], []
        for cam_id in ids:
            status = snap.get(cam_id)
            cam_alerts = alerts.get(cam_id, [])
            health = camera_health(status, cam_alerts, fault_limits(view.settings, cam_id), now)
            healths.append(health)
            updates.append(tile_update(view.info(cam_id), status, health, cam_alerts, counts.get(cam_id),
                                       now, f))
        columns = [[getattr(u, name) for u in updates] for name, _, _ in TILE_PARTS]
        asof = t("Data as of {time}", lang, time=f.time(now))
        return (*columns, _summary(healths, alerts, lang), asof, now.isoformat())

    @app.callback(
        Output("cam-selected", "data"),
        Output("cam-at", "data"),
        Input({"type": "cam-tile", "camera": ALL}, "n_clicks"),
        Input("cam-detail-close", "n_clicks"),
        Input("cam-url", "search"),
        prevent_initial_call=True,
    )
    def select(_tiles: list[int | None], _close: int | None, query: str | None) -> tuple[Any, Any]:
        trigger = dash.ctx.triggered_id
        if trigger == "cam-detail-close":
            return None, None
        if trigger == "cam-url":  # ``?camera=<id>&at=<ISO time>``: the camera, at the alert's time
            camera = query_arg(query, "camera")
            if camera is None:
                raise PreventUpdate
            at = time_arg(query, "at")
            return camera, at.isoformat() if at else None
        if isinstance(trigger, dict) and trigger.get("type") == "cam-tile":
            if not any(t.get("value") for t in dash.ctx.triggered):
                raise PreventUpdate  # a tile (re)appeared; nobody clicked
            return str(trigger["camera"]), None
        raise PreventUpdate

    @app.callback(
        Output("cam-detail", "className"),
        Output("cam-detail-title", "children"),
        Output("cam-detail-badge", "children"),
        Output("cam-detail-badge", "className"),
        Output("cam-detail-img", "src"),
        Output("cam-detail-cap", "children"),
        Output("cam-detail-health", "children"),
        Output("cam-detail-counts", "children"),
        Output("cam-detail-traffic", "children"),
        Output("cam-detail-alerts", "children"),
        Input("cam-tick", "n_intervals"),
        Input("cam-selected", "data"),
        Input("cam-at", "data"),
    )
    def refresh_detail(_n: int | None, selected: str | None, at: str | None) -> tuple[Any, ...]:
        if not selected:
            return ("cam-detail",) + (dash.no_update,) * 9
        try:
            pinned = cq.keyframe_at(view.pool, selected, datetime.fromisoformat(at)) if at else None
            snap = cq.camera_statuses(view.pool, [selected])
            counts = counts_by_camera(cq.latest_counts(view.pool, camera_ids=[selected]))
            open_alerts = cq.open_camera_alerts(view.pool, [selected]).get(selected, [])
            alerts = cq.camera_alerts(view.pool, selected, limit=DETAIL_ALERTS)
            traffic = latest_traffic(view.pool, selected)
        except psycopg.Error as exc:
            log.warning("cameras: store query failed: %s", exc)
            raise PreventUpdate from None
        now = snap.as_of
        info = view.info(selected)
        status = snap.get(selected)
        health = camera_health(status, open_alerts, fault_limits(view.settings, selected), now)
        kf = pinned or (status.keyframe if status else None)
        f = Formats.of(view.settings)
        cap = frame_caption(kf, f, size=True) or t("no key frame yet", f.lang)
        if pinned is not None:  # the officer came for the alert's moment: say this is not the newest frame
            cap = t("At the alert's time: {caption}", f.lang, caption=cap)
        return (
            f"cam-detail cam-open cam-{health.state}",
            c.place(info.name, info.area),
            health.shown(f.lang),
            f"cam-badge cam-badge-{health.state}",
            frame_url(kf) or "",
            cap,
            health_facts(status, health, f),
            counts_block(info, counts.get(selected), now, f),
            traffic_block(traffic, f),
            alert_rows(alerts, now, f),
        )

    @app.callback(
        Output("cam-detail-chart", "figure"),
        Input("cam-chart-tick", "n_intervals"),
        Input("cam-selected", "data"),
    )
    def refresh_chart(_n: int | None, selected: str | None) -> dict:
        if not selected:
            raise PreventUpdate
        try:
            snap = cq.camera_statuses(view.pool, [selected])
            rows = cq.camera_counts(view.pool, selected, minutes=CHART_MINUTES)
        except psycopg.Error as exc:
            log.warning("cameras: store query failed: %s", exc)
            raise PreventUpdate from None
        end = snap.as_of
        return count_figure(rows, view.info(selected), end - timedelta(minutes=CHART_MINUTES), end, tz,
                            view.rule_levels(selected), page_language(view.settings))

    app.clientside_callback(ClientsideFunction("cameras", "keys"), Output("cam-keys-sink", "data"),
                            Input("cam-config", "data"))
    app.clientside_callback(ClientsideFunction("cameras", "focus"), Output("cam-focus-sink", "data"),
                            Input("cam-selected", "data"),
                            prevent_initial_call=True)
    app.clientside_callback(
        ClientsideFunction("ioc", "clock"),
        Output("cam-clock", "children"),
        Output("cam-link-status", "children"),
        Output("cam-link-status", "className"),
        Input("cam-clock-tick", "n_intervals"),
        State("cam-config", "data"),
        State("cam-last-update", "data"),
    )
