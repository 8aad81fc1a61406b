"""A night without a restart, measured: the server's memory and each open page's JS heap and DOM
sampled at a fixed interval, and the slope of each fitted by least squares.

Used by the suite's short soak (``tests/test_soak.py``) and by the hour-long one
(``bench/soak.py``). The server's memory is its resident set (``/proc/<pid>/status``); a page's
heap is what V8 holds after a full collection (``HeapProfiler.collectGarbage`` then
``Runtime.getHeapUsage`` over the DevTools protocol), so garbage waiting for the collector does
not pass for a leak; the DOM size is ``Memory.getDOMCounters``' node count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One measurement of the server and the open pages, ``at_s`` seconds into the soak."""

    at_s: float
    server_mb: float
    heap_mb: dict[str, float]  # page -> V8 heap in use after a collection
    dom_nodes: dict[str, int]  # page -> DOM nodes


@dataclass
class Soak:
    """The samples of one soak and their slopes."""

    pages: Sequence[str]
    samples: list[Sample] = field(default_factory=list)

    def slope(self, value: Callable[[Sample], float], skip: int = 0) -> float:
        """Least-squares slope of ``value`` per minute over the samples after the first ``skip``."""
        pts = [(s.at_s / 60.0, value(s)) for s in self.samples[skip:]]
        return least_squares_slope(pts)

    def slopes(self, skip: int = 0) -> dict[str, float]:
        """Slope per minute of the server's MB, and of each page's heap MB and DOM nodes."""
        out = {"server_mb": self.slope(lambda s: s.server_mb, skip)}
        for page in self.pages:
            out[f"heap_mb {page}"] = self.slope(lambda s, p=page: s.heap_mb[p], skip)
            out[f"dom_nodes {page}"] = self.slope(lambda s, p=page: float(s.dom_nodes[p]), skip)
        return out

    def table(self) -> str:
        """The samples as a Markdown table (minutes, server MB, heap MB and DOM nodes per page)."""
        head = ["min", "server MB", *(f"heap MB {p}" for p in self.pages), *(f"DOM {p}" for p in self.pages)]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in self.samples:
            cells = [f"{s.at_s / 60:.1f}", f"{s.server_mb:.1f}", *(f"{s.heap_mb[p]:.2f}" for p in self.pages),
                     *(str(s.dom_nodes[p]) for p in self.pages)]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)


def least_squares_slope(points: Sequence[tuple[float, float]]) -> float:
    """The slope of the least-squares line through ``points`` (0 for fewer than two)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx


def resident_mb(pid: int) -> float:
    """The resident set of process ``pid`` in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_pages(driver: Any, base: str, pages: Sequence[str]) -> dict[str, str]:
    """Each page in a window of its own; returns page -> window handle."""
    handles: dict[str, str] = {}
    for i, page in enumerate(pages):
        if i:
            driver.switch_to.new_window("window")
        driver.get(base.rstrip("/") + page)
        handles[page] = driver.current_window_handle
    return handles


def page_memory(driver: Any, handle: str) -> tuple[float, int]:
    """(V8 heap MB in use after a full collection, DOM nodes) of the page in window ``handle``."""
    driver.switch_to.window(handle)
    driver.execute_cdp_cmd("HeapProfiler.enable", {})
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    heap = driver.execute_cdp_cmd("Runtime.getHeapUsage", {})
    dom = driver.execute_cdp_cmd("Memory.getDOMCounters", {})
    return heap["usedSize"] / 2**20, int(dom["nodes"])


def run_soak(driver: Any, handles: dict[str, str], server_pid: int, samples: int, every_s: float,
             report: Callable[[Sample], None] | None = None) -> Soak:
    """Sample the server and the pages ``samples`` times, ``every_s`` apart (the soak's own clock:
    a soak measures over time by design)."""
    soak = Soak(list(handles))
    start = time.monotonic()
    for i in range(samples):
        next_at = start + i * every_s
        time.sleep(max(0.0, next_at - time.monotonic()))
        heap: dict[str, float] = {}
        nodes: dict[str, int] = {}
        for page, handle in handles.items():
            heap[page], nodes[page] = page_memory(driver, handle)
        sample = Sample(time.monotonic() - start, resident_mb(server_pid), heap, nodes)
        soak.samples.append(sample)
        if report is not None:
            report(sample)
    return soak
