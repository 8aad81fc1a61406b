"""Wall callback time with millions of readings stored, measured on the real page.

Run: .venv/bin/python bench/wall_callbacks.py [--readings 10000000] [--seconds 60]

Loads ``--readings`` environment readings (50 stations x 4 metrics, one a minute, ending
now) into a private TimescaleDB through the store's writer, brings the rollups up to date
the way the scheduler does, then serves the wall and opens it in headless Chromium with a
fast refresh. Every callback request the browser makes is timed on the server (WSGI
middleware around Dash's ``/_dash-update-component``), so the figure covers the store
queries, figure building and JSON serialisation. Prints p50/p95/max per callback.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server  # noqa: E402

from bench.common import machine, private_store  # noqa: E402
from dashboards.app import create_app  # noqa: E402
from ioc.config import Station, load_settings  # noqa: E402
from ioc.feeds.environment.records import EnvironmentReading  # noqa: E402
from ioc.store.maintenance import refresh_rollups  # noqa: E402
from ioc.store.writer import StoreWriter  # noqa: E402
from tests.browser import headless_chromium  # noqa: E402

METRICS = (("pm25", "µg/m³"), ("pm10", "µg/m³"), ("temperature", "°C"), ("humidity", "%"))
STATIONS = 50


class Timing:
    """WSGI middleware recording the duration of each callback request by its output."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.samples: dict[str, list[float]] = {}
        self.bodies: dict[str, tuple[bytes, str, dict[str, str]]] = {}  # the last request of each callback
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        if environ.get("PATH_INFO", "").endswith("/_dash-update-component"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            import io

            environ["wsgi.input"] = io.BytesIO(body)
            try:
                key = json.loads(body).get("output", "?")[:60]
            except ValueError:
                key = "?"
            page = environ["PATH_INFO"][: -len("_dash-update-component")]
            key = key if page == "/" else page + key  # another page's callbacks named by their page
            t = time.perf_counter()
            result = list(self.app(environ, start_response))
            with self.lock:
                self.samples.setdefault(key, []).append((time.perf_counter() - t) * 1000)
                path = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
                headers = {"Cookie": environ.get("HTTP_COOKIE", ""),  # the session's CSRF cookie and header
                           "X-CSRFToken": environ.get("HTTP_X_CSRFTOKEN", "")}
                self.bodies[key] = (body, path, headers)
            return result
        return self.app(environ, start_response)


def load(store, n: int) -> None:  # noqa: ANN001
    writer = StoreWriter(store.pool, store.caps)
    per_step = STATIONS * len(METRICS)
    steps = n // per_step
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=steps - 1)
    batch: list[EnvironmentReading] = []
    t = time.perf_counter()
    for step in range(steps):
        ts = start + timedelta(minutes=step)
        for s in range(STATIONS):
            for m, (metric, unit) in enumerate(METRICS):
                batch.append(EnvironmentReading.model_construct(
                    kind="environment.reading", v=1, time=ts, source_id=f"hue-st-{s:02d}", metric=metric,
                    value=20 + 10 * ((step + s + m) % 17) / 17, unit=unit, quality="good"))
        if len(batch) >= 20_000:
            writer.write(batch)
            batch = []
    if batch:
        writer.write(batch)
    print(f"loaded {steps * per_step:,} readings in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    refresh_rollups(store.pool, store.caps)
    print(f"rollups refreshed in {time.perf_counter() - t:.0f} s")
    # steady state: a store that has been running has been vacuumed and analysed; measuring while
    # autovacuum works through 20 million fresh rows would time the vacuum, not the wall
    t = time.perf_counter()
    with store.pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    print(f"vacuum analyze in {time.perf_counter() - t:.0f} s")


def browse(url: str, seconds: float) -> None:
    with headless_chromium() as driver:
        driver.get(url)
        time.sleep(seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=10_000_000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--refresh-ms", type=int, default=2000)
    ap.add_argument("--replays", type=int, default=50)
    args = ap.parse_args()
    print(machine())
    settings = load_settings()
    settings.stations = [Station(id=f"hue-st-{s:02d}", name=f"Station {s:02d}", lat=16.46, lon=107.59)
                         for s in range(12)]
    settings.web.refresh_ms = args.refresh_ms
    with private_store(timescaledb=True, synchronous_commit="off") as store:
        print("store:", store.caps.label)
        load(store, args.readings)
        with store.pool.connection() as conn:
            print("readings stored:", conn.execute("SELECT n FROM stored_counts").fetchone()[0])
        app = create_app(store.pool, settings, caps_label=store.caps.label)
        timing = Timing(app.server.wsgi_app)
        app.server.wsgi_app = timing
        server = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            browse(base + "/", args.seconds)
            report("with the page open in headless Chromium (software rendering on the same 2 cores)",
                   timing.samples)
            # the same requests again without a browser rendering on the same two cores
            timing.samples = {}
            for body, path, headers in list(timing.bodies.values()):
                for _ in range(args.replays):
                    replay(base + path, body, headers)
        finally:
            server.shutdown()
    report(f"the same callback requests replayed {args.replays} times, no browser running", timing.samples)


def replay(url: str, body: bytes, headers: dict[str, str]) -> None:
    import urllib.request

    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def report(title: str, samples: dict[str, list[float]]) -> None:
    print(f"\n{title}\n")
    print("| callback (outputs) | calls | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for key, xs in sorted(samples.items()):
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
        print(f"| `{key}` | {len(xs)} | {statistics.median(xs):.1f} | {p95:.1f} | {xs[-1]:.1f} |")


if __name__ == "__main__":
    main()
