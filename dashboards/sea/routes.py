"""Mounting the sea page on the wall's server: the Dash app, the sprite, glyphs and tracks routes."""

from __future__ import annotations

import json
import logging
from typing import Any

import dash
import psycopg
from flask import Flask, Response, request

from dashboards import components as c
from dashboards.deep_links import redirect_to_page
from dashboards.sea.basemap import SeaView
from dashboards.sea.callbacks import register_callbacks, track_set_named, warm_page
from dashboards.sea.layout import layout
from dashboards.sea.sprite import sprite
from dashboards.sea.style import DEFAULT_TRACK_HOURS, MAP_ROUTE, PREFIX
from ioc.config import Settings

log = logging.getLogger(__name__)


def _install_map_routes(server: Flask) -> None:
    """The offline map style's sprite (vessel arrows) and an empty glyph answer, once per server."""
    if "ioc_sea_sprite" in server.view_functions:
        return

    def sprite_file(name: str) -> Response:
        scale = 2 if name.startswith("sprite@2x") else 1
        index, png = sprite(scale)
        if name.endswith(".json"):
            resp = Response(json.dumps(index), mimetype="application/json")
        else:
            resp = Response(png, mimetype="image/png")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    def glyphs(fontstack: str, glyph_range: str) -> Response:  # noqa: ARG001 - the map draws no text
        return Response(b"", mimetype="application/x-protobuf")

    for name in ("sprite.json", "sprite.png", "sprite@2x.json", "sprite@2x.png"):
        endpoint = "ioc_sea_sprite" if name == "sprite.json" else f"ioc_sea_{name}"
        server.add_url_rule(MAP_ROUTE + name, endpoint, lambda name=name: sprite_file(name))
    server.add_url_rule(MAP_ROUTE + "glyphs/<path:fontstack>/<glyph_range>.pbf", "ioc_sea_glyphs", glyphs)


def _install_track_route(server: Flask, view: SeaView) -> None:
    """``/sea/_map/tracks.geojson?hours=3&v=7``: the thinned tracks the map draws, the set its URL names
    (see :func:`track_set_named`)."""
    if "ioc_sea_tracks" in server.view_functions:
        return

    def tracks_geojson() -> Response:
        try:
            hours = int(request.args.get("hours", DEFAULT_TRACK_HOURS))
        except ValueError:
            hours = DEFAULT_TRACK_HOURS
        try:
            version = int(request.args["v"]) if request.args.get("v", "").isdigit() else None
        except ValueError:
            version = None
        try:
            ts = track_set_named(view, hours, version)
        except psycopg.Error as exc:
            log.warning("sea map: track query failed: %s", exc)
            return Response("store unavailable", status=503, mimetype="text/plain")
        resp = Response(ts.body, mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    server.add_url_rule(MAP_ROUTE + "tracks.geojson", "ioc_sea_tracks", tracks_geojson)


def attach(server: Flask, view: SeaView) -> dash.Dash:
    """Mount the sea map on ``server`` under ``/sea/``."""
    app = c.page_app(server, PREFIX, "Sea map", "sea.css", "sea.js", settings=view.settings)
    app.layout = lambda: layout(view)
    register_callbacks(app, view)
    _install_map_routes(server)
    _install_track_route(server, view)
    warm_page(view)
    redirect_to_page(server, "/sea", PREFIX)
    return app


def create_sea_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """The sea map on ``server`` (the wall's), reading from ``pool``: ``/sea/`` and ``/sea/_map/...``."""
    return attach(server, SeaView.build(pool, settings))
