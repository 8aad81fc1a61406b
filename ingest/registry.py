"""The registry of ingest packages: one line each; cameras go through it like every feed.

A package contributes the workers of the configured sources it reads: ``[[feeds]]`` entries of
its ``kind`` (environment, vessels) or ``[[cameras]]`` (cameras). Every worker has
``run(stop)`` and ``feed_health()``, its typed :class:`~ioc.health.FeedHealth` (the runtime's heartbeat
and the pages read that; a worker's own ``health`` counters are its tests' and its details').
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import ingest.environment as environment
import ingest.press as press
import ingest.reports as reports
import ingest.security as security
import ingest.services as services
import ingest.vessels as vessels
from ioc.bus.base import Publisher
from ioc.cells import CellRouter
from ioc.config import FeedSettings, Settings
from ioc.health import FeedHealth


class FeedWorker(Protocol):
    """What the runtime needs of an ingest worker."""

    def run(self, stop: Any) -> None: ...

    def feed_health(self) -> FeedHealth: ...


class UnknownFeedKind(ValueError):
    """No feed package knows this ``kind``."""


@dataclass(frozen=True)
class Source:
    """One configured source: its name (feed name or camera id), its role label and how to build it."""

    name: str
    label: str
    build: Callable[[Publisher], FeedWorker]


WorkerBuilder = Callable[[FeedSettings, Settings, Publisher], FeedWorker]


def _feeds(kinds: frozenset[str], make: WorkerBuilder) -> Callable[[Settings], list[Source]]:
    """The sources of the enabled ``[[feeds]]`` entries of ``kinds``, each built by ``make``."""
    def sources(settings: Settings) -> list[Source]:
        return [Source(f.name, f"ingest:{f.name}", partial(make, f, settings)) for f in settings.feeds
                if f.enabled and f.kind in kinds]

    return sources


def _cameras(settings: Settings) -> list[Source]:
    def build(cam: Any) -> Callable[[Publisher], FeedWorker]:
        def worker(publisher: Publisher) -> FeedWorker:
            from ingest.cameras import CameraWorker  # OpenCV is loaded only where cameras run

            return CameraWorker(cam, publisher, vision=settings.vision, samples_dir=settings.samples_dir,
                                timezone=settings.timezone)  # key frames in the city's local time

        return worker

    return [Source(c.id, f"camera:{c.id}", build(c)) for c in settings.cameras if c.enabled]


#: (``[[feeds]]`` kinds it reads, the sources it configures): one line per ingest package
INGEST: tuple[tuple[frozenset[str], Callable[[Settings], list[Source]]], ...] = (
    (environment.KINDS, _feeds(environment.KINDS, lambda f, s, p: environment.EnvironmentWorker(
        environment.build_source(f, s, s.samples_dir), p, feed_name=f.name))),
    (vessels.KINDS, _feeds(vessels.KINDS, lambda f, s, p: vessels.build_worker(
        f, p, s.samples_dir, cells=CellRouter(s.bus.cells)))),
    (security.KINDS, _feeds(security.KINDS, lambda f, s, p: security.build_worker(f, p, s.samples_dir))),
    (press.KINDS, _feeds(press.KINDS, lambda f, s, p: press.build_worker(f, p, s.samples_dir))),
    (services.KINDS, _feeds(services.KINDS, lambda f, s, p: services.build_worker(f, p, s.samples_dir))),
    (reports.KINDS, _feeds(reports.KINDS, lambda f, s, p: reports.build_worker(
        f, p, s.database.dsn, s.samples_dir, language=s.web.language))),
    (frozenset(), _cameras),  # [[cameras]]
)


def configured_sources(settings: Settings) -> list[Source]:
    """Every enabled source of ``settings``, of every ingest package; an unknown feed kind is an error."""
    known = {k for kinds, _ in INGEST for k in kinds}
    for feed in settings.feeds:
        if feed.kind not in known:
            raise UnknownFeedKind(f"feed {feed.name!r}: unknown kind {feed.kind!r} "
                                  f"(known: {', '.join(sorted(known))})")
    return [source for _, sources in INGEST for source in sources(settings)]


def check_feed_options(feed: FeedSettings, settings: Settings) -> None:
    """Raise ``ValueError`` with the reason when a feed's kind or options are invalid (nothing runs)."""
    if feed.kind in vessels.KINDS:
        vessels.feed_options(feed)
    elif feed.kind in environment.KINDS:
        environment.build_source(feed, settings, settings.samples_dir)
    elif feed.kind in security.KINDS:
        security.feed_options(feed)
    elif feed.kind in press.KINDS:
        press.feed_options(feed)
    elif feed.kind in services.KINDS:
        services.feed_options(feed)
    elif feed.kind in reports.KINDS:
        reports.feed_options(feed, settings.samples_dir)
    else:
        known = sorted(k for kinds, _ in INGEST for k in kinds)
        raise UnknownFeedKind(f"feed {feed.name!r}: unknown kind {feed.kind!r} (known: {', '.join(known)})")


def build_feed_worker(feed: FeedSettings, settings: Settings, publisher: Publisher) -> FeedWorker:
    """The worker of one configured feed."""
    for source in configured_sources(settings.model_copy(update={"feeds": [feed], "cameras": []})):
        return source.build(publisher)
    raise UnknownFeedKind(f"feed {feed.name!r} is disabled")
