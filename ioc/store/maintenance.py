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
from datetime import timedelta

from psycopg_pool import ConnectionPool

from ioc.store.capabilities import Capabilities
from ioc.store.migrations import ROLLUPS
from ioc.store.schema_cameras import RAW_CAMERA_TABLES
from ioc.store.schema_vessels import RAW_VESSEL_TABLES

log = logging.getLogger(__name__)

RAW_TABLES = ("readings", *RAW_CAMERA_TABLES, *RAW_VESSEL_TABLES)


def refresh_rollups(pool: ConnectionPool, caps: Capabilities) -> int:
    """Recompute the rollup buckets touched since the last refresh; returns buckets written."""
    if caps.continuous_aggregates:
        return 0
    written = 0
    with pool.connection() as conn, conn.transaction():
        ranges = conn.execute(
            "DELETE FROM rollup_dirty RETURNING lo, hi"
        ).fetchall()
        if not ranges:
            return 0
        for name, width in ROLLUPS.items():
            for lo, hi in _merge(ranges):
                cur = conn.execute(
                    f"""
                    INSERT INTO {name} (bucket, station_id, metric, avg, min, max, n)
                    SELECT time_bucket('{width}', time), station_id, metric,
                           avg(value), min(value), max(value), count(*)
                    FROM readings
                    WHERE time >= time_bucket('{width}', %(lo)s::timestamptz)
                      AND time < time_bucket('{width}', %(hi)s::timestamptz) + interval '{width}'
                    GROUP BY 1, 2, 3
                    ON CONFLICT (station_id, metric, bucket) DO UPDATE
                    SET avg = excluded.avg, min = excluded.min, max = excluded.max, n = excluded.n
                    """,
                    {"lo": lo, "hi": hi},
                )
                written += cur.rowcount
    return written


def _merge(ranges: list[tuple]) -> list[tuple]:
    """Merge overlapping or nearby (within 1 h) dirty ranges so each bucket is computed once."""
    out: list[list] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + timedelta(hours=1):
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(r) for r in out]


def install_policies(pool: ConnectionPool, caps: Capabilities, retention_days: int) -> None:
    """Hand retention to TimescaleDB's job scheduler where the licence has it."""
    if not caps.retention_policy:
        return
    with pool.connection() as conn:
        for table in RAW_TABLES:
            conn.execute(
                f"SELECT add_retention_policy('{table}', interval '{int(retention_days)} days', "
                "if_not_exists => true)"
            )


def apply_retention(pool: ConnectionPool, caps: Capabilities, retention_days: int) -> int:
    """Drop raw rows older than the retention period; returns chunks dropped or rows deleted."""
    if caps.retention_policy:
        return 0
    cutoff = f"now() - interval '{int(retention_days)} days'"
    removed = 0
    with pool.connection() as conn:
        for table in RAW_TABLES:
            if caps.timescaledb:
                rows = conn.execute(f"SELECT drop_chunks('{table}', older_than => {cutoff})").fetchall()
                removed += len(rows)
            else:
                removed += conn.execute(f"DELETE FROM {table} WHERE time < {cutoff}").rowcount
        # rollups of the fallback path are plain tables: keep them ten times longer than raw data
        if not caps.continuous_aggregates:
            for name in ROLLUPS:
                removed += conn.execute(
                    f"DELETE FROM {name} WHERE bucket < now() - interval '{int(retention_days) * 10} days'"
                ).rowcount
    if removed:
        log.info("retention removed %d chunks/rows older than %d days", removed, retention_days)
    return removed
