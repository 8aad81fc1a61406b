"""Sink throughput into PostgreSQL with TimescaleDB: our COPY writer beside a plain executemany.

Run: .venv/bin/python bench/sink_throughput.py [--rows 1000000] [--batch 10000]

Both paths write the same readings (200 stations x 5 metrics, one per 10 s) into the same
hypertable with its natural-key primary index, in batches, one transaction per batch, from
one process. The COPY path is the store sink's real writer (StoreWriter: binary COPY into a
staging table, INSERT ... ON CONFLICT DO NOTHING, latest values, counts, rollup dirty range).
The end-to-end figure also decodes the JSON wire form of each record first, as the sink does.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, private_store  # noqa: E402
from ingest.sink import StoreSink  # noqa: E402
from ioc.bus.base import Message  # noqa: E402
from ioc.bus.memory import MemoryBus  # noqa: E402
from ioc.events import EnvironmentReading  # noqa: E402
from ioc.store.writer import StoreWriter  # noqa: E402
from ioc.topics import TOPIC_BY_KIND  # noqa: E402

METRICS = ("pm25", "pm10", "co2", "temperature", "humidity")


def make_readings(n: int, start: datetime) -> list[EnvironmentReading]:
    rnd = random.Random(1)
    out = []
    for i in range(n):
        station, metric = divmod(i % 1000, 5)
        out.append(EnvironmentReading(
            time=start + timedelta(seconds=10 * (i // 1000)), source_id=f"hue-st-{station:03d}",
            metric=METRICS[metric], value=rnd.uniform(0, 100), unit="x"))
    return out


def bench_copy(store, readings, batch: int) -> float:  # noqa: ANN001
    writer = StoreWriter(store.pool, store.caps)
    t = time.perf_counter()
    for i in range(0, len(readings), batch):
        writer.write(readings[i:i + batch])
    return len(readings) / (time.perf_counter() - t)


def bench_sink(store, readings, batch: int) -> float:  # noqa: ANN001
    """The real sink's batch handler on wire-form messages: decode + validate + write."""
    sink = StoreSink(MemoryBus(), StoreWriter(store.pool, store.caps), batch_size=batch)
    topic = TOPIC_BY_KIND["environment.reading"]
    msgs = [Message(topic, 0, i, r.source_id, r.to_wire(), 0) for i, r in enumerate(readings)]
    t = time.perf_counter()
    for i in range(0, len(msgs), batch):
        sink.store_batch(msgs[i:i + batch])
    return len(msgs) / (time.perf_counter() - t)


def bench_executemany(store, readings, batch: int) -> float:  # noqa: ANN001
    sql = ("INSERT INTO readings (time, station_id, metric, value, unit, quality) "
           "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
    t = time.perf_counter()
    with store.pool.connection() as conn:
        for i in range(0, len(readings), batch):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(sql, [(r.time, r.source_id, r.metric, r.value, r.unit, r.quality)
                                      for r in readings[i:i + batch]])
    return len(readings) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=10_000)
    args = ap.parse_args()
    print(machine())
    start = datetime(2026, 11, 1, tzinfo=UTC)
    results = []
    with private_store(timescaledb=True) as store:
        print("store:", store.caps.label)
        readings = make_readings(args.rows, start)
        results.append(("StoreWriter (binary COPY + ON CONFLICT)", args.rows,
                        bench_copy(store, readings, args.batch)))
        readings = make_readings(args.rows, start + timedelta(days=30))
        results.append(("sink batch: JSON decode + validate + StoreWriter", args.rows,
                        bench_sink(store, readings, args.batch)))
        base = make_readings(args.baseline_rows, start + timedelta(days=60))
        results.append(("baseline: executemany INSERT", args.baseline_rows,
                        bench_executemany(store, base, args.batch)))
    print("| path | rows | readings/s |")
    print("|---|---:|---:|")
    for name, n, rate in results:
        print(f"| {name} | {n:,} | {rate:,.0f} |")
    print(f"COPY / executemany: {results[0][2] / results[2][2]:.1f}x")


if __name__ == "__main__":
    main()
