"""The pages: one line each. The app mounts them in this order and the wall's navigation lists them.

A page is a path, a label (a message id of the ``dashboards`` catalogue) and a builder that adds
it to the Flask server the wall runs on and returns its Dash app (for the security headers), or
``None`` for plain Flask routes. Adding a feed's page is one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from ioc.config import Settings

Builder = Callable[[Flask, Any, Settings], Any]


def _sea(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.sea import create_sea_page

    return create_sea_page(server, pool, settings)


def _cameras(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.cameras import create_camera_page

    return create_camera_page(server, pool, settings)


def _console(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.console import create_console

    return create_console(server, pool, settings)


def _security(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.security import create_security_page

    return create_security_page(server, pool, settings)


def _services(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.services import create_services_page

    return create_services_page(server, pool, settings)


def _reports(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.reports.page import register_reports_page

    register_reports_page(server, pool, settings)
    return None


def _press(server: Flask, pool: Any, settings: Settings) -> Any:
    from dashboards.press import create_press_page

    return create_press_page(server, pool, settings)


@dataclass(frozen=True)
class Page:
    """One page of the wall's server."""

    path: str
    label: str
    build: Builder
    nav: int | None  # place in the wall's navigation (None: not listed)


#: mounted in this order (the console first: it installs the login guard the others rely on)
PAGES: tuple[Page, ...] = (
    Page("/console/", "Console", _console, nav=3),
    Page("/sea/", "Sea map", _sea, nav=1),
    Page("/cameras/", "Cameras", _cameras, nav=2),
    Page("/security/", "Security", _security, nav=4),
    Page("/reports/", "Reports", _reports, nav=5),
    Page("/press/", "Press", _press, nav=6),
    Page("/services/", "Public services", _services, nav=7),
)

#: how many pages the wall's header links to directly; the others are under its "More" menu
#: (a sixth pill overlaps the header at 1366 x 768)
NAV_PILLS = 4


def navigation() -> list[Page]:
    """The pages the wall links to, in their navigation order."""
    return sorted((p for p in PAGES if p.nav is not None), key=lambda p: p.nav or 0)


def navigation_split() -> tuple[list[Page], list[Page]]:
    """The pages linked directly from the wall's header, and those under its "More" menu."""
    pages = navigation()
    return pages[:NAV_PILLS], pages[NAV_PILLS:]
