"""How fresh each feed's data is: when the store last took a record of it.

The writer keeps ``stored_counts`` (one row per record kind: how many, and when the last batch
was written), so the answer costs one small read however large the tables grow. A feed's last
good data is the newest ``last_write`` of its kinds (a feed's kinds come from its declaration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool

from ioc.feeds import FEEDS


@dataclass(frozen=True)
class FeedFreshness:
    """When one feed's records were last stored (``None``: never)."""

    feed: str
    title: str
    last_write: datetime | None


def feed_of_kind() -> dict[str, str]:
    """Record kind -> the feed that declares its table."""
    return {spec.kind: feed.name for feed in FEEDS for spec in feed.tables}


def feed_freshness(pool: ConnectionPool, timeout_s: float = 2.0) -> tuple[datetime, list[FeedFreshness]]:
    """The store's clock now and, for every feed that ever stored a record, its last write.

    Waits at most ``timeout_s`` for a connection: a page asking this wants to know quickly that
    the store is unreachable (``psycopg.Error``, ``PoolTimeout`` included), not hang with it.
    """
    with pool.connection(timeout=timeout_s) as conn:
        now_row = conn.execute("SELECT now()").fetchone()
        rows = conn.execute(
            "SELECT kind, last_write FROM stored_counts WHERE last_write IS NOT NULL").fetchall()
    assert now_row is not None
    kinds = feed_of_kind()
    newest: dict[str, datetime] = {}
    for kind, last in rows:
        feed = kinds.get(kind)
        if feed is not None and (feed not in newest or last > newest[feed]):
            newest[feed] = last
    out = [FeedFreshness(f.name, f.title or f.name, newest[f.name]) for f in FEEDS if f.name in newest]
    return now_row[0], out
