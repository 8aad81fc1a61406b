"""Keeping the store current: rollup refresh and retention, at both capability levels.

Where continuous aggregates and retention policies exist (TimescaleDB,
community licence) the database does this itself and these functions are
no-ops or one-off policy calls. Elsewhere the scheduler calls them: rollups
are recomputed for the time ranges the writer marked dirty, and old rows
are dropped with ``drop_chunks`` (TimescaleDB, Apache licence) or a plain
``DELETE``.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import ConnectionPool

from ioc.feeds import FEEDS
from ioc.store.capabilities import Capabilities

log = logging.getLogger(__name__)

#: tables whose old rows retention drops, and rollups kept ten times longer: from the feeds
RAW_TABLES: tuple[str, ...] = tuple(t for feed in FEEDS for t in feed.raw_tables)
ROLLUP_TABLES: tuple[str, ...] = tuple(t for feed in FEEDS for t in feed.rollup_tables)


def refresh_rollups(pool: ConnectionPool, caps: Capabilities) -> int:
    """Recompute every feed's rollup buckets touched since the last refresh; returns buckets written."""
    written = 0
    for feed in FEEDS:
        if feed.refresh is not None:
            with pool.connection() as conn, conn.transaction():
                written += feed.refresh(conn, caps)
    return written


def _hypertables(conn: psycopg.Connection, caps: Capabilities) -> set[str]:
    """The raw tables that are hypertables (a feed may keep a small plain table, e.g. storm warnings)."""
    if not caps.timescaledb:
        return set()
    rows = conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_name = ANY(%s)",
        (list(RAW_TABLES),)).fetchall()
    return {r[0] for r in rows}


def install_policies(pool: ConnectionPool, caps: Capabilities, retention_days: int) -> None:
    """Hand retention of the hypertables to TimescaleDB's job scheduler where the licence has it."""
    if not caps.retention_policy:
        return
    with pool.connection() as conn:
        for table in sorted(_hypertables(conn, caps)):
            conn.execute(
                f"SELECT add_retention_policy('{table}', interval '{int(retention_days)} days', "
                "if_not_exists => true)"
            )


def apply_retention(pool: ConnectionPool, caps: Capabilities, retention_days: int) -> int:
    """Drop raw rows (and dead letters) older than the retention period; returns chunks dropped or rows
    deleted.

    Hypertables lose whole chunks (``drop_chunks``), or nothing here where TimescaleDB's own
    retention policy runs; plain tables lose rows by ``DELETE``.
    """
    cutoff = f"now() - interval '{int(retention_days)} days'"
    removed = 0
    with pool.connection() as conn:
        hypertables = _hypertables(conn, caps)
        for table in RAW_TABLES:
            if table not in hypertables:
                removed += conn.execute(f"DELETE FROM {table} WHERE time < {cutoff}").rowcount
            elif not caps.retention_policy:
                rows = conn.execute(f"SELECT drop_chunks('{table}', older_than => {cutoff})").fetchall()
                removed += len(rows)
        # dead letters hold raw input too (a refused post keeps what a citizen wrote): kept as long
        removed += conn.execute(f"DELETE FROM dead_letters WHERE received_at < {cutoff}").rowcount
        # rollups of the fallback path are plain tables: keep them ten times longer than raw data
        if not caps.continuous_aggregates:
            for name in ROLLUP_TABLES:
                removed += conn.execute(
                    f"DELETE FROM {name} WHERE bucket < now() - interval '{int(retention_days) * 10} days'"
                ).rowcount
    if removed:
        log.info("retention removed %d chunks/rows older than %d days", removed, retention_days)
    return removed
