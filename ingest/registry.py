"""The registry of feeds: a ``[[feeds]]`` entry's ``kind`` picks the feed package that builds its worker.

Adding a feed means one subpackage with a ``KINDS`` set and a builder, and one line here.
Every worker has ``run(stop)`` and a ``health`` mapping (a live dict or a property).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import ingest.environment as environment
import ingest.vessels as vessels
from ioc.bus.base import Publisher
from ioc.cells import CellRouter
from ioc.config import FeedSettings, Settings


class FeedWorker(Protocol):
    """What the runtime needs of an ingest worker."""

    def run(self, stop: Any) -> None: ...

    @property
    def health(self) -> Mapping[str, Any]: ...


class UnknownFeedKind(ValueError):
    """No feed package knows this ``kind``."""


def _environment(feed: FeedSettings, settings: Settings, publisher: Publisher) -> FeedWorker:
    source = environment.build_source(feed, settings, settings.samples_dir)
    return environment.EnvironmentWorker(source, publisher, feed_name=feed.name)


def _vessels(feed: FeedSettings, settings: Settings, publisher: Publisher) -> FeedWorker:
    return vessels.build_worker(feed, publisher, settings.samples_dir, cells=CellRouter(settings.bus.cells))


FEEDS: list[tuple[frozenset[str], Callable[[FeedSettings, Settings, Publisher], FeedWorker]]] = [
    (environment.KINDS, _environment),
    (vessels.KINDS, _vessels),
]


def check_feed_options(feed: FeedSettings, settings: Settings) -> None:
    """Raise ``ValueError`` with the reason when a feed's kind or options are invalid (nothing runs)."""
    if feed.kind in vessels.KINDS:
        vessels.feed_options(feed)
    elif feed.kind in environment.KINDS:
        environment.build_source(feed, settings, settings.samples_dir)
    else:
        known = sorted(k for kinds, _ in FEEDS for k in kinds)
        raise UnknownFeedKind(f"feed {feed.name!r}: unknown kind {feed.kind!r} (known: {', '.join(known)})")


def build_feed_worker(feed: FeedSettings, settings: Settings, publisher: Publisher) -> FeedWorker:
    """The worker of one configured feed."""
    for kinds, build in FEEDS:
        if feed.kind in kinds:
            return build(feed, settings, publisher)
    known = sorted(k for kinds, _ in FEEDS for k in kinds)
    raise UnknownFeedKind(f"feed {feed.name!r}: unknown kind {feed.kind!r} (known: {', '.join(known)})")
