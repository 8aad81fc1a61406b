"""Environment feed: air, water and weather readings from CSV replay, OpenAQ and SensorThings.

Each adapter module turns its source into :class:`EnvironmentReading` records and
has a ``from_feed(feed, settings, samples_dir, now)`` factory; :data:`SOURCE_FACTORIES` maps a
feed ``kind`` to it (adding an adapter = one module + one line here). The
:class:`~ingest.environment.worker.EnvironmentWorker` publishes what a source makes due.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ioc.config import FeedSettings, Settings

from . import csv_replay, openaq, sensorthings
from .base import Clock, EnvironmentSource, FeedConfigError, Rejected, SourceUnavailable, utc_now
from .csv_replay import CsvReplaySource
from .openaq import OpenAqSource
from .sensorthings import SensorThingsSource
from .worker import EnvironmentWorker, dead_letter_record

SourceFactory = Callable[[FeedSettings, Settings, Path, Clock], EnvironmentSource]

SOURCE_FACTORIES: dict[str, SourceFactory] = {
    "csv_replay": csv_replay.from_feed,
    "openaq": openaq.from_feed,
    "sensorthings": sensorthings.from_feed,
}
KINDS: frozenset[str] = frozenset(SOURCE_FACTORIES)


def build_source(
    feed: FeedSettings, settings: Settings, samples_dir: Path, now: Clock = utc_now
) -> EnvironmentSource:
    """The source of one ``[[feeds]]`` entry; :class:`FeedConfigError` for an unknown kind or bad options."""
    factory = SOURCE_FACTORIES.get(feed.kind)
    if factory is None:
        raise FeedConfigError(
            f"feed {feed.name!r}: unknown environment feed kind {feed.kind!r} (known: {sorted(KINDS)})"
        )
    return factory(feed, settings, Path(samples_dir), now)


__all__ = [
    "KINDS",
    "SOURCE_FACTORIES",
    "CsvReplaySource",
    "EnvironmentSource",
    "EnvironmentWorker",
    "FeedConfigError",
    "OpenAqSource",
    "Rejected",
    "SensorThingsSource",
    "SourceUnavailable",
    "build_source",
    "dead_letter_record",
]
