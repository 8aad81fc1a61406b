"""``ioc demo`` end to end: the real command, a private PostgreSQL, the sample streams, the wall."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ioc(*args: str) -> list[str]:
    return [sys.executable, "-m", "ioc.app.cli", *args]


def test_demo_for_reports_counts_and_exits_zero() -> None:
    res = subprocess.run(ioc("demo", "--for", "20", "--port", "0"), cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    wall = re.search(r"Wall: (http://127\.0\.0\.1:\d+/)", res.stdout)
    assert wall, res.stdout
    counts = dict(re.findall(r"(\w+)=(\d+)", res.stdout.splitlines()[-1]))
    assert int(counts["events_stored"]) > 100
    assert int(counts["alerts_raised"]) >= 1
    assert "dead_letters" in counts


