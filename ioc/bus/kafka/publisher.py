"""Publishing on Kafka: asynchronous sends, and a flush that reports every record not acknowledged."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from kafka import KafkaProducer
from kafka import errors as kerr

from ioc.bus.kafka.errors import KafkaBusError, KafkaPublishError, describe

if TYPE_CHECKING:
    from ioc.bus.kafka.bus import KafkaBus

CALLBACKS_S = 10.0  # how long a flush waits for the callbacks of records whose batches are done
#: How long :meth:`KafkaPublisher.close` waits for records still unacknowledged. Without a bound a
#: role stopping while Kafka is unreachable waited for the producer's delivery timeout (two minutes
#: by default) and then for its sender without limit.
CLOSE_S = 10.0


class KafkaPublisher:
    """Sends keyed records; :meth:`flush` reports every record the cluster did not acknowledge."""

    def __init__(self, bus: KafkaBus) -> None:
        self._bus = bus
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # a sent record's callback ran
        self._pending = 0  # records sent whose callback (acknowledged or failed) has not run yet
        self._failed = 0
        self._first_error: BaseException | None = None
        self._first_context = ""
        # Set when the cluster cannot be reached at all: later records fail at once
        # (instead of each blocking for max_block_ms) until flush() reports them.
        self._unreachable: BaseException | None = None
        self._physical: dict[str, str] = {}  # topics known to exist: logical -> broker name
        try:
            self.producer = KafkaProducer(**bus.producer_config())
        except kerr.KafkaError as exc:
            raise KafkaBusError(
                f"cannot reach Kafka at {bus.settings.bootstrap_servers}: {describe(exc)}") from exc

    def _record_failure(self, exc: BaseException, topic: str, key: str | None) -> None:
        with self._lock:
            self._failed += 1
            if self._first_error is None:
                self._first_error = exc
                self._first_context = f"topic {topic!r}, key {key!r}"

    def _on_sent(self, _metadata: object) -> None:
        with self._lock:
            self._pending -= 1
            self._settled.notify_all()

    def _on_send_error(self, topic: str, key: str | None, exc: BaseException) -> None:
        self._record_failure(exc, topic, key)
        self._on_sent(None)  # settled too: failed, not pending

    def publish(self, topic: str, key: str | None, value: bytes) -> None:
        """Queue one record for ``topic``; durable once :meth:`flush` returns without error.

        A record that cannot even be queued (topic not creatable, cluster unreachable)
        is counted as failed and reported by the next :meth:`flush`.
        """
        if self._unreachable is not None:
            self._record_failure(self._unreachable, topic, key)
            return
        try:
            physical = self._physical.get(topic)
            if physical is None:
                self._bus.ensure_topics((topic,))
                physical = self._physical[topic] = self._bus.physical(topic)
            future = self.producer.send(
                physical,
                value=value,
                key=None if key is None else key.encode("utf-8"),
            )
        except (KafkaBusError, kerr.KafkaTimeoutError) as exc:
            self._unreachable = exc
            self._record_failure(exc, topic, key)
            return
        except kerr.KafkaError as exc:
            self._record_failure(exc, topic, key)
            return
        with self._lock:
            self._pending += 1
        future.add_callback(self._on_sent)
        future.add_errback(self._on_send_error, topic, key)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record is acknowledged.

        Raises :class:`KafkaPublishError` if records failed since the last flush or
        were still unacknowledged after ``timeout`` seconds (they may yet arrive:
        publish them again; the store's natural keys absorb duplicates).
        """
        timed_out: BaseException | None = None
        try:
            self.producer.flush(timeout=timeout)
        except kerr.KafkaTimeoutError as exc:
            timed_out = exc
        with self._lock:
            # the producer's flush returns when its batches are done, which can be just before the
            # last records' callbacks have run: wait for those, so that every failure is counted
            if timed_out is None:
                self._settled.wait_for(lambda: self._pending <= 0, timeout=CALLBACKS_S)
            failed, first, context = self._failed, self._first_error, self._first_context
            self._failed, self._first_error, self._first_context = 0, None, ""
            pending = max(self._pending, 0) if timed_out is not None else 0
        self._unreachable = None
        where = self._bus.settings.bootstrap_servers
        waiting = f"; {pending} not acknowledged within {timeout} s (they may yet arrive)" if pending else ""
        if failed:
            assert first is not None
            raise KafkaPublishError(
                f"{failed + pending} record(s) were not delivered to Kafka at {where}{waiting}; first "
                f"failure ({context}): {describe(first)}", failed + pending, first) from first
        if timed_out is not None:
            raise KafkaPublishError(
                f"{pending} record(s) were not acknowledged by Kafka at {where} within {timeout} s",
                pending, timed_out) from timed_out

    def close(self, timeout: float = CLOSE_S) -> None:
        """Flush for at most ``timeout`` seconds (raising, as :meth:`flush` does, if records failed
        or are still unacknowledged), then close the producer without waiting any longer."""
        try:
            self.flush(timeout)
        finally:
            self._close_producer()

    def _close_producer(self) -> None:
        """Close the producer; records still queued were reported by the flush before and are dropped."""
        try:
            self.producer.close(timeout=1.0)
        except kerr.KafkaTimeoutError:
            # kafka-python's close flushes first and raises there when a batch is still incomplete,
            # before it reaches its own forced close: force it, or the sender thread lives on
            sender = getattr(self.producer, "_sender", None)
            if sender is not None:
                sender.force_close()

