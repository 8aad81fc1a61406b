"""What each page costs a wall PC while it stays open: the CPU of headless Chromium showing it, and
of the demo serving it, as a share of one core, over a steady stretch.

Run: .venv/bin/python bench/page_cpu.py [--pages /,/sea/] [--settle 15] [--seconds 30]
                                        [--root CHECKOUT] [--label TEXT]

Starts ``ioc demo`` (of ``--root``, this checkout by default: another checkout's demo compares two
versions of a page on the same machine, run after run), logs the duty officer in, then opens each
page in turn in one headless Chromium window, lets it settle ``--settle`` seconds and measures the
CPU time of the browser's processes and of the demo's process tree (the server and its workers;
the embedded PostgreSQL runs apart and is not counted) over ``--seconds``. Chromium draws WebGL in
software here (no GPU), so map pages cost more than on a wall PC with a graphics card; compare rows
of one run, or runs made one after the other. Prints one Markdown table row per page.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.common import machine  # noqa: E402
from tests.browser import headless_chromium, log_in  # noqa: E402
from tests.cpu_accounting import tree_cpu_s  # noqa: E402
from tests.demo_process import running_demo  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

PAGES = ("/", "/sea/", "/cameras/", "/console/", "/security/", "/press/", "/services/", "/reports311/")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated page paths")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds after opening before measuring")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each measurement")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose `ioc demo` serves the pages")
    ap.add_argument("--label", default="", help="what to call this run in the table")
    args = ap.parse_args()
    print(f"<!-- {machine()} -->")
    print("| run | page | browser, % of a core | demo, % of a core |\n|---|---|---:|---:|")
    with running_demo(start_timeout=300, root=args.root.resolve()) as demo:
        password = wait_for(lambda: re.search(r"password '([^']+)'", demo.output),
                            "the demo printing the duty officer's password")
        served = psutil.Process(demo.proc.pid)
        with headless_chromium() as driver:
            log_in(driver, demo.url.rstrip("/"), "duty", password.group(1), target="/console/")
            browser = psutil.Process()  # the chromedriver and Chromium are this process's children
            for page in [p for p in args.pages.split(",") if p]:
                driver.get(demo.url.rstrip("/") + page)
                time.sleep(args.settle)  # the page fills in and its first refreshes pass
                b0, s0, t0 = tree_cpu_s(browser), tree_cpu_s(served), time.monotonic()
                time.sleep(args.seconds)
                b1, s1, t1 = tree_cpu_s(browser), tree_cpu_s(served), time.monotonic()
                print(f"| {args.label or args.root.name} | `{page}` | {100 * (b1 - b0) / (t1 - t0):.1f} "
                      f"| {100 * (s1 - s0) / (t1 - t0):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
