"""The runtime: builds the store, the bus, the workers and the wall, starts them, stops them.

This is the composition root (DESIGN.md): the only module that wires feeds,
rules, alerts and pages together. Every worker runs in a thread with a
shared stop event; :meth:`Runtime.stop` stops them in order (ingest first,
then the consumers after they drained, then the web server and the store).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from alerts.service import AlertService, AlertSignalConsumer
from dashboards.app import create_app
from detectors.registry import build_detectors
from detectors.runner import DetectorRunner
from ingest.environment import build_source
from ingest.environment.worker import EnvironmentWorker
from ingest.sink import StoreSink
from ioc.app.jobs import build_scheduler
from ioc.bus.base import Bus
from ioc.bus.memory import MemoryBus
from ioc.config import Settings
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter

log = logging.getLogger(__name__)

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_streams"


@dataclass
class Worker:
    """A named loop run in its own thread until the stop event is set."""

    name: str
    run: Callable[[threading.Event], None]
    health: Any = None
    stage: int = 1  # lower stages stop first
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class Runtime:
    """One operations centre process: whichever roles it was asked to run."""

    def __init__(self, settings: Settings, data_dir: Path | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir or settings.database.data_dir
        self.embedded: EmbeddedPostgres | None = None
        self.store: Store | None = None
        self.bus: Bus | None = None
        self.workers: list[Worker] = []
        self.scheduler = None
        self.web: BaseWSGIServer | None = None
        self._web_thread: threading.Thread | None = None

    # -- building ------------------------------------------------------------------
    def open_store(self) -> Store:
        """Connect to the configured DSN, or start the embedded PostgreSQL when none is set."""
        dsn = self.settings.database.dsn
        want_ts = self.settings.database.timescaledb != "off"
        if not dsn:
            self.embedded = EmbeddedPostgres(self.data_dir, timescaledb=None if want_ts else False)
            dsn = self.embedded.start()
            log.info("embedded PostgreSQL on %s (data in %s)", dsn, self.embedded.data_dir)
        self.store = open_store(dsn, self.settings.database.pool_min, self.settings.database.pool_max,
                                want_timescaledb=want_ts)
        log.info("store ready: %s", self.store.caps.label)
        return self.store

    def open_bus(self) -> Bus:
        if self.settings.bus.kind != "memory":
            raise NotImplementedError(f"bus kind {self.settings.bus.kind!r} is not available yet")
        self.bus = MemoryBus(partitions=self.settings.bus.partitions)
        return self.bus

    def add_ingest(self) -> None:
        assert self.bus is not None
        for feed in self.settings.feeds:
            if not feed.enabled:
                continue
            source = build_source(feed, self.settings, SAMPLES_DIR)
            worker = EnvironmentWorker(source, self.bus.publisher(), feed_name=feed.name)
            self.workers.append(Worker(f"ingest:{feed.name}", worker.run, worker.health, stage=0))

    def add_sink(self) -> None:
        assert self.bus is not None and self.store is not None
        sink = StoreSink(self.bus, StoreWriter(self.store.pool, self.store.caps))
        self.workers.append(Worker("sink", sink.run, sink.health))

    def add_detectors(self) -> None:
        assert self.bus is not None
        runner = DetectorRunner(self.bus, build_detectors(self.settings), use_wall_clock=True)
        self.workers.append(Worker("detectors", runner.run, runner))

    def add_alerts(self) -> None:
        assert self.bus is not None and self.store is not None
        consumer = AlertSignalConsumer(self.bus, AlertService(self.store.pool),
                                       StoreWriter(self.store.pool, self.store.caps))
        self.workers.append(Worker("alerts", consumer.run, consumer.health, stage=2))

    def add_scheduler(self) -> None:
        assert self.store is not None
        self.scheduler = build_scheduler(self.store, self.settings)

    def add_web(self, host: str | None = None, port: int | None = None) -> str:
        assert self.store is not None
        app = create_app(self.store.pool, self.settings, caps_label=self.store.caps.label)
        self.web = make_server(host or self.settings.web.host,
                               self.settings.web.port if port is None else port,
                               app.server, threaded=True)
        return self.web_url

    @property
    def web_url(self) -> str:
        assert self.web is not None
        return f"http://{self.web.host}:{self.web.server_port}/"

    # -- running -------------------------------------------------------------------
    def start(self) -> None:
        for w in self.workers:
            w.thread = threading.Thread(target=self._guard, args=(w,), name=w.name, daemon=True)
            w.thread.start()
        if self.scheduler is not None:
            self.scheduler.start()
        if self.web is not None:
            self._web_thread = threading.Thread(target=self.web.serve_forever, name="web", daemon=True)
            self._web_thread.start()

    @staticmethod
    def _guard(w: Worker) -> None:
        try:
            w.run(w.stop)
        except Exception:
            log.exception("worker %s stopped on an error", w.name)

    def failed_workers(self) -> list[str]:
        """Workers whose thread ended while the runtime was still running."""
        return [w.name for w in self.workers
                if w.thread is not None and not w.thread.is_alive() and not w.stop.is_set()]

    def stop(self, drain_s: float = 3.0) -> None:
        """Stop ingest, let the consumers drain and commit, then stop the rest."""
        for stage in sorted({w.stage for w in self.workers}):
            group = [w for w in self.workers if w.stage == stage]
            for w in group:
                w.stop.set()
            for w in group:
                if w.thread is not None:
                    w.thread.join(timeout=drain_s + 10)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.web is not None:
            self.web.shutdown()
        if self.store is not None:
            self.store.close()
        if self.bus is not None:
            self.bus.close()
        if self.embedded is not None:
            self.embedded.stop()
