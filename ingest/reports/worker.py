"""The Open311 intake as an ingest worker: waitress serves the app, accepted reports go to the bus.

A 201 answer means the report's records were flushed to the bus (durable there); a refused post
goes to the dead-letter topic with its reason. ``GET requests`` reads the store through ``reader``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ingest.reports.api import build_app
from ingest.reports.reader import ReportReader
from ioc.bus.base import Publisher
from ioc.deadletters import dead_letter_record
from ioc.events import Event
from ioc.feeds.reports import SPEC, area_copies
from ioc.feeds.reports.settings import ReportsFeed
from ioc.health import FeedHealth, feed_state
from ioc.http_server import ThreadedServer
from ioc.topics import DEAD_LETTERS

log = logging.getLogger(__name__)


class Open311Worker:
    """Serves the intake on ``host:port`` until ``stop`` is set."""

    def __init__(self, cfg: ReportsFeed, publisher: Publisher, reader: ReportReader, *,
                 host: str = "127.0.0.1", port: int = 8311, threads: int = 8, feed: str = "reports",
                 on_stop: Any = None, language: str = "en") -> None:
        self._on_stop = on_stop  # e.g. closes the reader's connection pool
        self.publisher, self.feed = publisher, feed
        self._lock = threading.Lock()  # a publisher is not promised to be thread-safe
        self.accepted = 0
        self.published = 0
        self.last_time: datetime | None = None
        self.rejected: Counter[str] = Counter()
        self.app = build_app(cfg, self.publish, self.dead_letter, reader, language=language)
        self.server = ThreadedServer(self.app, host, port, threads)
        self.relayed = 0
        self.live = True  # False while the demo's simulator still puts its backfill on the bus
        log.info("open311 intake of feed %s on http://%s:%d/", feed, host, self.server.server_port)
        self.loops: list[Callable[[threading.Event], None]] = []  # run beside the server until stop

    def _send(self, events: list[Event]) -> None:
        """Each record on its topic, and a report's area copy beside it (the burst rule reads those)."""
        for e in events:
            self.publisher.publish(SPEC.topics[e.kind], e.key, e.to_wire())  # type: ignore[attr-defined]
            for topic, key, value in area_copies(e):
                self.publisher.publish(topic, key, value)
        self.publisher.flush()

    def publish(self, events: list[Event]) -> None:
        with self._lock:
            self._send(events)
            self.accepted += 1
            self.published += len(events)
            for e in events:
                self.last_time = e.time if self.last_time is None else max(self.last_time, e.time)

    def publish_records(self, events: list[Event]) -> None:
        """Records made here but not posted (the demo's SIMULATED backfill), onto the bus and flushed."""
        with self._lock:
            self._send(events)
            self.published += len(events)

    def publish_changes(self, events: list[Event]) -> None:
        """Status changes made by staff (from the store's outbox), onto the bus and flushed."""
        self.publish_records(events)
        with self._lock:
            self.relayed += len(events)

    def dead_letter(self, reason: str, payload: dict[str, Any] | None) -> None:
        """A refused post: counted by its reason, kept as a dead letter unless ``payload`` is None (an
        address flooding the intake with refusals is only counted)."""
        import json
        with self._lock:
            kind = reason.split(":")[0][:80]
            # the reasons counted stay few whatever a client sends (a reason may quote its request)
            self.rejected[kind if kind in self.rejected or len(self.rejected) < 40 else "other"] += 1
            if payload is None:
                return
            record = dead_letter_record("ingest", self.feed, reason, json.dumps(payload, ensure_ascii=False),
                                        datetime.now(UTC))
            self.publisher.publish(DEAD_LETTERS, self.feed, record)
            self.publisher.flush()

    def health(self) -> dict[str, Any]:
        return {"feed": self.feed, "port": self.server.server_port, "accepted": self.accepted,
                "staff_changes_relayed": self.relayed, "live": self.live,
                "open311": f"http://{self.server.host}:{self.server.server_port}/",
                "dead_letters": sum(self.rejected.values()),
                "dead_letter_reasons": dict(self.rejected.most_common(10))}

    def feed_health(self) -> FeedHealth:
        """The typed health record of this intake (see :mod:`ioc.health`): a refused post is
        answered to its sender and dead-lettered; a bus failure is answered 500 (not accepted), so
        nothing waits here."""
        dead = sum(self.rejected.values())
        return FeedHealth(
            feed=self.feed, worker="open311", state=feed_state(live=self.live), live=self.live,
            last_data_time=self.last_time,
            received=self.accepted + dead, published=self.published, dead_lettered=dead,
            details={"port": self.server.server_port, "accepted": self.accepted,
                     "open311": f"http://{self.server.host}:{self.server.server_port}/",
                     "staff_changes_relayed": self.relayed,
                     "dead_letter_reasons": dict(self.rejected.most_common(10))},
        )

    def run(self, stop: threading.Event) -> None:
        thread = threading.Thread(target=self._serve, name=f"{self.feed}-open311", daemon=True)
        thread.start()
        loops = [threading.Thread(target=loop, args=(stop,), name=f"{self.feed}-loop{i}", daemon=True)
                 for i, loop in enumerate(self.loops)]
        for t in loops:
            t.start()
        stop.wait()
        for t in loops:
            t.join(timeout=30)
        self.server.shutdown()
        thread.join(timeout=30)
        if self._on_stop is not None:
            self._on_stop()

    def _serve(self) -> None:
        try:
            self.server.serve_forever()
        except OSError:  # its sockets closed by shutdown()
            pass
