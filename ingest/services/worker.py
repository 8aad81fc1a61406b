"""Drive one dossier source (an HTTP poller or a CSV file): publish events, dead-letter bad rows."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ingest.publishing import PendingPublisher
from ioc.bus.base import Publisher
from ioc.deadletters import dead_letter_record
from ioc.feeds.services.records import DossierEvent
from ioc.health import FeedHealth, feed_state
from ioc.topics import DEAD_LETTERS, topic_for

log = logging.getLogger(__name__)
Read = Callable[[], tuple[list[DossierEvent], list[tuple[str, str]]]]


class ServicesWorker:
    """Calls ``read`` every ``interval`` seconds (once when ``once``); never raises; keeps health."""

    def __init__(
        self,
        name: str,
        read: Read,
        publisher: Publisher,
        *,
        interval: float = 60.0,
        once: bool = False,
        status: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.feed, self.read, self.interval, self.once = name, read, interval, once
        self.imported = False
        self.out = PendingPublisher(publisher, name)
        self.status = status or dict
        self.events = 0
        self.rejected = Counter[str]()
        self.last_time: datetime | None = None
        self.error: str | None = None
        self.errors = 0

    @property
    def health(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "events": self.events,
            "dead_letters": sum(self.rejected.values()),
            "dead_letter_reasons": dict(self.rejected.most_common(10)),
            "last_time": self.last_time,
            "unpublished": len(self.out.pending),
            "live": not self.out.pending and self.error is None,
            "last_error": self.out.last_error or self.error,
            **self.status(),
        }

    def feed_health(self) -> FeedHealth:
        """The typed health record of this feed (see :mod:`ioc.health`)."""
        live = not self.out.pending and self.error is None
        dead = sum(self.rejected.values())
        return FeedHealth(
            feed=self.feed, worker="services",
            state=feed_state(live=live, failing=self.error is not None or self.out.failing),
            live=live, last_data_time=self.last_time, received=self.events + dead, published=self.out.count(),
            dead_lettered=dead, pending=len(self.out.pending), dropped=self.out.dropped,
            errors=self.errors + self.out.publish_errors, last_error=self.out.last_error or self.error,
            details={"dead_letter_reasons": dict(self.rejected.most_common(10)), **self.status()},
        )

    def handle(self, events: Iterable[DossierEvent], dead: Iterable[tuple[str, str]]) -> None:
        now = datetime.now(UTC)
        for event in events:
            self.events += 1
            self.last_time = event.time if self.last_time is None else max(self.last_time, event.time)
            self.out.add(topic_for(event), event.key, event.to_wire())
        for reason, raw in dead:
            self.rejected[reason.split(":")[0][:80]] += 1
            self.out.add(DEAD_LETTERS, self.feed, dead_letter_record("ingest", self.feed, reason, raw, now))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.handle(*self.read())
                self.error = None
            except Exception as exc:  # a source bug must not kill the thread silently
                self.errors += 1
                self.error = f"source failed: {type(exc).__name__}: {exc}"
                log.exception("%s: source failed", self.feed)
            self.out.flush(force=True)
            if self.once:  # an export read once: the worker idles until stopped (a role does not end)
                self.imported = True
                stop.wait()
                break
            stop.wait(self.interval)
        self.out.flush(force=True)
