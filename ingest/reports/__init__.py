"""Ingest of citizens' field reports: the Open311 GeoReport v2 intake (a WSGI app served by waitress).

A ``[[feeds]]`` entry of kind ``open311`` has the :class:`ReportsFeed` options (inline, or from
``settings_file``) plus ``host`` and ``port`` (0: any free one); ``GET requests`` reads the store named
by ``[database] dsn`` (in ``ioc demo``: its private PostgreSQL). Staff status changes queued in the
store's outbox are relayed to the bus from here. ``simulate_days`` (a SIMULATED backfill put on the
bus at start) and ``simulate_per_hour`` (SIMULATED reports posted to the intake over HTTP while it
runs) are for the demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ioc.bus.base import Publisher

KINDS = frozenset({"open311"})


def feed_options(feed: Any, samples_dir: Path) -> Any:
    """The feed's :class:`ReportsFeed` (``ValueError`` with the reason when its options are wrong)."""
    from ioc.feeds.reports.config import split_options

    try:
        return split_options(feed.options, samples_dir)[0]
    except OSError as exc:
        raise ValueError(f"feed {feed.name!r}: settings_file: {exc}") from None


def build_worker(feed: Any, publisher: Publisher, database_dsn: str | None, samples_dir: Path,
                 language: str = "en") -> Any:
    """The Open311 worker of one ``[[feeds]]`` entry; it answers errors in ``language`` (the city's)
    unless a request's ``Accept-Language`` asks for another."""
    from psycopg_pool import ConnectionPool

    from ingest.reports.reader import StoreReportReader
    from ingest.reports.relay import OutboxRelay
    from ingest.reports.worker import Open311Worker
    from ioc.config import ConfigError
    from ioc.feeds.reports.config import split_options

    cfg, own = split_options(feed.options, samples_dir)
    host, port = str(own.get("host", "127.0.0.1")), int(own.get("port", 8311))
    if not database_dsn:
        raise ConfigError("feed {name}: the Open311 intake reads the store: set [database] dsn",
                          name=repr(feed.name))
    # autocommit: the intake's reads are single statements (no BEGIN/COMMIT round trips per post);
    # the outbox relay opens its own transaction
    pool = ConnectionPool(database_dsn, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True)
    worker = Open311Worker(cfg, publisher, StoreReportReader(pool), host=host, port=port, feed=feed.name,
                           on_stop=pool.close, language=language)
    worker.loops.append(OutboxRelay(pool, worker.publish_changes, worker.dead_letter).run)
    if own.get("simulate_days") or own.get("simulate_per_hour"):
        from ingest.reports.simulator import DemoSimulator

        sim = DemoSimulator(cfg, worker, days=int(own.get("simulate_days", 0)),
                            per_hour=float(own.get("simulate_per_hour", 0)),
                            seed=int(own.get("simulate_seed", 7)))
        worker.loops.append(sim.run)
    return worker
