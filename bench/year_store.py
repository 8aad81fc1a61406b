"""A year of data and fifty screens: callback times on a year-sized store (issue 17, items 4 and 5).

Run: .venv/bin/python bench/year_store.py [--scale 1.0] [--plain] [--browse 40] [--screens 50]
                                         [--minutes 10] [--load-until 18:20]

1. Fills a private store (TimescaleDB, or plain PostgreSQL with ``--plain``) with ``--scale`` x one
   year of simulated data ending now, server-side (``bench/year_data.py``): 50 stations x 4 metrics
   a minute (105 M readings a year), 2,000 vessels one position each 15 min (70 M), 100 k alerts
   a year, camera counts a minute. ``--load-until HH:MM`` (UTC) stops the load at a slice boundary.
2. Brings the rollups current as the scheduler does: TimescaleDB's ``refresh_continuous_aggregate``
   slice by slice, or the fallback path's :func:`refresh_rollups` over each slice's dirty range.
   Then writes one new minute through the store's writer and times the steady-state refresh.
3. Serves the wall, sea map, camera wall and console, opens each in headless Chromium for
   ``--browse`` seconds while every callback request is timed on the server (the WSGI middleware
   of ``bench/wall_callbacks.py``), replays each recorded request ``--replays`` times alone, then
   replays the recorded traffic as ``--screens`` screens for ``--minutes`` minutes from another
   process (threads, each callback at the rate the browser issued it), reporting p50/p95 per
   callback on the server, errors, and the CPU and memory of the server and of PostgreSQL.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server  # noqa: E402

from alerts.people import People  # noqa: E402
from bench import year_web  # noqa: E402
from bench.common import machine, private_store  # noqa: E402
from bench.wall_callbacks import Timing, replay, report  # noqa: E402
from bench.year_data import YearSpec, load_year  # noqa: E402
from dashboards.app import create_app  # noqa: E402
from ioc.config import Station, load_settings  # noqa: E402
from ioc.feeds.environment.records import EnvironmentReading  # noqa: E402
from ioc.feeds.environment.schema import ROLLUPS  # noqa: E402
from ioc.feeds.vessels.records import VesselPosition  # noqa: E402
from ioc.store.maintenance import refresh_rollups  # noqa: E402
from ioc.store.writer import StoreWriter  # noqa: E402
from tests.browser import headless_chromium  # noqa: E402

PAGES = ("/", "/sea/", "/cameras/", "/console/")
#: the pages' other polled requests (GET), timed and replayed beside the Dash callbacks
POLLED = ("/api/freshness", "/_map/tracks.geojson", "/api/")
PASSWORD = "year-store-bench-password"


class PageTiming(Timing):
    """The wall bench's callback timing, plus the GET requests pages poll (freshness, map tracks)."""

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not any(p in path for p in POLLED):
            return super().__call__(environ, start_response)
        t = time.perf_counter()
        result = list(self.app(environ, start_response))
        with self.lock:
            self.samples.setdefault("GET " + path, []).append((time.perf_counter() - t) * 1000)
            self.bodies["GET " + path] = (None, path + "?" + environ.get("QUERY_STRING", ""),
                                          {"Cookie": environ.get("HTTP_COOKIE", "")})
        return result


def browse_logged_in(base: str, page: str, seconds: float, timing: Timing) -> None:
    """Log in as the bench's duty officer in headless Chromium, then keep ``page`` open."""
    from selenium.webdriver.common.by import By

    with headless_chromium() as driver:
        driver.get(f"{base}/login?lang=en")
        driver.find_element(By.ID, "username").send_keys("bench")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        time.sleep(2)
        timing.samples, timing.bodies = {}, {}  # the console the login lands on is not this page
        driver.get(base + page)
        time.sleep(seconds)
_CLK = os.sysconf("SC_CLK_TCK")


def bring_rollups_current(store, spec: YearSpec, since: datetime) -> float:  # noqa: ANN001
    """The first refresh over everything loaded, slice by slice as the scheduler would; seconds."""
    t0 = time.perf_counter()
    hi = spec.end + timedelta(minutes=1)
    while hi > since:
        lo = max(since, hi - timedelta(days=spec.slice_days))
        t = time.perf_counter()
        if store.caps.continuous_aggregates:
            with store.pool.connection() as conn:
                conn.autocommit = True
                for name in ROLLUPS:
                    conn.execute(f"CALL refresh_continuous_aggregate('{name}', %s::timestamptz, "
                                 "%s::timestamptz)", (lo, hi))
        else:
            with store.pool.connection() as conn:
                conn.execute("INSERT INTO rollup_dirty (lo, hi) VALUES (%s, %s)", (lo, hi))
            refresh_rollups(store.pool, store.caps)
        print(f"  rollups {lo:%Y-%m-%d}..{hi:%Y-%m-%d} in {time.perf_counter() - t:.0f} s", flush=True)
        hi = lo
    return time.perf_counter() - t0


