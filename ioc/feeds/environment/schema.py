"""The environment feed's tables: raw readings, the latest value of each series, and rollups.

* ``readings``: one row per (station, metric, time), a hypertable on TimescaleDB or a BRIN index;
  ``latest_readings``: the newest value of each series, upserted by the writer.
* ``readings_1m`` / ``readings_1h``: per-station rollups the pages read: continuous aggregates
  where TimescaleDB has them, else tables recomputed from the ranges the writer marks dirty
  (``rollup_dirty``) by :func:`refresh_reading_rollups`, run by the scheduler.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from ioc.feeds.environment.records import EnvironmentReading
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin


def apply_readings(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 1: raw readings and the latest value of each series."""
    conn.execute(
        """
        CREATE TABLE readings (
            time        timestamptz      NOT NULL,
            station_id  text             NOT NULL,
            metric      text             NOT NULL,
            value       double precision NOT NULL,
            unit        text             NOT NULL DEFAULT '',
            quality     text             NOT NULL DEFAULT 'good',
            PRIMARY KEY (station_id, metric, time)
        )
        """
    )
    hypertable_or_brin(conn, caps, "readings", "1 day")
    conn.execute(
        """
        CREATE TABLE latest_readings (
            station_id  text             NOT NULL,
            metric      text             NOT NULL,
            time        timestamptz      NOT NULL,
            value       double precision NOT NULL,
            unit        text             NOT NULL DEFAULT '',
            PRIMARY KEY (station_id, metric)
        );
        CREATE TABLE rollup_dirty (
            id          bigserial PRIMARY KEY,
            lo          timestamptz NOT NULL,
            hi          timestamptz NOT NULL
        )
        """
    )


ROLLUPS: dict[str, str] = {"readings_1m": "1 minute", "readings_1h": "1 hour"}


def apply_reading_rollups(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Per-station rollups that pages read: continuous aggregates, or tables kept by a job."""
    for name, width in ROLLUPS.items():
        if caps.continuous_aggregates:
            conn.execute(
                f"""
                CREATE MATERIALIZED VIEW {name} WITH (timescaledb.continuous,
                    timescaledb.materialized_only = false) AS
                SELECT time_bucket('{width}', time) AS bucket, station_id, metric,
                       avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS n
                FROM readings GROUP BY 1, 2, 3 WITH NO DATA
                """
            )
            conn.execute(
                f"SELECT add_continuous_aggregate_policy('{name}', start_offset => interval '7 days', "
                f"end_offset => interval '{width}', schedule_interval => interval '{width}')"
            )
        else:
            conn.execute(
                f"""
                CREATE TABLE {name} (
                    bucket      timestamptz      NOT NULL,
                    station_id  text             NOT NULL,
                    metric      text             NOT NULL,
                    avg         double precision NOT NULL,
                    min         double precision NOT NULL,
                    max         double precision NOT NULL,
                    n           bigint           NOT NULL,
                    PRIMARY KEY (station_id, metric, bucket)
                )
                """
            )
            conn.execute(f"CREATE INDEX {name}_bucket ON {name} (bucket)")


def latest_per_series(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The newest reading row of each (station, metric): all that the latest-values upsert reads."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in rows:
        series = (row[1], row[2])
        seen = latest.get(series)
        if seen is None or row[0] > seen[0]:
            latest[series] = row
    return list(latest.values())


READINGS = TableSpec(
    kind="environment.reading",
    table="readings",
    columns=(
        ("time", "timestamptz"),
        ("station_id", "text"),
        ("metric", "text"),
        ("value", "float8"),
        ("unit", "text"),
        ("quality", "text"),
    ),
    key=("station_id", "metric", "time"),
    to_row=lambda e: (e.time, e.source_id, e.metric, e.value, e.unit, e.quality),
    stage_rows=latest_per_series,
    dirty_ranges="rollup_dirty",  # the rollup tables of the plain-PostgreSQL level follow these
    from_row=lambda r: EnvironmentReading(time=r["time"], source_id=r["station_id"], metric=r["metric"],
                                          value=r["value"], unit=r["unit"], quality=r["quality"]),
    after_insert=(
        """
        INSERT INTO latest_readings AS l (station_id, metric, time, value, unit)
        SELECT DISTINCT ON (station_id, metric) station_id, metric, time, value, unit
        FROM stage_readings ORDER BY station_id, metric, time DESC
        ON CONFLICT (station_id, metric) DO UPDATE
            SET time = excluded.time, value = excluded.value, unit = excluded.unit
            WHERE excluded.time > l.time
        """,
    ),
)


def refresh_reading_rollups(conn: psycopg.Connection, caps: Capabilities) -> int:
    """Recompute the rollup buckets touched since the last refresh (in the caller's transaction);
    returns buckets written."""
    if caps.continuous_aggregates:
        return 0
    written = 0
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
