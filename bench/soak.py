"""A night without a restart: the demo with every feed, the wall, sea map and camera wall open for
an hour; the server's memory, each page's JS heap and DOM size sampled each minute; slopes printed.

Run: PYTHONPATH=$PWD .venv/bin/python bench/soak.py [--minutes 60] [--every 60] [--warmup 5]

Starts ``ioc demo`` (embedded PostgreSQL, all sample feeds, detectors, scheduler, pages served by
waitress) as a subprocess, opens each page in a window of its own in headless Chromium, waits
``--warmup`` minutes (caches, the sea map's tracks and the charts fill up), then samples (see
``tests/soak.py``: resident set of the demo process; V8 heap after a full collection; DOM nodes)
and prints the samples as a Markdown table and the least-squares slope of each series per minute.
The camera wall needs no login here (``cameras_require_login`` off for the run): the soak is about
memory, not access.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.common import machine  # noqa: E402
from tests.browser import headless_chromium  # noqa: E402
from tests.demo_process import running_demo  # noqa: E402
from tests.soak import Sample, open_pages, run_soak  # noqa: E402

PAGES = ("/", "/sea/", "/cameras/")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the sampled soak")
    ap.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes before the first sample")
    args = ap.parse_args()
    os.environ["IOC_ALERTS__AUTH__CAMERAS_REQUIRE_LOGIN"] = "false"
    samples = int(args.minutes * 60 / args.every) + 1
    print(f"# soak: {args.minutes:g} min, a sample every {args.every:g} s after {args.warmup:g} min warm-up")
    print(f"# machine: {machine()}; started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    with running_demo(start_timeout=300) as demo, headless_chromium() as driver:
        handles = open_pages(driver, demo.url, PAGES)
        time.sleep(args.warmup * 60)

        def report(s: Sample) -> None:
            heaps = " ".join(f"{p}={s.heap_mb[p]:.1f}MB/{s.dom_nodes[p]}n" for p in PAGES)
            print(f"{s.at_s / 60:6.1f} min  server {s.server_mb:7.1f} MB  {heaps}", flush=True)

        soak = run_soak(driver, handles, demo.proc.pid, samples, args.every, report)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    print()
    print(soak.table())
    print()
    for name, slope in soak.slopes().items():
        print(f"slope {name}: {slope:+.4f} per min")
    print(f"browser errors: {len(errors)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
