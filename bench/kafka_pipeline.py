"""Distributed pipeline on a real Kafka-protocol broker: Kafka -> sink -> TimescaleDB, and alert latency.

Run: .venv/bin/python bench/kafka_pipeline.py [--records 300000] [--sustain-rate 30000]

Everything is real and local: a tansu broker (``tests/kafka_broker.py``), a
private PostgreSQL with TimescaleDB (``bench/common.py``) and ``ioc run ROLE``
processes (``python -m ioc.app.cli run sink|detectors|alerts``), as a city
would run them. Four measurements, in one run:

1. kafka-python's raw consume rate of the pre-produced topic (a ``KafkaConsumer``
   in a group, ``poll(max_records=5000)``, no processing): the ceiling of any
   Python consumer on this machine.
2. Drain rate of the same backlog by 1 and by 2 sink processes (decode,
   validate, binary COPY, ``ON CONFLICT DO NOTHING``, commit), from the first row
   stored to the last; its ratio to (1) is the overhead of our code.
3. Sustained ingest: records produced at a fixed rate while 2 sink processes
   store them; the lag (produced - stored, and the group's uncommitted
   records) is sampled every second and must not grow.
4. Latency from produce to stored alert at 1,000 records/s through a detector
   process and the alerts process (one reading in 50 raises an alert of its own):
   p50 / p99 of ``alerts.created_at`` minus the moment the reading was published.

Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import psycopg  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer  # noqa: E402
from kafka_broker import tansu_broker  # noqa: E402

from bench.common import machine, private_store  # noqa: E402
from ioc.bus.kafka import KafkaBus  # noqa: E402
from ioc.config import BusSettings  # noqa: E402
from ioc.feeds.environment.records import EnvironmentReading  # noqa: E402
from ioc.topics import TOPIC_BY_KIND  # noqa: E402

READINGS = TOPIC_BY_KIND["environment.reading"]
PARTITIONS = 4
CONSUMER_OPTIONS = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500}
METRICS = ("pm25", "pm10", "co2", "temperature", "humidity")


def bus_for(bootstrap: str, namespace: str) -> KafkaBus:
    return KafkaBus(BusSettings(kind="kafka", bootstrap_servers=bootstrap, partitions=PARTITIONS,
                                namespace=namespace), client_id="bench", consumer_options=CONSUMER_OPTIONS)


def wire_readings(n: int, start: datetime, offset: int = 0) -> list[tuple[str, bytes]]:
    """(key, wire value) of ``n`` readings: 200 stations x 5 metrics, one each per 10 s."""
    out = []
    for i in range(offset, offset + n):
        station, metric = divmod(i % 1000, 5)
        r = EnvironmentReading(time=start + timedelta(seconds=10 * (i // 1000)),
                               source_id=f"hue-st-{station:03d}", metric=METRICS[metric],
                               value=float(i % 113), unit="x")
        out.append((r.source_id, r.to_wire()))
    return out


def produce(bus: KafkaBus, records: list[tuple[str, bytes]]) -> float:
    """Publish and flush; return records/s."""
    pub = bus.publisher()
    t = time.perf_counter()
    for i, (key, value) in enumerate(records):
        pub.publish(READINGS, key, value)
        if i % 50_000 == 49_999:
            pub.flush(120)
    pub.flush(120)
    rate = len(records) / (time.perf_counter() - t)
    pub.close()
    return rate


def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    """kafka-python alone: records/s from the first record to the n-th (group join excluded)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4().hex[:6]}",
                             auto_offset_reset="earliest", enable_auto_commit=False, **CONSUMER_OPTIONS)
    got, first = 0, None
    try:
        while got < n:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                if first is None:
                    first = time.perf_counter()
                got += len(records)
        assert first is not None
        return n / (time.perf_counter() - first)
    finally:
        consumer.close()


