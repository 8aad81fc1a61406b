"""The ingest side of the bus: records waiting to be published, sent in batches, kept on failure.

Every ingest worker queues ``(topic, key, value)`` triples here. :meth:`PendingPublisher.flush`
publishes and flushes them; when the bus fails they stay queued and the next try waits with
exponential backoff (``backoff_initial`` doubling up to ``backoff_max``), so a broker outage
delays records but loses none, up to ``max_pending`` waiting records (beyond that the oldest are
dropped and counted: a worker must not eat the machine's memory during a long outage).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from ioc.bus.base import Publisher
from ioc.topics import DEAD_LETTERS

log = logging.getLogger(__name__)
Outgoing = tuple[str, str | None, bytes]


class PendingPublisher:
    """A queue of outgoing records in front of a bus publisher, with backoff and a cap."""

    def __init__(self, publisher: Publisher, name: str, *, monotonic: Callable[[], float] = time.monotonic,
                 flush_records: int = 500, flush_seconds: float = 1.0, backoff_initial: float = 1.0,
                 backoff_max: float = 60.0, max_pending: int = 100_000) -> None:
        self.publisher = publisher
        self.name = name
        self.monotonic = monotonic
        self.flush_records, self.flush_seconds = flush_records, flush_seconds
        self.backoff_initial, self.backoff_max, self.max_pending = backoff_initial, backoff_max, max_pending
        self.pending: list[Outgoing] = []
        self.published = Counter[str]()
        self.publish_errors = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._failures = 0
        self._retry_at: float | None = None
        self._last_flush = monotonic()

    def add(self, topic: str, key: str | None, value: bytes) -> None:
        self.pending.append((topic, key, value))

    @property
    def failing(self) -> bool:
        """True from a failed flush until the next one that succeeds."""
        return self._failures > 0

    def count(self, *, dead_letters: bool = False) -> int:
        """Records published so far: those of every topic but the dead letters, or only those."""
        if dead_letters:
            return self.published[DEAD_LETTERS]
        return sum(n for topic, n in self.published.items() if topic != DEAD_LETTERS)

    def maybe_flush(self) -> bool:
        """Flush when enough records wait or ``flush_seconds`` have passed; whether it flushed."""
        due = len(self.pending) >= self.flush_records or (
            self.pending and self.monotonic() - self._last_flush >= self.flush_seconds)
        return self.flush() if due else False

    def flush(self, force: bool = False) -> bool:
        """Publish and flush everything queued; False if the bus failed (kept for a retry)."""
        now = self.monotonic()
        if not force and self._retry_at is not None and now < self._retry_at:
            return False
        self._last_flush = now
        if not self.pending:
            return True
        batch = self.pending
        try:
            for topic, key, value in batch:
                self.publisher.publish(topic, key, value)
            self.publisher.flush()
        except Exception as exc:
            self.publish_errors += 1
            self._failures += 1
            self.last_error = f"publish failed: {type(exc).__name__}: {exc}"
            delay = min(self.backoff_max, self.backoff_initial * 2 ** (self._failures - 1))
            self._retry_at = now + delay
            if force:  # the caller decides when to try again
                log.warning("%s: %s", self.name, self.last_error)
            else:
                log.warning("%s: %s (retry in %.1f s)", self.name, self.last_error, delay)
            overflow = len(batch) - self.max_pending
            if overflow > 0:
                self.dropped += overflow
                log.error("%s: %d unpublished records dropped (pending cap)", self.name, overflow)
                del batch[:overflow]
            return False
        for topic, _, _ in batch:
            self.published[topic] += 1
        self.pending = []
        self._failures = 0
        self._retry_at = None
        return True
