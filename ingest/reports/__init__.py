"""Ingest of citizens' field reports: the Open311 GeoReport v2 intake (a WSGI app served by waitress).

A ``[[feeds]]`` entry of kind ``open311`` has the :class:`ReportsFeed` options plus ``host`` and
``port``; ``GET requests`` reads the store named by ``[database] dsn``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ioc.bus.base import Publisher

KINDS = frozenset({"open311"})


def build_worker(feed: Any, publisher: Publisher, database_dsn: str | None, samples_dir: Path) -> Any:
    """The Open311 worker of one ``[[feeds]]`` entry."""
    from psycopg_pool import ConnectionPool

    from ingest.reports.reader import StoreReportReader
    from ingest.reports.worker import Open311Worker
    from ioc.config import ConfigError
    from ioc.feeds.reports.settings import ReportsFeed

    options = dict(feed.options)
    host, port = str(options.pop("host", "127.0.0.1")), int(options.pop("port", 8311))
    cfg = ReportsFeed.model_validate(options)
    if not Path(cfg.photo_dir).is_absolute():
        cfg = cfg.model_copy(update={"photo_dir": str(samples_dir.parent / cfg.photo_dir)})
    if not database_dsn:
        raise ConfigError(f"feed {feed.name!r}: the Open311 intake reads the store: set [database] dsn")
    pool = ConnectionPool(database_dsn, min_size=1, max_size=8, open=True)
    return Open311Worker(cfg, publisher, StoreReportReader(pool), host=host, port=port, feed=feed.name,
                         on_stop=pool.close)
