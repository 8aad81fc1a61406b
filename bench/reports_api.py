"""Bench: the Open311 intake accepting reports with photos over HTTP, vs a bare WSGI hello.

Both served by waitress (8 threads) in this process, driven by the same client (keep-alive
sessions, ``--clients`` threads). Each report carries one distinct ~30 kB JPEG; it is decoded,
hashed, written to disk, checked for duplicates in PostgreSQL and stored (report + status row):
by default as ``ioc demo`` does (``--path worker``: on the bus, then the store sink's batches),
or each by its own transaction (``--path direct``).

    PYTHONPATH=$PWD .venv/bin/python bench/reports_api.py --reports 2000 --clients 16
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from PIL import Image
from psycopg_pool import ConnectionPool

from bench.common import machine, private_store
from ingest.reports.api import build_app
from ingest.reports.reader import StoreReportReader
from ingest.reports.store_sink import StoreSink
from ingest.reports.worker import Open311Worker
from ingest.sink import StoreSink as BusSink
from ioc.bus.memory import MemoryBus
from ioc.feeds.reports.settings import ReportsFeed
from ioc.feeds.reports.tables import MIGRATIONS
from ioc.http_server import ThreadedServer
from ioc.store.database import open_store
from ioc.store.writer import StoreWriter

SAMPLE = Path(__file__).parent.parent / "sample_streams" / "reports" / "feed.toml"


def hello(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    start("201 Created", [("Content-Type", "application/json")])
    return [b'[{"service_request_id":"x"}]']


def photo(i: int) -> bytes:
    rnd = random.Random(i)
    img = Image.new("RGB", (320, 240), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    noise = Image.effect_noise((320, 240), 40).convert("RGB")
    img = Image.blend(img, noise, 0.5)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def drive(url: str, n: int, clients: int, photos: list[bytes], key: str,
          start: int = 0) -> tuple[float, list[float]]:
    local = threading.local()

    def one(i: int) -> float:
        s = getattr(local, "s", None) or requests.Session()
        local.s = s
        rnd = random.Random(i)
        data = {"api_key": key, "service_code": rnd.choice(["lighting", "waste", "road"]),
                "lat": f"{16.42 + rnd.random() * 0.09:.6f}", "long": f"{107.54 + rnd.random() * 0.1:.6f}",
                "description": f"bench report {i}"}
        t0 = time.perf_counter()
        r = s.post(f"{url}/requests.json", data=data, files=[("media", ("p.jpg", photos[i], "image/jpeg"))])
        if r.status_code != 201:
            raise RuntimeError(f"{r.status_code}: {r.text[:200]}")
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = list(pool.map(one, range(start, n)))
    return (n - start) / (time.perf_counter() - t0), lat


def drive_apart(url: str, n: int, clients: int, key: str, procs: int = 2) -> tuple[float, list[float]]:
    """The client in ``procs`` other processes, so it does not share the server's interpreter lock."""
    ctx = multiprocessing.get_context("spawn")
    per = n // procs
    jobs = [(url, range(k * per, (k + 1) * per), clients // procs, key) for k in range(procs)]
    with ctx.Pool(procs) as pool:
        parts = pool.starmap(_drive_range, jobs)
    # each process times its own run (after making its photos); they run side by side: rates add up
    return sum(rate for rate, _ in parts), [x for _, lat in parts for x in lat]


def _drive_range(url: str, ids: range, clients: int, key: str) -> tuple[float, list[float]]:
    photos = {i: photo(i) for i in ids}
    shifted = [photos.get(i, b"") for i in range(ids.stop)]
    return drive(url, ids.stop, clients, shifted, key, start=ids.start)


def serve(app: Any) -> tuple[ThreadedServer, str]:
    server = ThreadedServer(app, "127.0.0.1", 0, threads=8)

    def run() -> None:
        try:
            server.serve_forever()
        except OSError:
            pass

    threading.Thread(target=run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[18] * 1000


def intake_path(store: Any, cfg: ReportsFeed, path: str) -> tuple[Any, Callable[[], None]]:
    """The app to serve and how to stop what runs beside it, for one ``--path``.

    ``worker``: what ``ioc demo`` runs: the Open311 worker answers 201 once a report's records are on
    the bus; the store sink writes them in batches (the count at the end waits for it). ``direct``:
    the earlier stand-in, each report inserted and committed by the request itself.
    """
    if path == "direct":
        pool = open_store(store.dsn, pool_max=10, want_timescaledb=False).pool  # one per waitress thread
        sink = StoreSink(pool)
        return build_app(cfg, sink.publish, sink.dead_letter, StoreReportReader(pool)), pool.close
    bus = MemoryBus(partitions=1)
    pool = ConnectionPool(store.dsn, min_size=2, max_size=10, kwargs={"autocommit": True}, open=True)
    worker = Open311Worker(cfg, bus.publisher(), StoreReportReader(pool), port=0)
    worker.server.shutdown()  # the bench serves the app itself, like the baseline
    sink = BusSink(bus, StoreWriter(store.pool, store.caps), publisher=bus.publisher())
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=60)
        pool.close()

    return worker.app, close


def stored(store: Any) -> int:
    with store.pool.connection() as conn:
        return int(conn.execute("SELECT count(*) FROM field_reports").fetchone()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--path", choices=("worker", "direct"), default="worker")
    a = ap.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" is the point here
    photos = [photo(i) for i in range(a.reports)]
    with private_store(timescaledb=False) as store, tempfile.TemporaryDirectory() as d:
        with store.pool.connection() as conn:
            for m in MIGRATIONS:
                m.apply(conn, store.caps)
        raw = tomllib.loads(SAMPLE.read_text()) | {"photo_dir": d}
        raw["clients"]["bench"] = {"api_key": "bench-key-000000000001", "per_minute": 10**6, "burst": 10**6}
        cfg = ReportsFeed.model_validate(raw)
        app, close = intake_path(store, cfg, a.path)
        base_srv, base_url = serve(hello)
        cpu = time.process_time()  # this process: the server (the clients run in others)
        rate0, lat0 = drive_apart(base_url, a.reports, a.clients, "x")
        cpu0 = (time.process_time() - cpu) / a.reports
        base_srv.shutdown()
        srv, url = serve(app)
        cpu = time.process_time()
        rate, lat = drive_apart(url, a.reports, a.clients, "bench-key-000000000001")
        cpu1 = (time.process_time() - cpu) / a.reports
        t0 = time.perf_counter()  # the last 201 has been answered
        while stored(store) < a.reports and time.perf_counter() - t0 < 600:
            time.sleep(0.05)
        all_stored = time.perf_counter() - t0
        srv.shutdown()
        close()
        count = stored(store)
    print(f"machine: {machine()}")
    print(f"{a.reports} posts with one ~{statistics.mean(map(len, photos)) / 1000:.0f} kB JPEG each, "
          f"{a.clients} client threads in 2 other processes, waitress 8 threads, path {a.path}")
    print(f"baseline bare WSGI hello: {rate0:.0f} req/s, p95 {p95(lat0):.1f} ms, "
          f"server CPU {1000 * cpu0:.2f} ms/request")
    print(f"Open311 intake:           {rate:.0f} reports/s, p95 {p95(lat):.1f} ms, stored {count} "
          f"(all in the store {all_stored:.2f} s after the last answer), "
          f"server CPU {1000 * cpu1:.2f} ms/report")
    print(f"ratio intake/baseline: {rate / rate0:.2f}")


if __name__ == "__main__":
    main()
