"""Drive one environment source: publish its readings on the bus, its rejects as dead letters.

:meth:`EnvironmentWorker.step` asks the source for what is due, publishes each reading to
``topic_for(reading)`` keyed by the station id, publishes each rejected input on
``ioc.topics.DEAD_LETTERS`` keyed by the feed name, and flushes. Nothing a source or the bus
does stops the worker: failures are logged, counted in :attr:`EnvironmentWorker.health`, and
retried after an exponential backoff, or after the wait the source asked for (HTTP
``Retry-After``) when that is longer; records whose publishing failed are kept (in the shared
:class:`~ingest.publishing.PendingPublisher`, up to its cap) and sent again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ingest.publishing import PendingPublisher
from ioc.bus.base import Publisher
from ioc.deadletters import dead_letter_record
from ioc.feeds.environment.records import EnvironmentReading
from ioc.health import FeedHealth, feed_state
from ioc.topics import DEAD_LETTERS, topic_for

from .base import Clock, EnvironmentSource, SourceUnavailable, utc_now

log = logging.getLogger(__name__)

MAX_PENDING = 100_000

DeadLetterFactory = Callable[[str, str, str, str | bytes, datetime], bytes]


class EnvironmentWorker:
    """Publishes what one source makes due; keeps a health record; never raises."""

    def __init__(
        self,
        source: EnvironmentSource,
        publisher: Publisher,
        dead_letter: DeadLetterFactory = dead_letter_record,
        *,
        feed_name: str | None = None,
        clock: Clock = utc_now,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.source = source
        self.publisher = publisher
        self.dead_letter = dead_letter
        self.feed = feed_name or source.name
        self.clock = clock
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.out = PendingPublisher(publisher, self.feed, max_pending=MAX_PENDING)
        self.received = 0
        self._failures = 0
        self._retry_at: datetime | None = None
        self.health: dict[str, Any] = {
            "live": False,
            "feed": self.feed,
            "connected": False,
            "last_reading_time": None,
            "readings": 0,
            "errors": 0,
            "dead_letters": 0,
            "dropped": 0,
            "truncated": 0,
            "last_error": None,
            "retry_at": None,
        }
        """Live counters (updated in place, safe to hand to a status page): ``connected``,
        ``last_reading_time`` (event time), ``readings``, ``errors``, ``dead_letters``,
        ``dropped`` (unpublished records over the pending cap), ``truncated`` (polls the source cut
        short, leaving new data for later: its ``take_truncations``), ``last_error``, ``retry_at``."""

    def step(self, now: datetime | None = None) -> int:
        """Publish what is due at ``now``; the number of readings published (0 while backing off)."""
        now = now or self.clock()
        if self._retry_at is not None and now < self._retry_at:
            return 0
        errors: list[str] = []
        readings: list[EnvironmentReading] = []
        wait: float | None = None
        try:
            readings = self.source.due(now)
        except SourceUnavailable as exc:
            errors.append(str(exc))
            wait = exc.retry_after
        except Exception as exc:  # a bug in a source must not stop the feed
            log.exception("%s: source failed", self.feed)
            errors.append(f"{type(exc).__name__}: {exc}")
        errors.extend(self._take(self.source.take_errors))
        rejects = self._take(self.source.take_rejects)
        truncations = getattr(self.source, "take_truncations", None)
        if truncations is not None:
            self.health["truncated"] += self._take(truncations) or 0
        asked = getattr(self.source, "take_retry_after", None)
        if asked is not None:
            wait = max(wait or 0.0, self._take(asked) or 0.0) or None

        self.received += len(readings) + len(rejects)
        for rejected in rejects:
            value = self.dead_letter("ingest", self.feed, rejected.reason, rejected.payload, now)
            self.out.add(DEAD_LETTERS, self.feed, value)
        for reading in readings:
            self.out.add(topic_for(reading), reading.source_id, reading.to_wire())
        before, letters_before = self.out.count(), self.out.count(dead_letters=True)
        published = self.out.flush(force=True)  # this worker's backoff (source and bus) gates the step
        sent = self.out.count() - before
        if published:
            self.health["live"] = True  # the backfill (if any) is on the bus: now in step with the clock
            self.health["readings"] += sent
            self.health["dead_letters"] += self.out.count(dead_letters=True) - letters_before
            if readings:
                last = max(r.time for r in readings)
                prev = self.health["last_reading_time"]
                self.health["last_reading_time"] = last if prev is None else max(prev, last)
        else:
            errors.append(self.out.last_error or "publish failed")
        self.health["dropped"] = self.out.dropped
        self._settle(now, errors, wait)
        return sent

    def _take(self, method: Callable[[], Any]) -> Any:
        try:
            return method()
        except Exception:  # pragma: no cover - defensive
            log.exception("%s: source bookkeeping failed", self.feed)
            return []

    def _settle(self, now: datetime, errors: list[str], wait: float | None = None) -> None:
        if not errors:
            self._failures = 0
            self._retry_at = None
            self.health.update(connected=True, retry_at=None)
            return
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_initial * 2 ** (self._failures - 1))
        delay = max(delay, wait or 0.0)  # the server's Retry-After, when it asks for longer
        self._retry_at = now + timedelta(seconds=delay)
        self.health["errors"] += len(errors)
        self.health.update(connected=False, last_error=errors[-1], retry_at=self._retry_at)
        log.warning("%s: %s (retry in %.1f s)", self.feed, "; ".join(errors)[:500], delay)

    def feed_health(self) -> FeedHealth:
        """The typed health record of this feed (see :mod:`ioc.health`)."""
        h = self.health
        return FeedHealth(
            feed=self.feed, worker="environment",
            state=feed_state(live=h["live"], failing=self._failures > 0),  # a source down fails too
            live=h["live"], last_data_time=h["last_reading_time"], received=self.received,
            published=h["readings"], dead_lettered=h["dead_letters"], pending=len(self.out.pending),
            dropped=self.out.dropped, errors=h["errors"], last_error=h["last_error"],
            details={"connected": h["connected"], "retry_at": h["retry_at"], "truncated": h["truncated"]},
        )

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Step every ``interval`` seconds until ``stop`` is set."""
        log.info("%s: environment worker started", self.feed)
        while not stop.is_set():
            try:
                self.step(self.clock())
            except Exception:  # pragma: no cover - step does not raise; belt and braces
                log.exception("%s: step failed", self.feed)
            stop.wait(interval)
        log.info("%s: environment worker stopped", self.feed)