def steady_refresh(store, spec: YearSpec, minute: int) -> float:  # noqa: ANN001
    """Write one new minute (all series, all vessels) through the writer, then refresh; seconds."""
    ts = spec.end + timedelta(minutes=minute)
    writer = StoreWriter(store.pool, store.caps)
    batch: list = [EnvironmentReading.model_construct(
        kind="environment.reading", v=1, time=ts, source_id=f"hue-st-{s:02d}", metric=m, value=20.0 + s % 7,
        unit="", quality="good") for s in range(spec.stations) for m in ("pm25", "pm10", "temperature",
                                                                            "humidity")]
    batch += [VesselPosition.model_construct(
        kind="vessel.position", v=1, time=ts, source_id=str(574_000_000 + v), mmsi=574_000_000 + v,
        lat=16.7, lon=108.0, sog=5.0, cog=90.0, heading=90, nav_status=0, msg_type=1, simulated=True)
        for v in range(spec.vessels)]
    writer.write(batch)
    t = time.perf_counter()
    if store.caps.continuous_aggregates:  # what the policy runs each minute: the invalidated part of 7 days
        with store.pool.connection() as conn:
            conn.autocommit = True
            for name in ROLLUPS:
                conn.execute(f"CALL refresh_continuous_aggregate('{name}', now() - interval '7 days', "
                             "now() + interval '1 hour')")
    else:
        refresh_rollups(store.pool, store.caps)
    return time.perf_counter() - t


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / _CLK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_pids(store) -> list[int]:  # noqa: ANN001
    """The postmaster and its children (backends, workers) of the private store."""
    with store.pool.connection() as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    master = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    kids.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return [master, *kids]


Call = tuple[str, bytes, dict, "float | None", str]  # path, body, headers, period, timing key


