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
the full path's ratio to ``executemany``, and with the CPU time it cost per reading in this
process and in the database server (postmaster and all its processes, from /proc): on a
shared machine wall-clock rates swing with the load, the CPU cost per reading much less.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, private_store  # noqa: E402
from ingest.sink import StoreSink  # noqa: E402
from ioc.bus.base import Message  # noqa: E402
from ioc.bus.memory import MemoryBus  # noqa: E402
from ioc.feeds.environment.records import EnvironmentReading  # noqa: E402
from ioc.feeds.environment.schema import READINGS  # noqa: E402
from ioc.store.database import Store  # noqa: E402
from ioc.store.writer import StoreWriter  # noqa: E402
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


@dataclass
class Figure:
    """One path's throughput, and the CPU it cost per reading (this process; the database server)."""

    name: str
    rows: int
    per_s: float
    client_us: float
    server_us: float


def server_cpu_s(store: Store) -> float:
    """CPU seconds used so far by the PostgreSQL server: postmaster and all its processes."""
    with store.pool.connection() as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == postmaster or stat.parent.name == str(postmaster):
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(store: Store, name: str, n: int, run: Callable[[], None]) -> Figure:
    # The inputs prepared for the run (up to millions of objects) are set aside from the cyclic
    # garbage collector, whose passes over them would be charged to the path: a sink holds one batch.
    gc.collect()
    gc.freeze()
    server, client, wall = server_cpu_s(store), time.process_time(), time.perf_counter()
    try:
        run()
    finally:
        gc.unfreeze()
    wall, client = time.perf_counter() - wall, time.process_time() - client
    server = server_cpu_s(store) - server
    return Figure(name, n, n / wall, client / n * 1e6, server / n * 1e6)


def bench_ceiling(store: Store, readings: list[EnvironmentReading], batch: int) -> Figure:
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

        return measure(store, "ceiling: bare binary COPY into an unindexed table", len(rows), run)


def bench_sink(store: Store, readings: list[EnvironmentReading], batch: int) -> Figure:
    """The real sink's batch handler on bus messages carrying the wire form: decode + validate + write."""
    sink = StoreSink(MemoryBus(), StoreWriter(store.pool, store.caps), batch_size=batch)
    topic = TOPIC_BY_KIND["environment.reading"]
    msgs = [Message(topic, 0, i, r.source_id, r.to_wire(), 0) for i, r in enumerate(readings)]

    def run() -> None:
        for i in range(0, len(msgs), batch):
            sink.store_batch(msgs[i:i + batch])

    result = measure(store, "full sink path: bus bytes → decode → validate → COPY", len(msgs), run)
    assert sink.health.extra["stored"] == len(msgs), sink.health.extra
    return result


def bench_writer(store: Store, readings: list[EnvironmentReading], batch: int) -> Figure:
    writer = StoreWriter(store.pool, store.caps)

    def run() -> None:
        for i in range(0, len(readings), batch):
            writer.write(readings[i:i + batch])

    return measure(store, "writer alone: StoreWriter.write of reading models", len(readings), run)


def bench_executemany(store: Store, readings: list[EnvironmentReading], batch: int) -> Figure:
    sql = ("INSERT INTO readings (time, station_id, metric, value, unit, quality) "
           "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
    with store.pool.connection() as conn:
        def run() -> None:
            for i in range(0, len(readings), batch):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(sql, [(r.time, r.source_id, r.metric, r.value, r.unit, r.quality)
                                          for r in readings[i:i + batch]])

        return measure(store, "baseline: executemany INSERT ... ON CONFLICT", len(readings), run)


def run_store(timescaledb: bool, rows: int, baseline_rows: int, batch: int) -> None:
    with private_store(timescaledb=timescaledb) as store:
        if timescaledb and not store.caps.timescaledb:
            print("TimescaleDB is not installed here: skipped")
            return
        print(f"\nstore: {store.caps.label}")
        readings = make_readings(rows, START)
        ceiling = bench_ceiling(store, readings, batch)
        full = bench_sink(store, readings, batch)
        writer = bench_writer(store, make_readings(rows, START + timedelta(days=30)), batch)
        baseline = bench_executemany(store, make_readings(baseline_rows, START + timedelta(days=60)), batch)
        print("| path | rows | readings/s | share of ceiling | CPU µs/reading: sink process | "
              "database server |")
        print("|---|---:|---:|---:|---:|---:|")
        for f in (ceiling, full, writer, baseline):
            print(f"| {f.name} | {f.rows:,} | {f.per_s:,.0f} | {f.per_s / ceiling.per_s:.2f} | "
                  f"{f.client_us:.2f} | {f.server_us:.2f} |")
        print(f"full sink path / executemany: {full.per_s / baseline.per_s:.1f}x")


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
