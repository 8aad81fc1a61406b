"""Mounting the camera wall on the wall's server, with its key frame route."""

from __future__ import annotations

from typing import Any

import dash
from flask import Flask, Response, abort, send_file

from dashboards import components as c
from dashboards.cameras.callbacks import register_callbacks
from dashboards.cameras.layout import layout
from dashboards.cameras.model import FRAME_PREFIX, PREFIX, CameraView, safe_frame_path
from dashboards.deep_links import redirect_to_page
from ioc.config import Settings


def install_frame_route(server: Flask, view: CameraView) -> None:
    """``/cameras/frame/<camera>/<file>.jpg``: a key frame file from ``vision.keyframes_dir``, nothing else.

    A path that resolves outside the folder is refused (403); a missing file is 404. Served
    with ``Cache-Control: no-cache`` and an ETag, so a browser revalidates cheaply (304); to a
    request with a session, ``no-store`` (the login guard's rule: a control room's shared browser
    keeps nothing a logged-in officer saw).
    """

    def frame(camera_id: str, name: str) -> Response:
        path = safe_frame_path(view.keyframes_dir, camera_id, name)
        if path is None:
            abort(403)
        if not path.is_file():
            abort(404)
        resp = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=0)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    server.add_url_rule(f"{FRAME_PREFIX}<camera_id>/<path:name>", "ioc_cameras_frame", frame)


def attach(server: Flask, view: CameraView) -> dash.Dash:
    """Mount the camera wall on ``server`` under ``/cameras/``, with its frame route."""
    app = c.page_app(server, PREFIX, "Cameras", "cameras.css", "cameras.js", settings=view.settings)
    app.layout = lambda: layout(view)
    register_callbacks(app, view)
    install_frame_route(server, view)
    redirect_to_page(server, "/cameras", PREFIX)
    return app


def create_camera_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """The camera wall on ``server`` (the wall's), reading from ``pool``: ``/cameras/`` and its frames."""
    return attach(server, CameraView(pool=pool, settings=settings))
