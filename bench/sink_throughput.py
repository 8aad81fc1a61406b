"""Store sink throughput against its ceiling and its baseline, on plain PostgreSQL and TimescaleDB.

Run: .venv/bin/python bench/sink_throughput.py [--rows 500000] [--baseline-rows 100000] [--batch 10000]

For each store (a private embedded PostgreSQL, plain and with TimescaleDB when installed),
from one process, in batches of ``--batch`` rows, one transaction per batch, same readings
(200 stations x 5 metrics, one reading each per 10 s), each path into its own time range:

* ceiling: bare binary ``COPY`` of the rows into an unindexed table (no key, no upsert);
* full sink path: the JSON wire bytes of each reading, as read from the bus, handed to the
  real sink's batch handler (``StoreSink.store_batch``: decode, validate, dead-letter check,
  ``StoreWriter`` into ``readings`` with its natural-key index, latest values, counts,
  rollup dirty range);
* writer alone: ``StoreWriter.write`` on already-built reading models;
* baseline: ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` (psycopg 3 pipeline).

Each is printed as readings/s and as a share of the ceiling measured in the same run, with
the full path's ratio to ``executemany``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, private_store  # noqa: E402
from ingest.sink import StoreSink  # noqa: E402
from ioc.bus.base import Message  # noqa: E402
from ioc.bus.memory import MemoryBus  # noqa: E402
from ioc.events import EnvironmentReading  # noqa: E402
from ioc.store.database import Store  # noqa: E402
from ioc.store.writer import READINGS, StoreWriter  # noqa: E402
from ioc.topics import TOPIC_BY_KIND  # noqa: E402

METRICS = ("pm25", "pm10", "co2", "temperature", "humidity")
START = datetime(2026, 11, 1, tzinfo=UTC)


def make_readings(n: int, start: datetime) -> list[EnvironmentReading]:
    rnd = random.Random(1)
    out = []
    for i in range(n):
        station, metric = divmod(i % 1000, 5)
        out.append(EnvironmentReading(
            time=start + timedelta(seconds=10 * (i // 1000)), source_id=f"hue-st-{station:03d}",
            metric=METRICS[metric], value=rnd.uniform(0, 100), unit="x"))
    return out


def rate(n: int, run: Callable[[], None]) -> float:
    t = time.perf_counter()
    run()
    return n / (time.perf_counter() - t)


def bench_ceiling(store: Store, readings: list[EnvironmentReading], batch: int) -> float:
    """Bare binary COPY of the same rows into a table with no index."""
    rows = [READINGS.to_row(r) for r in readings]
    types = [t for _, t in READINGS.columns]
    columns = ", ".join(f"{c} {t}" for c, t in READINGS.columns)
    with store.pool.connection() as conn:
        conn.execute(f"CREATE TABLE bench_bare ({columns})")
        conn.commit()

        def run() -> None:
            for i in range(0, len(rows), batch):
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy("COPY bench_bare FROM STDIN (FORMAT BINARY)") as copy:
                        copy.set_types(types)
                        for row in rows[i:i + batch]:
                            copy.write_row(row)

        return rate(len(rows), run)


def bench_sink(store: Store, readings: list[EnvironmentReading], batch: int) -> float:
    """The real sink's batch handler on bus messages carrying the wire form: decode + validate + write."""
    sink = StoreSink(MemoryBus(), StoreWriter(store.pool, store.caps), batch_size=batch)
    topic = TOPIC_BY_KIND["environment.reading"]
    msgs = [Message(topic, 0, i, r.source_id, r.to_wire(), 0) for i, r in enumerate(readings)]

    def run() -> None:
        for i in range(0, len(msgs), batch):
            sink.store_batch(msgs[i:i + batch])

    result = rate(len(msgs), run)
    assert sink.health.extra["stored"] == len(msgs), sink.health.extra
    return result


def bench_writer(store: Store, readings: list[EnvironmentReading], batch: int) -> float:
    writer = StoreWriter(store.pool, store.caps)

    def run() -> None:
        for i in range(0, len(readings), batch):
            writer.write(readings[i:i + batch])

    return rate(len(readings), run)


def bench_executemany(store: Store, readings: list[EnvironmentReading], batch: int) -> float:
    sql = ("INSERT INTO readings (time, station_id, metric, value, unit, quality) "
           "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
    with store.pool.connection() as conn:
        def run() -> None:
            for i in range(0, len(readings), batch):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(sql, [(r.time, r.source_id, r.metric, r.value, r.unit, r.quality)
                                          for r in readings[i:i + batch]])

        return rate(len(readings), run)


def run_store(timescaledb: bool, rows: int, baseline_rows: int, batch: int) -> None:
    with private_store(timescaledb=timescaledb) as store:
        if timescaledb and not store.caps.timescaledb:
            print("TimescaleDB is not installed here: skipped")
            return
        print(f"\nstore: {store.caps.label}")
        readings = make_readings(rows, START)
        ceiling = bench_ceiling(store, readings, batch)
        results = [
            ("ceiling: bare binary COPY into an unindexed table", rows, ceiling),
            ("full sink path: bus bytes → decode → validate → COPY (StoreSink.store_batch)", rows,
             bench_sink(store, readings, batch)),
            ("writer alone: StoreWriter.write of reading models", rows,
             bench_writer(store, make_readings(rows, START + timedelta(days=30)), batch)),
            ("baseline: executemany INSERT ... ON CONFLICT", baseline_rows,
             bench_executemany(store, make_readings(baseline_rows, START + timedelta(days=60)), batch)),
        ]
        print("| path | rows | readings/s | share of ceiling |")
        print("|---|---:|---:|---:|")
        for name, n, per_s in results:
            print(f"| {name} | {n:,} | {per_s:,.0f} | {per_s / ceiling:.2f} |")
        print(f"full sink path / executemany: {results[1][2] / results[3][2]:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--store", choices=("both", "plain", "timescaledb"), default="both")
    args = ap.parse_args()
    print(machine())
    print(f"batches of {args.batch:,} readings, one transaction each, one process")
    for timescaledb in (False, True):
        if args.store == "both" or args.store == ("timescaledb" if timescaledb else "plain"):
            run_store(timescaledb, args.rows, args.baseline_rows, args.batch)


if __name__ == "__main__":
    main()
