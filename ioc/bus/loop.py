"""The consume-process-commit loop every bus worker shares.

A batch is polled, handed to the worker's ``handle`` and committed only
after ``handle`` returned, so a crash redelivers the batch (at-least-once;
the store's natural keys make the replay harmless). While the store is
down, ``handle`` raises a transient error: the loop logs why it waits,
backs off exponentially and retries the same batch, never skipping it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ioc.bus.base import BusUnavailable, Message, Subscription
from ioc.store.errors import STORE_UNAVAILABLE

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (*STORE_UNAVAILABLE, BusUnavailable)


@dataclass
class WorkerHealth:
    """What a worker reports about itself: shown on the wall's system panel."""

    name: str
    batches: int = 0
    records: int = 0
    errors: int = 0
    waits: int = 0
    last_batch: datetime | None = None
    last_error: str | None = None
    lag: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class BatchConsumer:
    """Runs ``handle(batch)`` for each polled batch and commits after it succeeded."""

    def __init__(
        self,
        name: str,
        subscription: Subscription,
        handle: Callable[[Sequence[Message]], None],
        batch_size: int = 5000,
        poll_timeout: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self.subscription = subscription
        self.handle = handle
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.max_backoff = max_backoff
        self.health = WorkerHealth(name=name)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Poll one batch, process it (retrying transient failures), commit; return its size."""
        batch = self.subscription.poll(self.batch_size, self.poll_timeout)
        if not batch:
            self.health.lag = self.subscription.lag()
            return 0
        delay = 0.2
        while True:
            try:
                self.handle(batch)
                break
            except TRANSIENT_ERRORS as exc:
                self.health.waits += 1
                self.health.last_error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                log.warning("%s: store unavailable (%s); waiting %.1f s before retrying a batch of %d",
                            self.health.name, self.health.last_error, delay, len(batch))
                if stop is not None and stop.wait(delay):
                    raise
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        self.subscription.commit()
        self.health.batches += 1
        self.health.records += len(batch)
        self.health.last_batch = datetime.now(UTC)
        self.health.lag = self.subscription.lag()
        return len(batch)

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; a stop during a retry leaves the batch uncommitted."""
        try:
            while not stop.is_set():
                try:
                    self.run_once(stop)
                except TRANSIENT_ERRORS:
                    break
                except Exception as exc:  # a bug must be visible, not kill the worker silently
                    self.health.errors += 1
                    self.health.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("%s: batch failed; it will be redelivered", self.health.name)
                    self.subscription.rewind()
                    stop.wait(1.0)
        finally:
            self.subscription.close()
