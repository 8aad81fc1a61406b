"""The Dash application of the operations centre: built from a pool and settings, no globals.

``create_app`` closes the pages over the store's connection pool and the
city's settings, registers their callbacks on this app only (so several
apps can live in one process, as the tests do) and adds ``/healthz``, ``/api/freshness``
(the truth banner of every page) and the room's screens (``/screen/<name>``, ``/screens/``).
"""

from __future__ import annotations

import pkgutil
from functools import partial

import dash
from flask import Response, abort, request
from psycopg_pool import ConnectionPool

from dashboards import auth, callback_refusals, freshness, i18n, wall
from dashboards import components as c
from dashboards.page_pool import PagePool
from dashboards.registry import PAGES
from dashboards.screens import register_screens
from ioc.config import Settings


def create_app(pool: ConnectionPool, settings: Settings, caps_label: str = "") -> dash.Dash:
    """The wall as a Dash app reading from ``pool``; serve ``app.server`` with any WSGI server."""
    pool = PagePool(pool)  # type: ignore[assignment]  # pages wait seconds for a connection, not the pool's 30
    app = c.titled_dash()(
        __name__,
        title=f"{settings.web.title} · {settings.city}",
        ioc_title=(settings.web.title, settings),  # the tab's title in the reader's language
        update_title=None,  # keep the tab title still while callbacks run
        assets_folder=str(c.ASSETS),
        assets_ignore=c.assets_only("wall.css", "wall.js"),  # the other pages' assets are theirs
        serve_locally=True,  # a control room may have no internet
    )
    i18n.install(app.server, settings.web.language)  # ?lang= remembered; refusals in the language
    callback_refusals.install(app.server, settings.web.language)  # a forged callback request: 400
    view = wall.WallView(pool=pool, settings=settings, caps_label=caps_label)
    app.layout = partial(wall.layout, view)
    wall.register_callbacks(app, view)
    pages = [page.build(app.server, pool, settings) for page in PAGES]  # dashboards/registry.py
    freshness.install(app.server, pool, settings)  # what every page's truth banner asks
    register_screens(app.server, pool, settings)  # /screen/<name> and the admin page /screens/
    guard = auth.Auth.of(app.server)
    if guard is not None:  # the Content Security Policy allows these pages' inline scripts by hash
        guard.headers.allow_pages(app, *(p for p in pages if p is not None))

    @app.server.before_request
    def no_such_page() -> None:
        """Every page is one page at its prefix: Dash's catch-all route under it (``/<path>``,
        ``/sea/<path>``) would answer any address with that page, a mistyped link or a scanner's
        probe with ``200`` and the wall. Such an address is ``404``."""
        rule = request.url_rule
        if rule is not None and rule.endpoint == rule.rule and rule.rule.endswith("<path:path>"):
            abort(404)

    @app.server.route("/favicon.ico", endpoint="ioc_favicon")
    def favicon() -> Response:
        """What every browser asks of a site's root, for every page (a 404 is an error in its log)."""
        return Response(pkgutil.get_data("dash", "favicon.ico"), mimetype="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.server.route("/healthz", endpoint="ioc_healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    return app
