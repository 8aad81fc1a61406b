"""The registered feeds: one line each. Everything feed-specific in the core derives from here
(the event union, topics, the writer's tables, migrations, retention, rule settings)."""

from __future__ import annotations

from ioc.feeds import cameras, environment, press, reports, security, services, vessels
from ioc.feeds.base import FeedSpec

FEEDS: tuple[FeedSpec, ...] = (
    environment.SPEC,
    vessels.SPEC,
    cameras.SPEC,
    security.SPEC,
    press.SPEC,
    services.SPEC,
    reports.SPEC,
)


def feed(name: str) -> FeedSpec:
    """The registered feed called ``name``."""
    for spec in FEEDS:
        if spec.name == name:
            return spec
    raise KeyError(f"no feed {name!r} is registered (known: {', '.join(f.name for f in FEEDS)})")
