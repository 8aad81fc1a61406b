"""Mounting the console (and login) on the wall's server."""

from __future__ import annotations

from typing import Any

import dash
from flask import Flask

from alerts.people import People
from alerts.service import AlertService
from alerts.settings import AlertSettings
from dashboards import auth
from dashboards import components as c
from dashboards.console.callbacks import register_callbacks
from dashboards.console.layout import layout
from dashboards.console.view import PREFIX, ConsoleView
from dashboards.deep_links import redirect_to_page
from dashboards.http_security import origin
from ioc.config import Settings


def attach(server: Flask, view: ConsoleView) -> dash.Dash:
    """Mount the console on ``server`` under ``/console/``."""
    app = c.page_app(server, PREFIX, "Duty console", "console.css", "console.js",
                     settings=view.settings)
    app.layout = lambda: layout(view)
    register_callbacks(app, view)

    redirect_to_page(server, "/console", PREFIX)
    return app


def create_console(
    server: Flask,
    pool: Any,
    settings: Settings,
    alert_settings: AlertSettings | None = None,
    clock: Any = None,
) -> dash.Dash:
    """Login, sessions, CSRF and the console on ``server`` (the wall's), reading from ``pool``."""
    from alerts.settings import alert_settings as read_settings

    cfg = alert_settings or read_settings(settings)
    kwargs = {"clock": clock} if clock is not None else {}
    service = AlertService(pool, cfg, **kwargs)
    people = People(pool, cfg.auth, **kwargs)
    auth.install(
        server,
        people,
        cfg.auth,
        title=settings.web.title,  # said in the login page's language; the city's name follows
        city=settings.city,
        trusted_proxies=settings.web.trusted_proxies,
        extra_origins=[o for o in [origin(settings.web.map_tiles_url)] if o],
        language=settings.web.language,
    )
    view = ConsoleView(service=service, people=people, settings=settings, alert_settings=cfg)
    return attach(server, view)