def screen_worker(base: str, screens: list[list[Call]], seconds: float, out: multiprocessing.Queue) -> None:
    """Run in another process: each screen a thread posting its page's callbacks at their rates;
    what each request took as the screen saw it (queueing included) is kept by timing key."""
    lock = threading.Lock()
    stats: dict = {"requests": 0, "errors": 0, "messages": [], "seen": {}}

    def screen(calls: list[Call], seed: int) -> None:
        rng = random.Random(seed)
        start = time.monotonic()
        end = start + seconds
        due = [start + rng.uniform(0, p or 2.0) for _, _, _, p, _ in calls]  # screens not in lockstep
        while due:
            now = time.monotonic()
            i = min(range(len(due)), key=due.__getitem__)
            if due[i] >= end:
                return
            if due[i] > now:
                time.sleep(due[i] - now)
            path, body, headers, period, key = calls[i]
            t = time.perf_counter()
            try:
                replay(base + path, body, headers)
                err = None
            except Exception as e:  # noqa: BLE001  # an error is a result here: counted and shown
                err = f"{path}: {e}"[:200]
            took = (time.perf_counter() - t) * 1000
            due[i] = due[i] + period if period else end
            with lock:
                stats["requests"] += 1
                stats["seen"].setdefault(key, []).append(took)
                if err:
                    stats["errors"] += 1
                    if len(stats["messages"]) < 5:
                        stats["messages"].append(err)

    threads = [threading.Thread(target=screen, args=(calls, n), daemon=True)
               for n, calls in enumerate(screens)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out.put(stats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of a year to store (0.01 = 3.65 days)")
    ap.add_argument("--plain", action="store_true", help="plain PostgreSQL instead of TimescaleDB")
    ap.add_argument("--vessels", type=int, default=2000)
    ap.add_argument("--vessel-step", type=float, default=15, help="minutes between a vessel's positions")
    ap.add_argument("--alerts", type=int, default=100_000, help="alerts a year")
    ap.add_argument("--load-until", default="", help="UTC HH:MM: stop loading at the next slice after this")
    ap.add_argument("--browse", type=float, default=40, help="seconds each page is open in Chromium")
    ap.add_argument("--replays", type=int, default=30)
    ap.add_argument("--screens", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2,
                    help="gunicorn workers serving the screens (ioc run web); 0: the in-process server")
    ap.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    print(machine())
    print("command:", " ".join(sys.argv))
    settings = load_settings()
    settings.stations = [Station(id=f"hue-st-{s:02d}", name=f"Station {s:02d}",
                                 lat=16.40 + 0.2 * (s % 10) / 10, lon=107.50 + 0.2 * (s // 10) / 5)
                         for s in range(50)]
    spec = YearSpec(end=datetime.now(UTC).replace(second=0, microsecond=0), days=365 * args.scale,
                    vessels=args.vessels, vessel_step=timedelta(minutes=args.vessel_step),
                    alerts_per_year=args.alerts, cameras=[c.id for c in settings.cameras])
    deadline = float("inf")
    if args.load_until:
        hh, mm = map(int, args.load_until.split(":"))
        cut = datetime.now(UTC).replace(hour=hh, minute=mm, second=0, microsecond=0)
        deadline = time.monotonic() + (cut - datetime.now(UTC)).total_seconds()
    with private_store(timescaledb=not args.plain, synchronous_commit="off", max_wal_size="8GB",
                       shared_buffers="1GB", checkpoint_timeout="30min") as store:
        print("store:", store.caps.label, flush=True)
        with store.pool.connection() as conn:
            loaded = load_year(conn, spec, deadline, say=lambda s: print(s, flush=True))
        total = sum(loaded.seconds.values())
        print(f"loaded in {total:.0f} s:", ", ".join(f"{k} {v:,}" for k, v in loaded.rows.items()),
              f"(from {loaded.start:%Y-%m-%d %H:%M}, {(spec.end - loaded.start).days} days"
              f"{', stopped early by the deadline' if loaded.stopped_early else ''})", flush=True)
        refresh_s = bring_rollups_current(store, spec, loaded.start)
        print(f"rollups brought current in {refresh_s:.0f} s", flush=True)
        t = time.perf_counter()
        with store.pool.connection() as conn:
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        print(f"vacuum analyze in {time.perf_counter() - t:.0f} s; database {size}", flush=True)
        steady = [steady_refresh(store, spec, m + 1) for m in range(3)]
        print("steady-state refresh after one new minute (3 times): "
              + ", ".join(f"{s * 1000:.0f} ms" for s in steady), flush=True)

        app = create_app(store.pool, settings, caps_label=store.caps.label)
        People(store.pool).add_user("bench", "duty_officer", PASSWORD, "Bench")
        timing = PageTiming(app.server.wsgi_app)
        app.server.wsgi_app = timing
        server = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            recorded: dict[str, list[tuple[str, bytes, dict, float | None]]] = {}
            for page in PAGES:
                browse_logged_in(base, page, args.browse, timing)
                report(f"{page} open {args.browse:.0f} s in headless Chromium (on the same 2 cores)",
                       timing.samples)
                recorded[page] = [(path, body, headers,
                                   args.browse / len(timing.samples[key]) if len(timing.samples[key]) > 2
                                   else None, key)
                                  for key, (body, path, headers) in timing.bodies.items()]
            timing.samples = {}
            for calls in recorded.values():
                for path, body, headers, _, _ in calls:
                    for _ in range(args.replays):
                        replay(base + path, body, headers)
            report(f"one screen: each recorded request replayed {args.replays} times, no browser",
                   timing.samples)

            screens = [recorded[PAGES[n % len(PAGES)]] for n in range(args.screens)]
            timing.samples = {}
            timing_dir = Path(tempfile.mkdtemp(prefix="ioc-year-web-"))
            gunicorn = None
            target, served_by = base, "one in-process server (werkzeug, threaded)"
            if args.workers > 0:
                gunicorn, target = year_web.start(store.dsn, not args.plain, settings.stations, args.workers,
                                                  args.threads, timing_dir)
                served_by = f"gunicorn, {args.workers} workers x {args.threads} threads (as `ioc run web`)"
            served = [os.getpid()] if gunicorn is None else year_web.server_pids(gunicorn)
            pg = postgres_pids(store)
            cpu0, pg0, w0 = cpu_seconds(served), cpu_seconds(pg), time.perf_counter()
            peak = sum(rss_mib(p) for p in served)
            queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
            proc = multiprocessing.get_context("spawn").Process(
                target=screen_worker, args=(target, screens, args.minutes * 60, queue))
            proc.start()
            stats = None
            while stats is None:  # read the result while the screens run: a child cannot exit
                try:  # before its queue's pipe is drained (a result over 64 KiB stalled the run)
                    stats = queue.get(timeout=5)
                except Empty:
                    if not proc.is_alive():
                        raise RuntimeError(f"the screens' process ended ({proc.exitcode}) "
                                           "without a result") from None
                peak = max(peak, sum(rss_mib(p) for p in served))
            wall = time.perf_counter() - w0
            proc.join()
            server_cpu = (cpu_seconds(served) - cpu0) / wall * 100
            pg_cpu = (cpu_seconds(postgres_pids(store)) - pg0) / wall * 100
            if gunicorn is not None:
                year_web.stop(gunicorn)
                timing.samples = year_web.read_timings(timing_dir)
        finally:
            server.shutdown()
    report(f"{args.screens} screens ({', '.join(PAGES)} in turn) for {args.minutes:g} min, served by "
           f"{served_by}: server time per callback", timing.samples)
    report(f"the same {args.screens} screens: each request as the screen saw it (queueing and the "
           "client's own share of the cores included)", stats["seen"])
    print(f"\n{args.screens} screens: {stats['requests']:,} requests, {stats['errors']} errors "
          f"{stats['messages']}; server ({served_by}) CPU {server_cpu:.0f} % (100 % = one core), "
          f"peak RSS {peak:.0f} MiB (all its processes); PostgreSQL CPU {pg_cpu:.0f} %")


if __name__ == "__main__":
    main()
