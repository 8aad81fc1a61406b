"""Where the test suite's CPU goes: the whole suite under ``scripts/test``, with the CPU time of each
test's process tree recorded (:mod:`tests.cpu_accounting`), summed by file.

Run: .venv/bin/python bench/suite_cpu.py [--top 25] [pytest arguments...]

Prints the suite's wall time, the CPU time counted in all, and the files and tests that cost the most
as Markdown tables. On two cores the suite cannot take less wall time than (CPU counted) / 2, plus
what is not counted: collection, the workers' start and PostgreSQL servers started by ``pg_ctl``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=25, help="how many files and tests to list")
    args, pytest_args = ap.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="ioc-suite-cpu-") as out:
        started = time.monotonic()
        run = subprocess.run([str(ROOT / "scripts" / "test"), "-p", "tests.cpu_accounting", *pytest_args],
                             cwd=ROOT, env={**os.environ, "IOC_TEST_CPU_OUT": out}, stdin=subprocess.DEVNULL,
                             check=False)
        wall = time.monotonic() - started
        rows = [json.loads(line) for f in Path(out).glob("*.jsonl") for line in f.read_text().splitlines()]
    by_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for r in rows:
        entry = by_file[r["test"].split("::")[0]]
        entry[0] += r["cpu_s"]
        entry[1] += r["wall_s"]
        entry[2] += 1
    total = sum(r["cpu_s"] for r in rows)
    print(f"\n{machine()}; scripts/test exit {run.returncode}, {len(rows)} tests, {wall:.0f} s in all "
          f"(setup included); CPU counted in the tests: {total:.0f} s\n")
    print("| file | tests | CPU s | share | wall s (sum over its tests) |\n|---|---:|---:|---:|---:|")
    for name, (cpu, spent, n) in sorted(by_file.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f"| {name} | {n} | {cpu:.1f} | {100 * cpu / total:.1f} % | {spent:.1f} |")
    print("\n| test | CPU s | wall s |\n|---|---:|---:|")
    for r in sorted(rows, key=lambda r: -r["cpu_s"])[:args.top]:
        print(f"| {r['test']} | {r['cpu_s']:.1f} | {r['wall_s']:.1f} |")
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
