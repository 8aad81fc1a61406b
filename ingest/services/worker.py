"""Drive one dossier source (an HTTP poller or a CSV file): publish events, dead-letter bad rows."""

from __future__ import annotations

import logging
import threading
from bisect import bisect_right
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
    """Calls ``read`` every ``interval`` seconds (once when ``once``); never raises; keeps health.

    ``as_time_passes`` (a SIMULATED sample moved to the present): an event dated after now is held
    and published when its time comes, so the sample's day goes on as the day does."""

    def __init__(
        self,
        name: str,
        read: Read,
        publisher: Publisher,
        *,
        interval: float = 60.0,
        once: bool = False,
        as_time_passes: bool = False,
        status: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.feed, self.read, self.interval, self.once = name, read, interval, once
        self.as_time_passes, self.clock = as_time_passes, clock
        self.held: list[DossierEvent] = []  # dated after now, by time (as_time_passes)
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
            "held_until_their_time": len(self.held),
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
            details={"dead_letter_reasons": dict(self.rejected.most_common(10)),
                     "held_until_their_time": len(self.held), **self.status()},
        )

    def handle(self, events: Iterable[DossierEvent], dead: Iterable[tuple[str, str]]) -> None:
        now = self.clock()
        if self.as_time_passes:
            self.held = sorted([*self.held, *events], key=lambda e: e.time)
            due = bisect_right([e.time for e in self.held], now)
            events, self.held = self.held[:due], self.held[due:]
        for event in events:
            self.events += 1
            self.last_time = event.time if self.last_time is None else max(self.last_time, event.time)
            self.out.add(topic_for(event), event.key, event.to_wire())
        for reason, raw in dead:
            self.rejected[reason.split(":")[0][:80]] += 1
            self.out.add(DEAD_LETTERS, self.feed, dead_letter_record("ingest", self.feed, reason, raw, now))

    def _until_next_held(self) -> float:
        return max(0.0, (self.held[0].time - self.clock()).total_seconds())

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
                while self.held and not stop.wait(self._until_next_held()):
                    self.handle([], [])  # the next held events' time has come
                    self.out.flush(force=True)
                stop.wait()
                break
            stop.wait(self.interval)
        self.out.flush(force=True)
