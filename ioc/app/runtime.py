"""The runtime: builds the store, the bus, the workers and the wall, starts them, stops them.

This is the composition root (DESIGN.md): the only module that wires feeds,
rules, alerts and pages together. Every worker runs in a thread with a
shared stop event; :meth:`Runtime.stop` stops them in order (ingest first,
then the consumers after they drained, then the web server and the store).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from alerts.consumer import AlertSignalConsumer
from alerts.service import AlertService
from alerts.settings import alert_settings
from detectors.registry import build_detectors
from detectors.runner import DetectorRunner
from ingest.registry import FeedWorker, configured_sources
from ingest.sink import StoreSink
from ioc.app.jobs import build_scheduler
from ioc.app.replay_jobs import ReplayJobs
from ioc.bus.base import Bus
from ioc.bus.loop import TRANSIENT_ERRORS, WorkerHealth
from ioc.bus.memory import MemoryBus
from ioc.config import ConfigError, Settings
from ioc.http_server import ThreadedServer
from ioc.store.database import Store, open_store, public_dsn
from ioc.store.detector_state import PostgresSnapshotStore
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.health import Beat, instance_id, record_beats
from ioc.store.writer import StoreWriter

log = logging.getLogger(__name__)


def _consumer_beat(h: WorkerHealth) -> Beat:
    return Beat(h.name, lag=h.lag, last_write=h.last_batch, errors=h.errors, waits=h.waits,
                last_error=h.last_error, details={"batches": h.batches, "records": h.records, **h.extra})


def _runner_beat(r: DetectorRunner) -> Beat:
    return Beat("detectors", errors=r.detector_errors, waits=r.store_waits, last_write=None,
                details={"events_seen": r.events_seen, "signals": r.signals_published,
                         "undecodable": r.undecodable, "dead_letters": r.dead_letters,
                         "watermark": r.watermark,
                         "last_event_time": r.last_event_time, "slots_restored": r.slots_restored,
                         "snapshots_saved": r.snapshots_saved, "snapshots_discarded": r.snapshots_discarded})


def _ingest_beat(role: str, worker: FeedWorker) -> Beat:
    return Beat.of_feed(role, worker.feed_health())


@dataclass
class Worker:
    """A named loop run in its own thread until the stop event is set."""

    name: str
    run: Callable[[threading.Event], None]
    beat: Callable[[], Beat]
    stage: int = 1  # lower stages stop first
    ready: Callable[[], bool] = lambda: True  # an ingest worker: its backlog is on the bus
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
        self.web: ThreadedServer | None = None
        self.web_address: str | None = None  # host:port the pages are served on
        self._web_thread: threading.Thread | None = None
        self._stop_beats = threading.Event()
        self.heartbeat_s = 5.0
        self.started_at = datetime.now(UTC)

    # -- building ------------------------------------------------------------------
    def open_store(self) -> Store:
        """Connect to the configured DSN, or start the embedded PostgreSQL when none is set."""
        dsn = self.settings.database.dsn
        want_ts = self.settings.database.timescaledb != "off"
        if not dsn:
            self.embedded = EmbeddedPostgres(self.data_dir, timescaledb=None if want_ts else False)
            dsn = self.embedded.start()
            log.info("embedded PostgreSQL on %s (data in %s)", public_dsn(dsn), self.embedded.data_dir)
        self.store = open_store(dsn, self.settings.database.pool_min, self.settings.database.pool_max,
                                want_timescaledb=want_ts)
        log.info("store ready: %s", self.store.caps.label)
        return self.store

    def open_bus(self, client_id: str = "ioc") -> Bus:
        """The in-process bus (embedded mode) or Kafka (distributed mode), as configured."""
        cfg = self.settings.bus
        if cfg.kind == "kafka":
            from ioc.bus.kafka import KafkaBus

            self.bus = KafkaBus(cfg, client_id=client_id, producer_options=cfg.producer_options,
                                consumer_options=cfg.consumer_options)
        else:
            # one partition per topic: the one detector runner of the embedded mode then reads each
            # topic in publication order, and a backlog (the feeds' backfill at start) cannot let
            # one partition run hours ahead of another in event time and make the rules drop the
            # lagging one's records as late (partitions only spread work between processes)
            self.bus = MemoryBus(partitions=1)
        return self.bus

    def add_ingest(self, only: str | None = None) -> None:
        """Ingest workers for every enabled source (feeds and cameras), or for the one named ``only``."""
        assert self.bus is not None
        settings = self.settings
        if not settings.database.dsn and self.store is not None:  # the embedded store's private DSN:
            # feeds that read the store (the Open311 intake's GET requests) read this one
            settings = settings.model_copy(update={"database": settings.database.model_copy(
                update={"dsn": self.store.dsn})})
        sources = configured_sources(settings)
        names = [f.name for f in self.settings.feeds] + [c.id for c in self.settings.cameras]
        if only is not None and only not in names:
            raise ConfigError("no feed named {name}; configured feeds: {names}", name=repr(only),
                              names=", ".join(names) or "-")
        for source in sources:
            if only is not None and source.name != only:
                continue
            worker = source.build(self.bus.publisher())
            self.workers.append(Worker(source.label, worker.run, partial(_ingest_beat, source.label, worker),
                                       stage=0, ready=lambda w=worker: w.feed_health().live))

    def _max_ahead(self) -> timedelta:
        """How far past a role's clock a record's time may be (``[bus] max_event_ahead_hours``)."""
        return timedelta(hours=self.settings.bus.max_event_ahead_hours)

    def add_sink(self) -> None:
        assert self.bus is not None and self.store is not None
        sink = StoreSink(self.bus, StoreWriter(self.store.pool, self.store.caps),
                         publisher=self.bus.publisher(), max_ahead=self._max_ahead())
        self.workers.append(Worker("sink", sink.run, partial(_consumer_beat, sink.health)))

    def add_detectors(self) -> None:
        assert self.bus is not None
        # Distributed mode: detector state per partition, saved in the store, so a restart or a
        # rebalance neither forgets a window nor fires twice (ioc/store/detector_state.py).
        state = None
        if self.settings.bus.kind == "kafka" and self.store is not None:
            state = PostgresSnapshotStore(self.store.pool, instance=instance_id())
        settings = self.settings
        runner = DetectorRunner(self.bus, build_detectors(settings), use_wall_clock=True,
                                state=state, factory=lambda: build_detectors(settings),
                                checkpoint_interval=1.0, max_ahead=self._max_ahead())
        self.workers.append(Worker("detectors", runner.run, partial(_runner_beat, runner)))

    def add_alerts(self) -> None:
        assert self.bus is not None and self.store is not None
        consumer = AlertSignalConsumer(self.bus, AlertService(self.store.pool, alert_settings(self.settings)),
                                       StoreWriter(self.store.pool, self.store.caps),
                                       max_ahead=self._max_ahead())
        self.workers.append(Worker("alerts", consumer.run, partial(_consumer_beat, consumer.health),
                                   stage=2))

    def add_scheduler(self) -> None:
        assert self.store is not None
        self.scheduler = build_scheduler(self.store, self.settings)

    def build_web_app(self) -> object:
        """The pages' WSGI app on this runtime's store (one per process: gunicorn builds one per worker)."""
        from dashboards.app import create_app  # Dash and the pages: only in a process that serves them

        assert self.store is not None
        return create_app(self.store.pool, self.settings, caps_label=self.store.caps.label).server

    def add_replay_jobs(self) -> ReplayJobs:
        """The web role's replay worker: runs the replays the replay page queues (stops with the rest)."""
        assert self.store is not None
        jobs = ReplayJobs(self.store, self.settings, worker=f"{instance_id()}-replay")
        self.workers.append(Worker("replay", jobs.run, jobs.beat, stage=3))
        return jobs

    def add_web(self, host: str | None = None, port: int | None = None) -> str:
        """Serve the pages from a thread of this process (embedded mode), with the replay worker;
        returns their address."""
        self.add_replay_jobs()
        self.web = ThreadedServer(self.build_web_app(), host or self.settings.web.host,
                                  self.settings.web.port if port is None else port,
                                  threads=self.settings.web.threads)
        self.web_address = f"{self.web.host}:{self.web.server_port}"
        return self.web_url

    @property
    def web_url(self) -> str:
        assert self.web_address is not None
        return f"http://{self.web_address}/"

    # -- health --------------------------------------------------------------------
    def beats(self) -> list[Beat]:
        """One heartbeat per worker, plus the web and scheduler roles when this process runs them."""
        out = [w.beat() for w in self.workers]
        if self.web_address is not None:
            out.append(Beat("web", details={"url": self.web_url}))
        if self.scheduler is not None:
            out.append(Beat("scheduler", details={"jobs": len(self.scheduler.get_jobs())}))
        return out

    def beat_forever(self) -> None:
        """Record this process's heartbeat now and every ``heartbeat_s`` until stopped."""
        self.record_health()
        self._heartbeat()

    def _heartbeat(self) -> None:
        while not self._stop_beats.wait(self.heartbeat_s):
            self.record_health()

    def record_health(self, stopped: bool = False) -> None:
        """Write this process's heartbeat rows; a store outage is logged, not fatal."""
        if self.store is None:
            return
        try:
            record_beats(self.store.pool, self.beats(), self.started_at, stopped=stopped)
        except TRANSIENT_ERRORS as exc:
            log.warning("could not record role health: %s", exc)

    # -- running -------------------------------------------------------------------
    def start(self, live_wait_s: float = 60.0) -> None:
        """Start ingest first and wait until its backfilled history is on the bus, then the rest.

        Detectors in live mode judge absence against the clock once caught up; history
        published after that would be too late for them, so it must be there first.
        """
        ingest = [w for w in self.workers if w.stage == 0]
        for w in ingest:
            self._start_worker(w)
        deadline = time.monotonic() + live_wait_s
        while ingest and time.monotonic() < deadline:
            if all(w.ready() for w in ingest):
                break
            time.sleep(0.1)
        for w in self.workers:
            if w.stage != 0:
                self._start_worker(w)
        if self.scheduler is not None:
            self.scheduler.start()
        if self.web is not None:
            self._web_thread = threading.Thread(target=self.web.serve_forever, name="web", daemon=True)
            self._web_thread.start()
        self.record_health()
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()

    def _start_worker(self, w: Worker) -> None:
        w.thread = threading.Thread(target=self._guard, args=(w,), name=w.name, daemon=True)
        w.thread.start()

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
        self._stop_beats.set()
        began = time.monotonic()
        for stage in sorted({w.stage for w in self.workers}):
            group = [w for w in self.workers if w.stage == stage]
            for w in group:
                w.stop.set()
            for w in group:
                if w.thread is not None:
                    w.thread.join(timeout=drain_s + 10)
                    if w.thread.is_alive():  # left behind (a daemon thread): say which, for the log
                        log.warning("worker %s did not stop in %.0f s; going on without it", w.name,
                                    drain_s + 10)
            log.info("stage %d stopped (%d workers) %.1f s after the stop began", stage, len(group),
                     time.monotonic() - began)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.record_health(stopped=True)
        if self.web is not None:
            self.web.shutdown()
        if self.store is not None:
            self.store.close()
        if self.bus is not None:
            self.bus.close()
        if self.embedded is not None:
            self.embedded.stop()
        log.info("stopped %.1f s after the stop began", time.monotonic() - began)