class Roles:
    """``ioc run ROLE`` processes of the benchmark (stopped by PID)."""

    def __init__(self, bootstrap: str, dsn: str, namespace: str, config: Path, logs: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        self.env.update({
            "IOC_CONFIG": str(config), "IOC_BUS__KIND": "kafka", "IOC_BUS__BOOTSTRAP_SERVERS": bootstrap,
            "IOC_BUS__NAMESPACE": namespace, "IOC_BUS__PARTITIONS": str(PARTITIONS),
            "IOC_BUS__CONSUMER_OPTIONS": json.dumps(CONSUMER_OPTIONS), "IOC_DATABASE__DSN": dsn,
            "PYTHONPATH": str(ROOT)})
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, role: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{role}-{len(self.procs)}.log", "wb")  # noqa: SIM115 - kept by the child
        proc = subprocess.Popen([sys.executable, "-m", "ioc.app.cli", "run", role], env=self.env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()


def scalar(dsn: str, sql: str) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]  # type: ignore[index]


def group_committed(admin: KafkaAdminClient, group: str, physical_topic: str) -> int:
    """Committed offsets of ``group`` (in the topic's namespace) on one topic, summed."""
    group = f"{physical_topic.split('.', 1)[0]}.{group}"  # the bus prefixes group ids like topics
    offsets = admin.list_group_offsets(group).get(group, {})
    return sum(m.offset for tp, m in offsets.items() if tp.topic == physical_topic and m.offset >= 0)


def fresh_db(server_dsn: str) -> str:
    name = f"b{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = server_dsn.rsplit("/", 1)[0] + f"/{name}"
    from ioc.store.database import open_store

    open_store(dsn, pool_max=1).close()
    return dsn


def wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def sink_drain(bootstrap: str, server_dsn: str, namespace: str, n: int, sinks: int, config: Path,
               logs: Path) -> dict[str, Any]:
    """Start ``sinks`` sink processes on a pre-produced backlog of ``n``; time the drain; sample lag."""
    dsn = fresh_db(server_dsn)
    roles = Roles(bootstrap, dsn, namespace, config, logs)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    topic = f"{namespace}.{READINGS}"
    samples: list[tuple[float, int, int]] = []
    try:
        for _ in range(sinks):
            roles.start("sink")
        wait(lambda: scalar(dsn, "SELECT count(*) FROM readings") > 0, 60, "first stored row")
        t0 = time.monotonic()
        stored = 0
        next_sample = t0
        while stored < n:
            stored = scalar(dsn, "SELECT coalesce(sum(n), 0) FROM stored_counts "
                                 "WHERE kind = 'environment.reading'")
            if time.monotonic() >= next_sample:
                committed = group_committed(admin, "store-sink", topic)
                samples.append((time.monotonic() - t0, n - stored, n - committed))
                next_sample += 1.0
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        rows = scalar(dsn, "SELECT count(*) FROM readings")
    finally:
        roles.stop()
        admin.close()
    return {"rate": n / elapsed, "elapsed": elapsed, "rows": rows, "samples": samples}


def sustained(bootstrap: str, server_dsn: str, namespace: str, rate: int, seconds: float, sinks: int,
              config: Path, logs: Path) -> dict[str, Any]:
    """Produce at ``rate``/s for ``seconds`` while ``sinks`` sink processes store; sample the lag."""
    dsn = fresh_db(server_dsn)
    roles = Roles(bootstrap, dsn, namespace, config, logs)
    bus = bus_for(bootstrap, namespace)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    topic = f"{namespace}.{READINGS}"
    start_time = datetime(2026, 11, 20, tzinfo=UTC)
    chunk = max(1, rate // 20)  # 20 chunks a second
    payload = wire_readings(int(rate * seconds) + chunk, start_time)
    sent = [0]
    done = threading.Event()

    def producer() -> None:
        pub = bus.publisher()
        t = time.monotonic()
        while sent[0] + chunk <= len(payload) and time.monotonic() - t < seconds:
            for key, value in payload[sent[0]:sent[0] + chunk]:
                pub.publish(READINGS, key, value)
            pub.flush(60)
            sent[0] += chunk
            ahead = sent[0] / rate - (time.monotonic() - t)
            if ahead > 0:
                time.sleep(ahead)
        pub.close()
        done.set()

    samples: list[tuple[float, int, int, int]] = []
    try:
        for _ in range(sinks):
            roles.start("sink")
        # Warm up: the sinks join the group on a trickle before the clock starts.
        produce(bus, payload[-chunk:])
        wait(lambda: scalar(dsn, "SELECT count(*) FROM readings") >= chunk, 60, "sinks ready")
        base = chunk
        thread = threading.Thread(target=producer, daemon=True)
        t0 = time.monotonic()
        thread.start()
        while not done.is_set():
            time.sleep(max(0.0, t0 + len(samples) + 1 - time.monotonic()))
            stored = scalar(dsn, "SELECT coalesce(sum(n), 0) FROM stored_counts "
                                 "WHERE kind = 'environment.reading'") - base
            committed = group_committed(admin, "store-sink", topic) - base
            samples.append((time.monotonic() - t0, sent[0], sent[0] - stored, sent[0] - committed))
        produced_s = time.monotonic() - t0
        produced = sent[0]
        wait(lambda: scalar(dsn, "SELECT count(*) FROM readings") >= produced + base, 120, "drain")
        drained_s = time.monotonic() - t0
    finally:
        roles.stop()
        admin.close()
    return {"produced": produced, "offered_rate": produced / produced_s, "stored_rate": produced / drained_s,
            "tail_s": drained_s - produced_s, "samples": samples}


def alert_latency(bootstrap: str, server_dsn: str, rate: int, seconds: float, logs: Path) -> dict[str, Any]:
    """Readings at ``rate``/s through detectors + alerts processes; 1 in 50 raises its own alert."""
    dsn = fresh_db(server_dsn)
    namespace = f"lat{uuid.uuid4().hex[:6]}"
    config = logs / "latency.toml"
    config.write_text('city = "Bench"\n[rules]\n[[rules.thresholds]]\nname = "pm25-high"\nmetric = "pm25"\n'
                      "above = 100.0\nfor_minutes = 0.0\n")
    roles = Roles(bootstrap, dsn, namespace, config, logs)
    bus = bus_for(bootstrap, namespace)
    published: dict[str, float] = {}
    try:
        roles.start("detectors")
        roles.start("alerts")
        pub = bus.publisher()
        # Warm up until an alert comes out (both roles joined their groups).
        warm = 0
        deadline = time.monotonic() + 60
        while scalar(dsn, "SELECT count(*) FROM alerts") == 0:
            if time.monotonic() > deadline:
                raise TimeoutError("no alert from the warm-up")
            r = EnvironmentReading(time=datetime.now(UTC), source_id=f"warm-{warm}", metric="pm25",
                                   value=500.0)
            pub.publish(READINGS, r.key, r.to_wire())
            pub.flush()
            warm += 1
            time.sleep(0.5)
        n = int(rate * seconds)
        t0 = time.monotonic()
        for i in range(n):
            alarm = i % 50 == 0
            station = f"alarm-{i}" if alarm else f"hue-st-{i % 200:03d}"
            r = EnvironmentReading(time=datetime.now(UTC), source_id=station, metric="pm25",
                                   value=500.0 if alarm else float(i % 60))
            if alarm:
                published[station] = time.time()
            pub.publish(READINGS, r.key, r.to_wire())
            ahead = (i + 1) / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        pub.flush()
        achieved = n / (time.monotonic() - t0)
        pub.close()
        wait(lambda: scalar(dsn, "SELECT count(*) FROM alerts WHERE source_id LIKE 'alarm-%'")
             >= len(published), 60, "every alert")
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute("SELECT source_id, extract(epoch FROM created_at) FROM alerts "
                                "WHERE source_id LIKE 'alarm-%'").fetchall()
    finally:
        roles.stop()
    lat = sorted((float(created) - published[source]) * 1000 for source, created in rows)
    return {"alerts": len(lat), "rate": achieved, "p50": statistics.median(lat),
            "p99": lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))], "max": lat[-1]}


