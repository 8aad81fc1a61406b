"""A pytest plugin that records the CPU time each test costs: its worker process and every process
below it (servers, demos, Chromium), from the test's setup to its teardown.

Loaded by ``bench/suite_cpu.py`` (``-p tests.cpu_accounting``, every xdist worker loads it too); each
process writes one JSON line per test to ``$IOC_TEST_CPU_OUT/<pid>.jsonl`` when its session ends.
:func:`tree_cpu_s` also meters the pages of ``bench/page_cpu.py``.
Processes that leave the tree (``pg_ctl`` daemonises PostgreSQL) are not counted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

_ME = psutil.Process()
_ROWS: list[dict[str, object]] = []


def tree_cpu_s(top: psutil.Process = _ME) -> float:
    """CPU seconds of ``top`` and every live process below it, each with the children it reaped (so a
    process that ended is counted once, in the parent that waited for it)."""
    total = 0.0
    for proc in (top, *top.children(recursive=True)):
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:  # ended meanwhile
            pass
    return total


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cpu, wall = tree_cpu_s(), time.monotonic()
    yield
    _ROWS.append({"test": item.nodeid, "cpu_s": round(tree_cpu_s() - cpu, 3),
                  "wall_s": round(time.monotonic() - wall, 3)})


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("IOC_TEST_CPU_OUT")
    if out and _ROWS:
        Path(out, f"{os.getpid()}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _ROWS))
