"""The consume-process-commit loop every bus worker shares.

A batch is polled, handed to the worker's ``handle`` and committed only
after ``handle`` returned, so a crash redelivers the batch (at-least-once;
the store's natural keys make the replay harmless). While the store is
down, ``handle`` raises a transient error: the loop logs why it waits,
backs off exponentially and retries the same batch, never skipping it.

A batch that fails for what a record holds (a :data:`DATA_ERRORS` error: a number beyond its
column, a text the store cannot keep) would fail the same way for ever. A worker that gives a
``poison`` callback has the batch retried in halves, and halves of the half that fails, until the
one record at fault is alone: ``poison(message, error)`` sets it aside (a dead letter with the
error as its reason) and the rest of the batch is handled, so its partition moves on. Any other
error (a bug) leaves the batch uncommitted and redelivered, as before.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from pydantic import ValidationError

from ioc.bus.base import BusUnavailable, Message, Subscription
from ioc.records import EventDecodeError, UnstorableValue
from ioc.store.errors import STORE_UNAVAILABLE

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (*STORE_UNAVAILABLE, BusUnavailable)

#: errors that are the fault of what a record holds: retrying its batch as it is cannot succeed.
#: ``ProgramLimitExceeded`` (a value past a server limit: an index row too large) is a kind of
#: ``OperationalError``, yet no wait makes it pass. A bare ``ValueError`` or ``TypeError`` is not
#: here: it is as likely a bug of the code, which must stop the batch, not turn every record into a
#: dead letter.
DATA_ERRORS: tuple[type[BaseException], ...] = (
    ArithmeticError, UnicodeError, json.JSONDecodeError, ValidationError, EventDecodeError, UnstorableValue,
    psycopg.DataError, psycopg.IntegrityError,
    psycopg.errors.ProgramLimitExceeded, psycopg.errors.StatementTooComplex,
)

Poison = Callable[[Message, BaseException], None]


def failure_reason(exc: BaseException) -> str:
    """A short reason for a dead letter: the error's name and the first line of what it says."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500] if text else 'no detail'}"


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
    isolated: int = 0  # records set aside by ``poison`` after their batch failed for their data
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
        poison: Poison | None = None,
    ) -> None:
        self.subscription = subscription
        self.handle = handle
        self.poison = poison
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.max_backoff = max_backoff
        self.health = WorkerHealth(name=name)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Poll one batch, process it (retrying transient failures), commit; return its size."""
        batch = self.subscription.poll(self.batch_size, self.poll_timeout)
        self.health.lag = self.subscription.lag()  # what waits, this batch included, until it is done
        if not batch:
            return 0
        try:
            self._retrying(batch, self.handle, stop)
        except DATA_ERRORS as exc:
            if self.poison is None:
                raise
            self.health.errors += 1
            self.health.last_error = failure_reason(exc)
            log.warning("%s: a batch of %d failed for a record's data (%s); handling it in parts to set "
                        "the record aside", self.health.name, len(batch), self.health.last_error)
            self._isolate(batch, exc, stop)
        self.subscription.commit()
        self.health.batches += 1
        self.health.records += len(batch)
        self.health.last_batch = datetime.now(UTC)
        self.health.lag = self.subscription.lag()
        return len(batch)

    def _isolate(self, batch: Sequence[Message], exc: BaseException, stop: threading.Event | None) -> None:
        """Handle ``batch``, which failed with ``exc``, in halves; a record failing alone is poison."""
        if len(batch) == 1:
            assert self.poison is not None
            poison = self.poison
            message = batch[0]
            log.warning("%s: %s[%d]@%d (key %r) set aside: %s", self.health.name, message.topic,
                        message.partition, message.offset, (message.key or "")[:80], failure_reason(exc))
            self._retrying(batch, lambda b: poison(b[0], exc), stop)
            self.health.isolated += 1
            return
        middle = len(batch) // 2
        for part in (batch[:middle], batch[middle:]):  # in order: a partition's records keep theirs
            try:
                self._retrying(part, self.handle, stop)
            except DATA_ERRORS as part_exc:
                self._isolate(part, part_exc, stop)

    def _retrying(self, batch: Sequence[Message], action: Callable[[Sequence[Message]], None],
                  stop: threading.Event | None) -> None:
        """``action(batch)``, waiting out transient failures with exponential backoff."""
        delay = 0.2
        while True:
            try:
                action(batch)
                return
            except TRANSIENT_ERRORS as exc:
                if isinstance(exc, DATA_ERRORS):
                    raise
                self.health.waits += 1
                self.health.last_error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                log.warning("%s: store unavailable (%s); waiting %.1f s before retrying a batch of %d",
                            self.health.name, self.health.last_error, delay, len(batch))
                if stop is not None and stop.wait(delay):
                    raise
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; a stop during a retry leaves the batch uncommitted."""
        try:
            while not stop.is_set():
                try:
                    self.run_once(stop)
                except TRANSIENT_ERRORS as exc:
                    if isinstance(exc, DATA_ERRORS):  # no poison callback: redelivered, as a bug is
                        self._failed(exc, stop)
                        continue
                    break
                except Exception as exc:  # a bug must be visible, not kill the worker silently
                    self._failed(exc, stop)
        finally:
            self.subscription.close()

    def _failed(self, exc: Exception, stop: threading.Event) -> None:
        self.health.errors += 1
        self.health.last_error = f"{type(exc).__name__}: {exc}"
        log.exception("%s: batch failed; it will be redelivered", self.health.name)
        self.subscription.rewind()
        stop.wait(1.0)