def grows(samples: list[tuple[float, ...]], column: int) -> str:
    """Compare the lag of the first and last third of the samples."""
    k = max(1, len(samples) // 3)
    first = statistics.mean(s[column] for s in samples[:k])
    last = statistics.mean(s[column] for s in samples[-k:])
    return f"{first:,.0f} -> {last:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=300_000, help="backlog drained in (1) and (2)")
    ap.add_argument("--sustain-rate", type=int, default=30_000, help="records/s offered in (3)")
    ap.add_argument("--sustain-seconds", type=float, default=20.0)
    ap.add_argument("--latency-rate", type=int, default=1000)
    ap.add_argument("--latency-seconds", type=float, default=30.0)
    ap.add_argument("--sustain-sinks", type=int, default=2, help="sink processes in (3)")
    ap.add_argument("--fetch-max-wait-ms", type=int, default=None,
                    help="consumer fetch_max_wait_ms of the role processes (kafka-python default: 500)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: drain,sustain,latency")
    args = ap.parse_args()
    if args.fetch_max_wait_ms is not None:
        CONSUMER_OPTIONS["fetch_max_wait_ms"] = args.fetch_max_wait_ms
    skip = set(filter(None, args.skip.split(",")))
    print(machine())
    from kafka.record import util as record_util

    crc = "C (crc32c package)" if record_util.crc32c_c is not None else "pure Python (pip install crc32c)"
    print(f"kafka-python {__import__('kafka').__version__}, record CRC32C in {crc}")
    with tansu_broker() as bootstrap, private_store(timescaledb=True) as store, \
            tempfile.TemporaryDirectory(prefix="ioc-bench-logs-") as tmp:
        logs = Path(tmp)
        config = logs / "sink.toml"
        config.write_text('city = "Bench"\n')
        print(f"store: {store.caps.label}; broker: tansu at {bootstrap}; {PARTITIONS} partitions\n")
        start = datetime(2026, 11, 1, tzinfo=UTC)
        if "drain" not in skip:
            data = wire_readings(args.records, start)
            ns1, ns2 = f"one{uuid.uuid4().hex[:6]}", f"two{uuid.uuid4().hex[:6]}"
            produce_rate = produce(bus_for(bootstrap, ns1), data)
            produce(bus_for(bootstrap, ns2), data)
            raw = raw_consume(bootstrap, f"{ns1}.{READINGS}", args.records)
            one = sink_drain(bootstrap, store.dsn, ns1, args.records, 1, config, logs)
            two = sink_drain(bootstrap, store.dsn, ns2, args.records, 2, config, logs)
            print(f"### Backlog of {args.records:,} readings "
                  f"(JSON wire form, ~{len(data[0][1])} bytes each)\n")
            print("| path | records/s | vs raw kafka-python |")
            print("|---|---:|---:|")
            print(f"| produce (KafkaBus publisher, acks=all, idempotent) | {produce_rate:,.0f} | |")
            print(f"| raw kafka-python consume (no processing) | {raw:,.0f} | 1.00 |")
            for label, res in (("1 sink process", one), ("2 sink processes", two)):
                print(f"| {label}: Kafka -> decode -> COPY -> TimescaleDB, committed | {res['rate']:,.0f} | "
                      f"{res['rate'] / raw:.2f} |")
            for label, res in (("1 sink", one), ("2 sinks", two)):
                lags = ", ".join(f"{lag:,}" for _, lag, _ in res["samples"])
                print(f"\n{label}: rows {res['rows']:,} (expected {args.records:,}); "
                      f"store lag each second: {lags}")
        if "sustain" not in skip:
            res = sustained(bootstrap, store.dsn, f"sus{uuid.uuid4().hex[:6]}", args.sustain_rate,
                            args.sustain_seconds, args.sustain_sinks, config, logs)
            print(f"\n### Sustained: {args.sustain_rate:,}/s offered for {args.sustain_seconds:g} s, "
                  f"{args.sustain_sinks} sink process(es), producer in the benchmark process\n")
            print(f"produced {res['produced']:,} at {res['offered_rate']:,.0f}/s; stored all at "
                  f"{res['stored_rate']:,.0f}/s overall; last record stored {res['tail_s']:.1f} s after the "
                  "producer stopped\n")
            print("| t (s) | produced | lag: produced - stored | lag: produced - committed |")
            print("|---:|---:|---:|---:|")
            for t, produced, lag_store, lag_group in res["samples"]:
                print(f"| {t:.0f} | {produced:,} | {lag_store:,} | {lag_group:,} |")
            print(f"\nstore lag, first third -> last third of the run: {grows(res['samples'], 2)}")
        if "latency" not in skip:
            lat = alert_latency(bootstrap, store.dsn, args.latency_rate, args.latency_seconds, logs)
            print(f"\n### Produce -> stored alert at {lat['rate']:,.0f} readings/s "
                  f"(detectors + alerts processes)\n")
            print("| alerts | p50 | p99 | max |")
            print("|---:|---:|---:|---:|")
            print(f"| {lat['alerts']} | {lat['p50']:.0f} ms | {lat['p99']:.0f} ms | {lat['max']:.0f} ms |")


if __name__ == "__main__":
    main()
