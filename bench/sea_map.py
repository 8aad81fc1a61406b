"""Sea map callbacks with 2,000 vessels and 200,000 track points: time and payload.

Run: .venv/bin/python bench/sea_map.py [--vessels 2000] [--points 100] [--calls 30] [--plain]
                                      [--browser SECONDS]

Loads ``--vessels`` vessels with ``--points`` positions each (one every 108 s, all
inside the page's default 3 h track window, ending now), their register entries and
an open alert for one vessel in twenty into a private TimescaleDB through the
store's writer. Then mounts the sea page on a bare Flask server and, ``--calls``
times each, posts the page's three server callbacks exactly as the browser does
(``/sea/_dash-update-component``, through Flask's test client: no network), and
times each step on its own: the store query, the figure building, Dash's JSON
serialisation. Prints p50 / p95 / max and the response size as a markdown table. With
``--browser`` it then serves the page and watches it in headless Chromium (software WebGL,
so an upper bound): how long each map update takes and how much the main thread is blocked.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dash._utils import to_json  # noqa: E402
from flask import Flask  # noqa: E402

from bench.common import machine, private_store  # noqa: E402
from dashboards import sea  # noqa: E402
from ioc.config import load_settings  # noqa: E402
from ioc.feeds.vessels.records import VesselPosition, VesselStatic  # noqa: E402
from ioc.store import vessel_queries as vq  # noqa: E402
from ioc.store.writer import StoreWriter  # noqa: E402

STEP = timedelta(seconds=108)  # 100 points in exactly 3 h


def load(store: Any, vessels: int, points: int) -> int:  # noqa: ANN401
    """Random-walk tracks off Huế, ending now; returns the MMSI of a vessel in alert."""
    writer = StoreWriter(store.pool, store.caps)
    rng = random.Random(7)
    end = datetime.now(UTC).replace(microsecond=0)
    batch: list[VesselPosition | VesselStatic] = []
    t = time.perf_counter()
    for v in range(vessels):
        mmsi = 574_000_000 + v
        lon, lat = rng.uniform(107.55, 108.25), rng.uniform(16.25, 16.95)
        course, speed = rng.uniform(0, 360), rng.uniform(0, 9)
        for i in range(points):
            course = (course + rng.gauss(0, 12)) % 360
            dist = speed * 1852 * STEP.total_seconds() / 3600 / 111_000
            lon += dist * math.sin(math.radians(course))
            lat += dist * math.cos(math.radians(course))
            batch.append(VesselPosition.model_construct(
                kind="vessel.position", v=1, time=end - (points - 1 - i) * STEP, source_id=str(mmsi),
                mmsi=mmsi,
                lat=round(lat, 6), lon=round(lon, 6), sog=round(speed, 1), cog=round(course, 1),
                heading=int(course) % 360, nav_status=7 if speed < 5 else 0, msg_type=1, simulated=False))
        batch.append(VesselStatic.model_construct(
            kind="vessel.static", v=1, time=end, source_id=str(mmsi), mmsi=mmsi, name=f"TTH {90000 + v} TS",
            callsign=f"XV{v:04d}", imo=None, ship_type=30, length_m=float(rng.randint(12, 24)),
            beam_m=float(rng.randint(4, 7)), destination="THUAN AN", simulated=False))
        if len(batch) >= 20_000:
            writer.write(batch)
            batch = []
    if batch:
        writer.write(batch)
    flagged = [574_000_000 + v for v in range(0, vessels, 20)]
    with store.pool.connection() as conn:
        for i, mmsi in enumerate(flagged):
            detector = ("loitering", "ais_gap", "zone_dwell", "encounter", "storm_ban")[i % 5]
            details = {"mmsi": mmsi, **({"mmsis": [mmsi, mmsi + 1]} if detector == "encounter" else {})}
            conn.execute(
                "INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, started_at, "
                "first_seen, last_seen, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                (f"{detector}:{mmsi}", detector, detector, str(mmsi), "critical" if i % 3 == 0 else "warning",
                 f"Vessel {mmsi}: {detector}", end, end, end, json.dumps(details)))
    print(f"loaded {vessels:,} vessels x {points} positions and {len(flagged)} open alerts "
          f"in {time.perf_counter() - t:.0f} s")
    return flagged[0]


def percentiles(xs: list[float]) -> tuple[float, float, float]:
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], xs[-1]


def timed(fn: Callable[[], Any], calls: int) -> tuple[list[float], Any]:  # noqa: ANN401
    out = None
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return samples, out


def dash_request(app: Any, outputs: list[tuple[str, str]], inputs: list[tuple[str, str, Any]],  # noqa: ANN401
                 states: list[tuple[str, str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """The body dash-renderer posts for a callback of ``app``."""
    first = f"{outputs[0][0]}.{outputs[0][1]}"
    return {
        "output": next(k for k in app.callback_map if first in k),
        "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1
        else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in states],
    }


_WATCH_JS = """
window.__bench = {updates: [], long: []};
new PerformanceObserver(list => {
    for (const e of list.getEntries()) { window.__bench.long.push(e.duration); }
}).observe({type: 'longtask', buffered: true});
const hook = setInterval(function () {
    const gd = document.querySelector('#sea-map .js-plotly-plot');
    if (!gd || !gd.on || gd.__benchHooked) { return; }
    gd.__benchHooked = true;
    let start = null;
    gd.on('plotly_beforeplot', () => { start = performance.now(); return true; });
    gd.on('plotly_afterplot', () => {
        if (start !== null) { window.__bench.updates.push(performance.now() - start); }
    });
    clearInterval(hook);
}, 50);
"""


def browse(server: Flask, seconds: float) -> dict[str, float]:
    """Serve the page and watch it in headless Chromium: map update times and main-thread long tasks."""
    import tempfile
    import threading

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as profile:
            opts = webdriver.ChromeOptions()
            opts.binary_location = "/usr/bin/chromium"
            for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--enable-unsafe-swiftshader", "--window-size=1920,1080",
                        f"--user-data-dir={profile}"):
                opts.add_argument(arg)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
            try:
                driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH_JS})
                driver.get(f"http://127.0.0.1:{httpd.server_port}/sea/")
                time.sleep(seconds)
                got = driver.execute_script(
                    "const gd = document.querySelector('#sea-map .js-plotly-plot');"
                    "const n = name => ((gd._fullData || []).find(t => t.name === name)"
                    " || {lon: []}).lon.length;"
                    "return {updates: window.__bench.updates, long: window.__bench.long,"
                    " vessels: n('vessels'), tracks: (window.__seaTracks || {}).points || 0};")
            finally:
                driver.quit()
    finally:
        httpd.shutdown()
    ups = sorted(got["updates"]) or [0.0]
    return {"vessels": got["vessels"], "tracks": got["tracks"], "updates": len(got["updates"]),
            "p50": statistics.median(ups), "max": ups[-1], "long_ms": sum(got["long"]),
            "long_share": sum(got["long"]) / (seconds * 1000), "long_max": max(got["long"], default=0.0)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vessels", type=int, default=2000)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--plain", action="store_true", help="plain PostgreSQL instead of TimescaleDB")
    ap.add_argument("--browser", type=float, default=0.0, metavar="SECONDS",
                    help="also watch the page this long in headless Chromium (map update time, long tasks)")
    args = ap.parse_args()
    print(machine())
    settings = load_settings()
    rows: list[tuple[str, list[float], int | None]] = []
    with private_store(timescaledb=not args.plain, synchronous_commit="off") as store:
        print("store:", store.caps.label)
        flagged = load(store, args.vessels, args.points)
        with store.pool.connection() as conn:
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE vessel_positions")
            conn.execute("VACUUM ANALYZE vessel_latest")
            conn.autocommit = False
        server = Flask("bench")
        view = sea.SeaView.build(store.pool, settings)
        app = sea.attach(server, view)
        client = server.test_client()
        client.get("/sea/")  # the layout, once

        # the store queries alone
        samples, snap = timed(lambda: vq.latest_vessels(store.pool), args.calls)
        rows.append(("query: latest positions + register + open alerts", samples, None))
        samples, tracks = timed(lambda: vq.vessel_tracks(store.pool, hours=3, budget=sea.TRACK_BUDGET),
                                args.calls)
        rows.append((f"query: tracks 3 h, thinned in SQL ({tracks.points:,} of "
                     f"{args.vessels * args.points:,} points)", samples, None))
        samples, simple = timed(lambda: vq.vessel_tracks(store.pool, hours=3, budget=sea.TRACK_BUDGET,
                                                         tolerance_deg=sea.TRACK_TOLERANCE_DEG), args.calls)
        rows.append((f"query: tracks + Douglas-Peucker 4 m ({simple.points:,} points)", samples, None))
        samples, _ = timed(lambda: vq.vessel_details(store.pool, flagged, hours=3), args.calls)
        rows.append(("query: one vessel's details + full track + alerts", samples, None))

        # figure building and serialisation, from the query results above
        samples, vessel_fig = timed(lambda: sea.vessel_trace(sea.classify(snap, view.ports), snap.as_of),
                                    args.calls)
        rows.append((f"build: vessel markers ({args.vessels:,} arrows, hover text)", samples,
                     len(to_json(vessel_fig))))
        samples, body = timed(lambda: sea.track_geojson(simple), args.calls)
        rows.append(("build: tracks GeoJSON (one MultiLineString)", samples, len(body)))
        samples, _ = timed(lambda: to_json(vessel_fig), args.calls)
        rows.append(("serialise: vessel markers (plotly JSON encoder)", samples, None))

        # the callbacks end to end, as the browser posts them
        tick = dash_request(
            app,
            [("sea-vessels", "data"), ("sea-counts", "children"), ("sea-sim-note", "children"),
             ("sea-alert-list", "children"), ("sea-list-sig", "data"), ("sea-alert-count", "children"),
             ("sea-search", "options"), ("sea-options-sig", "data"), ("sea-asof", "children"),
             ("sea-last-update", "data"), ("sea-tick", "interval")],
            [("sea-tick", "n_intervals", 1)],
            [("sea-list-sig", "data", None), ("sea-options-sig", "data", None)])
        track_req = dash_request(app, [("sea-tracks", "data"), ("sea-track-note", "children")],
                                 [("sea-track-tick", "n_intervals", 1), ("sea-hours", "value", 3)])
        details_req = dash_request(
            app,
            [("sea-details-body", "children"), ("sea-details", "className"), ("sea-selection", "data")],
            [("sea-selected", "data", {"mmsi": flagged, "seq": 1, "focus": True}),
             ("sea-tick", "n_intervals", 1), ("sea-hours", "value", 3)])
        view.tracks.max_age_s = 0.0  # time the query on every call, not the read shared by screens
        for label, body in (("callback: vessels tick (first load: list + search options)", tick),
                            ("callback: tracks (every 10 s: the URL of the GeoJSON)", track_req),
                            ("callback: selected vessel details", details_req)):
            sizes = []

            def post(body: dict[str, Any] = body, sizes: list[int] = sizes) -> None:
                resp = client.post("/sea/_dash-update-component", json=body)
                assert resp.status_code == 200, resp.data[:500]
                sizes.append(len(resp.data))

            samples, _ = timed(post, args.calls)
            rows.append((label, samples, sizes[-1]))
        # the GeoJSON the map then loads (queried again on every call here: no shared cache)
        sizes = []

        def get_tracks() -> None:
            resp = client.get("/sea/_map/tracks.geojson?hours=3")
            assert resp.status_code == 200
            sizes.append(len(resp.data))

        samples, _ = timed(get_tracks, args.calls)
        rows.append(("GET /sea/_map/tracks.geojson (query + thinning + GeoJSON)", samples, sizes[-1]))
        # a later tick: the alert list and search options unchanged, so not sent again
        first = json.loads(client.post("/sea/_dash-update-component", json=tick).data)["response"]
        later = json.loads(json.dumps(tick))
        later["state"][0]["value"] = first["sea-list-sig"]["data"]
        later["state"][1]["value"] = first["sea-options-sig"]["data"]
        sizes = []

        def post_later() -> None:
            resp = client.post("/sea/_dash-update-component", json=later)
            sizes.append(len(resp.data))

        samples, _ = timed(post_later, args.calls)
        rows.append(("callback: vessels tick (steady state)", samples, sizes[-1]))
        view.tracks.max_age_s = sea.TRACK_CACHE_S
        browser = browse(server, args.browser) if args.browser else None

    print()
    print(f"{args.vessels:,} vessels x {args.points} points = {args.vessels * args.points:,} positions "
          f"in the 3 h window; {args.calls} calls each; track budget {sea.TRACK_BUDGET:,} points")
    print()
    if browser:
        print(f"browser ({args.browser:.0f} s in headless Chromium, software WebGL): {browser['vessels']:,} "
              f"vessels and {browser['tracks']:,} track points drawn; {browser['updates']} map updates, "
              f"update p50 {browser['p50']:.0f} ms, max {browser['max']:.0f} ms; main-thread long tasks "
              f"{browser['long_ms']:.0f} ms in all ({browser['long_share']:.0%} of the time), longest "
              f"{browser['long_max']:.0f} ms")
        print()
    print("| step | p50 ms | p95 ms | max ms | payload |")
    print("|---|---:|---:|---:|---:|")
    for label, xs, size in rows:
        p50, p95, mx = percentiles(xs)
        payload = "" if size is None else f"{size / 1024:,.0f} KiB" if size >= 10240 else f"{size:,} B"
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {mx:.1f} | {payload} |")


if __name__ == "__main__":
    main()
