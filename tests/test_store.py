"""Store tests on a real PostgreSQL, run twice: plain PostgreSQL and with TimescaleDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc.feeds.environment.records import EnvironmentReading
from ioc.store.database import Store
from ioc.store.maintenance import apply_retention, refresh_rollups
from ioc.store.migrations import migrate, plan
from ioc.store.writer import DeadLetter, StoreWriter

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def readings(n: int, stations: int = 3, start: datetime = T0, step_s: float = 10) -> list[EnvironmentReading]:
    return [
        EnvironmentReading(time=start + timedelta(seconds=(i // stations) * step_s),
                           source_id=f"hue-air-{i % stations}", metric="co2", value=400 + i, unit="ppm")
        for i in range(n)
    ]


def count(store: Store, sql: str) -> int:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchone()[0]


def test_schema_is_versioned_and_migrating_again_changes_nothing(store: Store) -> None:
    with psycopg.connect(store.dsn) as conn:
        caps = migrate(conn, store.caps.timescaledb)
        versions = conn.execute("SELECT namespace, version FROM schema_migrations").fetchall()
    assert caps == store.caps
    assert sorted(versions) == sorted((namespace, m.version) for namespace, m in plan())


def test_readings_table_matches_capability(store: Store) -> None:
    hyper = count(store, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    if store.caps.timescaledb:
        assert hyper == 1
        assert count(store, "SELECT count(*) FROM timescaledb_information.hypertables "
                            "WHERE hypertable_name = 'readings'") == 1
    else:
        assert hyper == 0
        assert count(store, "SELECT count(*) FROM pg_indexes WHERE indexname = 'readings_time_brin'") == 1
    # the same time_bucket query works at both levels, with TimescaleDB's origin
    with store.pool.connection() as conn:
        got = conn.execute(
            "SELECT time_bucket('1 hour', %s::timestamptz), time_bucket('7 days', %s::timestamptz)",
            (T0 + timedelta(minutes=42), T0),
        ).fetchone()
    assert got[0] == T0
    assert got[1] == datetime(2026, 11, 23, tzinfo=UTC)  # buckets of a week start on Mondays


def test_batch_written_twice_stores_each_row_once(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    batch = readings(3000)
    first = w.write(batch)
    second = w.write(batch)
    assert first.inserted == {"environment.reading": 3000}
    assert second.inserted == {"environment.reading": 0}
    assert second.duplicates == {"environment.reading": 3000}
    assert count(store, "SELECT count(*) FROM readings") == 3000
    assert count(store, "SELECT n FROM stored_counts WHERE kind = 'environment.reading'") == 3000


def test_duplicates_inside_one_batch_and_overlapping_batches(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    batch = readings(100)
    w.write(batch + batch[:10])
    w.write(batch[50:] + readings(60, start=T0 + timedelta(hours=1)))
    assert count(store, "SELECT count(*) FROM readings") == 160


def test_latest_readings_keep_the_newest_even_when_it_arrives_first(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    new = EnvironmentReading(time=T0 + timedelta(minutes=5), source_id="s", metric="pm25", value=80)
    old = EnvironmentReading(time=T0, source_id="s", metric="pm25", value=10)
    w.write([new])
    w.write([old])
    with store.pool.connection() as conn:
        row = conn.execute("SELECT time, value FROM latest_readings WHERE station_id = 's'").fetchone()
    assert row == (new.time, 80)


def test_dead_letters_are_idempotent_on_bus_position(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    dl = DeadLetter(stage="sink", source="ioc.environment.readings", reason="not JSON",
                    payload=b"\x00\xff junk", topic="ioc.environment.readings", partition=1, offset=7)
    assert w.write_dead_letters([dl]) == 1
    assert w.write_dead_letters([dl]) == 0
    with store.pool.connection() as conn:
        assert conn.execute("SELECT reason, payload FROM dead_letters").fetchall() == [
            ("not JSON", b"\x00\xff junk")
        ]


def test_rollups_follow_writes_including_late_data(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    w.write(readings(60, stations=1, step_s=10))  # ten minutes of one station, 6 per minute
    if store.caps.continuous_aggregates:
        pytest.skip("continuous aggregates refresh on their own policy")
    assert refresh_rollups(store.pool, store.caps) > 0
    with store.pool.connection() as conn:
        rows = conn.execute("SELECT bucket, n, min, max FROM readings_1m ORDER BY bucket").fetchall()
        assert len(rows) == 10 and all(r[1] == 6 for r in rows)
        assert rows[0][2:] == (400, 405)
        hour = conn.execute("SELECT n, avg FROM readings_1h").fetchall()
        assert hour == [(60, pytest.approx(429.5))]
    # a late reading lands in an old bucket: the next refresh recomputes that bucket only
    w.write([EnvironmentReading(time=T0 + timedelta(seconds=5), source_id="hue-air-0", metric="co2",
                                value=1000)])
    refresh_rollups(store.pool, store.caps)
    with store.pool.connection() as conn:
        assert conn.execute("SELECT n, max FROM readings_1m WHERE bucket = %s", (T0,)).fetchone() == (7, 1000)
    assert refresh_rollups(store.pool, store.caps) == 0  # nothing dirty any more


def test_retention_drops_old_rows_only(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    now = datetime.now(UTC)
    w.write(readings(30, start=now - timedelta(days=40)) + readings(30, start=now - timedelta(hours=1)))
    with store.pool.connection() as conn:  # a refused input's raw text is kept no longer than a reading
        conn.execute("INSERT INTO dead_letters (received_at, stage, source, reason, payload) VALUES "
                     "(now() - interval '40 days', 'ingest', 'a', 'old', 'x'), "
                     "(now(), 'ingest', 'a', 'new', 'y')")
    apply_retention(store.pool, store.caps, retention_days=30)
    assert count(store, "SELECT count(*) FROM readings") == 30
    assert count(store, "SELECT count(*) FROM dead_letters WHERE reason IN ('old', 'new')") == 1
    assert count(store, "SELECT count(*) FROM readings WHERE time < now() - interval '30 days'") == 0


def test_latest_values_and_counts_from_a_batch_with_many_readings_per_series(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    batch = readings(60, stations=3)  # 20 readings per station, newest last
    newest = {r.source_id: r for r in batch}
    batch.reverse()  # newest first: the latest value must not follow arrival order
    assert w.write(batch).inserted == {"environment.reading": 60}
    with store.pool.connection() as conn:
        latest = conn.execute("SELECT station_id, time, value FROM latest_readings").fetchall()
    assert sorted(latest) == sorted((s, r.time, r.value) for s, r in newest.items())
    assert count(store, "SELECT n FROM stored_counts WHERE kind = 'environment.reading'") == 60
    # half of it again with new rows: the rows already stored are skipped, the new ones kept
    again = w.write(batch[:30] + readings(30, stations=3, start=T0 + timedelta(hours=1)))
    assert (again.inserted, again.duplicates) == ({"environment.reading": 30}, {"environment.reading": 30})
    assert count(store, "SELECT count(*) FROM readings") == 90
    assert count(store, "SELECT n FROM stored_counts WHERE kind = 'environment.reading'") == 90
    assert count(store, "SELECT count(*) FROM latest_readings WHERE time > '2026-11-25 09:00Z'") == 3
