"""The pages of the year-store bench served as ``ioc run web`` serves them: gunicorn, worker processes
with threads (``gthread``), each building its own store pool and app after the fork.

Each worker times every request of the pages (Dash callbacks by their outputs, the polled GETs by
path: the keys of :class:`bench.year_store.PageTiming`) and appends ``key<TAB>ms`` to a file of its
own under ``timing_dir``; :func:`read_timings` gathers them. Started in a process of its own
(:func:`start`), stopped with ``SIGTERM`` to that process (gunicorn's arbiter: a graceful stop).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class FileTiming:
    """WSGI middleware: the year bench's request timing, each sample appended to this worker's file."""

    def __init__(self, app: Any, timing_dir: Path) -> None:
        from bench.year_store import PageTiming

        self.timing = PageTiming(app)
        self.path = timing_dir / f"{os.getpid()}.tsv"
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        result = self.timing(environ, start_response)
        with self.timing.lock:  # what was timed so far (by any thread), each sample taken once
            taken, self.timing.samples = self.timing.samples, {}
        if taken:
            lines = "".join(f"{k}\t{ms:.3f}\n" for k, xs in taken.items() for ms in xs)
            with self.lock, self.path.open("a", encoding="utf-8") as f:
                f.write(lines)
        return result


def _serve(dsn: str, timescaledb: bool, stations: list[Any], workers: int, threads: int, port: int,
           timing_dir: str) -> None:
    """The arbiter's process: gunicorn with ``workers`` x ``threads`` on 127.0.0.1:``port``."""
    from gunicorn.app.base import BaseApplication

    from dashboards.app import create_app
    from ioc.config import load_settings
    from ioc.store.database import open_store

    class BenchWeb(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": [f"127.0.0.1:{port}"], "workers": workers, "threads": threads,
                               "worker_class": "gthread", "accesslog": None, "errorlog": "-",
                               "loglevel": "warning", "preload_app": False, "timeout": 120}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            settings = load_settings()
            settings.stations = stations
            store = open_store(dsn, pool_min=1, pool_max=threads + 1, want_timescaledb=timescaledb)
            app = create_app(store.pool, settings, caps_label=store.caps.label)
            return FileTiming(app.server.wsgi_app, Path(timing_dir))

    BenchWeb().run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(dsn: str, timescaledb: bool, stations: list[Any], workers: int, threads: int,
          timing_dir: Path) -> tuple[multiprocessing.Process, str]:
    """Start the server; return its process and base URL once it answers."""
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(dsn, timescaledb, stations, workers, threads, port, str(timing_dir)))
    proc.start()
    base = f"http://127.0.0.1:{port}"
    while True:  # workers import Dash and build the app: wait for an answer, not a fixed time
        if not proc.is_alive():
            raise RuntimeError(f"gunicorn exited with {proc.exitcode}")
        try:
            with urllib.request.urlopen(base + "/api/freshness", timeout=5):
                return proc, base
        except urllib.error.HTTPError:
            return proc, base  # it answers (a refusal is an answer)
        except OSError:
            time.sleep(0.5)


def stop(proc: multiprocessing.Process) -> None:
    """Gunicorn's graceful stop (the arbiter ends its workers), then wait for it."""
    if proc.pid is not None and proc.is_alive():
        os.kill(proc.pid, signal.SIGTERM)
    proc.join(60)


def server_pids(proc: multiprocessing.Process) -> list[int]:
    """The arbiter and its workers."""
    pids = [proc.pid] if proc.pid else []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == proc.pid:
                    pids.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def read_timings(timing_dir: Path) -> dict[str, list[float]]:
    """Every worker's samples: ``key -> [ms, ...]``."""
    out: dict[str, list[float]] = {}
    for f in timing_dir.glob("*.tsv"):
        for line in f.read_text(encoding="utf-8").splitlines():
            key, _, ms = line.rpartition("\t")
            if key:
                out.setdefault(key, []).append(float(ms))
    return out
