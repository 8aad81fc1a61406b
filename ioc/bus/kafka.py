"""The Kafka bus of the distributed mode, on kafka-python 3.

Same contract as the in-process bus (:mod:`ioc.bus.memory`): keyed records
(the key is the source id, so a source keeps its partition and its order),
consumer groups that split the partitions, and at-least-once delivery with
offsets committed only for what :meth:`KafkaSubscription.poll` returned.

- Publishing is asynchronous; :meth:`KafkaPublisher.flush` waits for every
  acknowledgement (``acks='all'``, idempotent producer) and raises
  :class:`KafkaPublishError` if any record failed, so no failure is lost.
- Topics are created on first use with ``settings.partitions`` partitions
  (an existing topic is left as it is); ``settings.namespace``, when set,
  prefixes every topic name and consumer group id on the broker (so two
  namespaces on one cluster never share a group or its rebalances) and is
  stripped again from the :class:`~ioc.bus.base.Message` topics a
  subscription returns.
- A commit never moves the offset of a partition this member no longer
  owns: a rebalance drops the tracking of the partitions that moved (those
  the member keeps keep their position in kafka-python 3, and their
  tracking), and a commit the group coordinator refuses is logged, never
  raised; the messages of moved partitions are redelivered to their owners.
- :meth:`KafkaSubscription.rewind` goes back to the committed offsets, for
  a worker whose processing of a polled batch failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kerr
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata, TopicPartition

from ioc.bus.base import BusUnavailable, Message
from ioc.config import BusSettings

log = logging.getLogger(__name__)

#: Producer defaults: durable (all in-sync replicas, idempotent) and batched for throughput.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 10,
    "batch_size": 64 * 1024,
    "max_block_ms": 10_000,
    "delivery_timeout_ms": 120_000,
}

#: Consumer defaults suited to production; tests pass shorter session timeouts.
CONSUMER_DEFAULTS: dict[str, Any] = {
    "session_timeout_ms": 45_000,
    "heartbeat_interval_ms": 3_000,
    "max_poll_records": 5_000,
    "max_poll_interval_ms": 300_000,
}

#: Settings fixed by the bus contract: the caller cannot override them.
_CONSUMER_FIXED: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    # Topics are created by the bus with the configured partition count,
    # never implicitly by a metadata request with the broker's default.
    "allow_auto_create_topics": False,
}

#: Errors that mean "this member's view of the group is stale": a rebalance happened.
_REBALANCE_ERRORS: tuple[type[BaseException], ...] = (
    kerr.CommitFailedError,
    kerr.RebalanceInProgressError,
    kerr.IllegalGenerationError,
    kerr.UnknownMemberIdError,
    kerr.FencedInstanceIdError,
)


class KafkaBusError(BusUnavailable):
    """The Kafka bus could not do what was asked (broker unreachable, topic not creatable...)."""


class KafkaPublishError(KafkaBusError):
    """Some published records were not acknowledged; they must be published again."""

    def __init__(self, message: str, failed: int, first_error: BaseException | None) -> None:
        super().__init__(message)
        self.failed = failed
        self.first_error = first_error


def security_options(settings: BusSettings) -> dict[str, Any]:
    """The SASL/SSL settings as kafka-python client options (unset ones left out)."""
    sec = settings.security
    out: dict[str, Any] = {"security_protocol": sec.security_protocol}
    for name in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password",
                 "ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(sec, name)
        if value is not None:
            out[name] = value
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}" if text else name


class KafkaBus:
    """A :class:`ioc.bus.base.Bus` on a Kafka cluster (or any Kafka-protocol broker).

    ``client_options`` go to every client (producer, consumers, admin), e.g.
    ``request_timeout_ms``, ``bootstrap_timeout_ms`` or a known ``api_version``
    (which skips the version probe when a client is built).
    ``producer_options`` and ``consumer_options`` go to one kind of client and
    override :data:`PRODUCER_DEFAULTS` / :data:`CONSUMER_DEFAULTS`; tests use
    ``consumer_options={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}``.
    With ``manage_topics=False`` the bus never creates topics (they are
    provisioned by the cluster's operators).
    """

    def __init__(
        self,
        settings: BusSettings,
        client_id: str = "ioc",
        *,
        client_options: Mapping[str, Any] | None = None,
        producer_options: Mapping[str, Any] | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        manage_topics: bool = True,
        replication_factor: int = -1,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.partitions = settings.partitions
        self.namespace = settings.namespace
        self.manage_topics = manage_topics
        self.replication_factor = replication_factor
        self._client_options = dict(client_options or {})
        self._producer_options = dict(producer_options or {})
        self._consumer_options = dict(consumer_options or {})
        self._admin: KafkaAdminClient | None = None
        self._admin_lock = threading.Lock()
        self._known_topics: set[str] = set()
        self._closed = False

    # -- names and client settings ------------------------------------------------------------
    def physical(self, topic: str) -> str:
        """The broker-side name of ``topic`` (with the namespace prefix, if any)."""
        return f"{self.namespace}.{topic}" if self.namespace else topic

    def logical(self, topic: str) -> str:
        """The bus-side name of a broker topic (namespace prefix removed)."""
        prefix = f"{self.namespace}." if self.namespace else ""
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    def _common(self, role: str) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.settings.bootstrap_servers.split(","),
            "client_id": f"{self.client_id}-{role}",
            **security_options(self.settings),
            **self._client_options,
        }

    def producer_config(self) -> dict[str, Any]:
        """The options a publisher's ``KafkaProducer`` is built with."""
        return {**self._common("producer"), **PRODUCER_DEFAULTS, **self._producer_options}

    def consumer_config(self, group: str) -> dict[str, Any]:
        """The options a subscription's ``KafkaConsumer`` in ``group`` is built with."""
        return {**self._common("consumer"), **CONSUMER_DEFAULTS, **self._consumer_options,
                **_CONSUMER_FIXED, "group_id": self.physical(group)}

    def admin_config(self) -> dict[str, Any]:
        """The options of the admin client that creates topics."""
        return self._common("admin")

    # -- topics --------------------------------------------------------------------------------
    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create the (logical) ``topics`` that do not exist yet, with ``settings.partitions``.

        Raises :class:`KafkaBusError` when the broker cannot be reached or refuses.
        """
        wanted = [self.physical(t) for t in topics]
        missing = [t for t in dict.fromkeys(wanted) if t not in self._known_topics]
        if not missing or not self.manage_topics:
            self._known_topics.update(missing)
            return
        with self._admin_lock:
            missing = [t for t in missing if t not in self._known_topics]
            if not missing:
                return
            if self._closed:
                raise KafkaBusError("the Kafka bus is closed")
            try:
                if self._admin is None:
                    self._admin = KafkaAdminClient(**self.admin_config())
                spec = {t: {"num_partitions": self.partitions,
                            "replication_factor": self.replication_factor} for t in missing}
                result = self._admin.create_topics(spec, raise_errors=False)
            except kerr.KafkaError as exc:
                raise KafkaBusError(
                    f"cannot create topics {missing} on Kafka at {self.settings.bootstrap_servers}: "
                    f"{_describe(exc)}") from exc
            for entry in result.get("topics", []):
                code = entry.get("error_code", 0)
                if code and code != kerr.TopicAlreadyExistsError.errno:
                    err = kerr.for_code(code)
                    raise KafkaBusError(
                        f"cannot create topic {entry.get('name')!r}: {err.__name__} "
                        f"({entry.get('error_message') or 'no message'})")
            self._known_topics.update(missing)

    # -- the Bus protocol ----------------------------------------------------------------------
    def publisher(self) -> KafkaPublisher:
        """A new publisher (one ``KafkaProducer``; thread-safe)."""
        return KafkaPublisher(self)

    def subscribe(self, topics: Sequence[str], group: str) -> KafkaSubscription:
        """Join ``group`` as a new member reading ``topics`` (created first if missing)."""
        self.ensure_topics(topics)
        return KafkaSubscription(self, tuple(topics), group)

    def close(self) -> None:
        """Close the admin client; publishers and subscriptions are closed by their owners."""
        with self._admin_lock:
            self._closed = True
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()


class KafkaPublisher:
    """Sends keyed records; :meth:`flush` reports every record the cluster did not acknowledge."""

    def __init__(self, bus: KafkaBus) -> None:
        self._bus = bus
        self._lock = threading.Lock()
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
                f"cannot reach Kafka at {bus.settings.bootstrap_servers}: {_describe(exc)}") from exc

    def _record_failure(self, exc: BaseException, topic: str, key: str | None) -> None:
        with self._lock:
            self._failed += 1
            if self._first_error is None:
                self._first_error = exc
                self._first_context = f"topic {topic!r}, key {key!r}"

    def _on_send_error(self, topic: str, key: str | None, exc: BaseException) -> None:
        self._record_failure(exc, topic, key)

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
            failed, first, context = self._failed, self._first_error, self._first_context
            self._failed, self._first_error, self._first_context = 0, None, ""
        self._unreachable = None
        where = self._bus.settings.bootstrap_servers
        if failed:
            assert first is not None
            raise KafkaPublishError(
                f"{failed} record(s) were not delivered to Kafka at {where}; first failure "
                f"({context}): {_describe(first)}", failed, first) from first
        if timed_out is not None:
            raise KafkaPublishError(
                f"records were not all acknowledged by Kafka at {where} within {timeout} s",
                0, timed_out) from timed_out

    def close(self) -> None:
        """Flush (raising if records failed), then close the producer."""
        try:
            self.flush()
        finally:
            self.producer.close()


class _Tracker(ConsumerRebalanceListener):
    """Keeps the polled-offset tracking of a member in step with the partitions it owns.

    Runs on kafka-python's IO thread. Under the eager protocol ``revoked`` names every
    partition as a notification while they are still assigned, and kafka-python 3 keeps
    the position of the ones the member gets back, so tracking is dropped only for
    partitions the member really no longer owns.
    """

    def __init__(self, sub: KafkaSubscription) -> None:
        self._sub = sub

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._sub._forget_unowned("revoked", list(revoked))
        self._sub._note_released(())

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._sub._forget_unowned("assigned", list(assigned))
        self._sub._note_released(())

    def on_partitions_lost(self, lost: Iterable[TopicPartition]) -> None:
        self._sub._forget(list(lost))
        self._sub._note_released(list(lost))
        log.warning("%s: membership lost; partitions %s go to other members without a commit",
                    self._sub.group, _names(lost))


def _names(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions)) or "none"


class KafkaSubscription:
    """A consumer-group member: poll, process, then commit exactly what was polled."""

    #: Seconds an answer of the broker about end offsets is reused by :meth:`lag`.
    END_OFFSETS_MAX_AGE = 1.0

    def __init__(self, bus: KafkaBus, topics: tuple[str, ...], group: str) -> None:
        self._bus = bus
        self.topics = topics
        self.group = group
        config = bus.consumer_config(group)
        self._request_timeout_ms = int(config.get("request_timeout_ms", 30_000))
        self._lock = threading.Lock()
        self._next: dict[TopicPartition, int] = {}  # polled, not yet committed
        self._committed: dict[TopicPartition, int] = {}  # known committed offsets
        self._ends: dict[TopicPartition, int] = {}  # end offsets, as last asked
        self._ends_at = float("-inf")
        self._last_lag = 0
        self._closed = False
        self.commit_failures = 0
        self._owned: set[TopicPartition] = set()  # as of the last rebalance callback
        self._released: set[TopicPartition] = set()  # left this member since take_released()
        try:
            self._consumer = KafkaConsumer(**config)
        except kerr.KafkaError as exc:
            raise KafkaBusError(
                f"cannot reach Kafka at {bus.settings.bootstrap_servers}: {_describe(exc)}") from exc
        self._consumer.subscribe([bus.physical(t) for t in topics], listener=_Tracker(self))

    @property
    def consumer(self) -> KafkaConsumer:
        """The underlying kafka-python consumer (for diagnostics)."""
        return self._consumer

    def _forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop the tracking of ``partitions``: their polled offsets will never be committed here."""
        with self._lock:
            for tp in partitions:
                self._next.pop(tp, None)
            self._committed.clear()  # other members may have committed meanwhile

    def _forget_unowned(self, event: str, partitions: list[TopicPartition]) -> None:
        owned = self._consumer.assignment()
        with self._lock:
            gone = [tp for tp in self._next if tp not in owned]
        self._forget(gone)
        log.info("%s: partitions %s: %s%s", self.group, event, _names(partitions),
                 f" (uncommitted offsets dropped for {_names(gone)})" if gone else "")

    def _note_released(self, lost: Iterable[TopicPartition]) -> None:
        """Remember the partitions that left this member (revoked for good, or lost)."""
        owned = set(self._consumer.assignment()) - set(lost)
        with self._lock:
            self._released |= (self._owned - owned) | set(lost)
            self._owned = owned

    # -- partition-level control, for workers that keep state per partition ---------------------
    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""
        if self._closed:
            return set()
        return {(self._bus.logical(tp.topic), tp.partition) for tp in self._consumer.assignment()}

    def take_released(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs that left this member since the last call.

        A partition that was taken away and given back in between is in it too: another
        member may have owned it meanwhile, so what this member knew of it is stale.
        """
        with self._lock:
            gone, self._released = self._released, set()
        return {(self._bus.logical(tp.topic), tp.partition) for tp in gone}

    def seek(self, topic: str, partition: int, offset: int) -> None:
        """Read ``topic``'s ``partition`` from ``offset`` on; the next commit records that offset."""
        tp = TopicPartition(self._bus.physical(topic), partition)
        self._consumer.seek(tp, offset)
        with self._lock:
            self._next[tp] = offset
            self._committed.pop(tp, None)

    def backlog(self, topic: str, partition: int) -> int | None:
        """Records of an owned partition not yet returned by :meth:`poll`; None while unknown.

        From the high watermark of the last fetch response and the consumer's position,
        so it costs no request once the partition has been fetched.
        """
        tp = TopicPartition(self._bus.physical(topic), partition)
        if self._closed or tp not in self._consumer.assignment():
            return None
        high = self._consumer.highwater(tp)
        if high is None:
            return None
        try:
            position = self._consumer.position(tp, timeout_ms=0)
        except (kerr.KafkaError, AssertionError):
            return None
        return None if position is None else max(0, high - position)

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_records`` new messages; an empty list after ``timeout`` seconds."""
        if self._closed:
            return []
        batches = self._consumer.poll(timeout_ms=max(0, int(timeout * 1000)), max_records=max_records)
        out: list[Message] = []
        upto: dict[TopicPartition, int] = {}
        for tp, records in batches.items():
            if not records:
                continue
            topic = self._bus.logical(tp.topic)
            for r in records:
                key = None if r.key is None else bytes(r.key).decode("utf-8", errors="replace")
                out.append(Message(topic, tp.partition, r.offset, key,
                                   b"" if r.value is None else bytes(r.value), r.timestamp))
            upto[tp] = records[-1].offset + 1
        if upto:
            with self._lock:
                self._next.update(upto)
        return out

    def commit(self) -> None:
        """Commit the offsets of every message :meth:`poll` returned, for partitions still owned.

        Never raises for a rebalance: a commit the coordinator refuses is logged, and
        the messages of partitions that moved are redelivered to their new owners
        (at-least-once). A commit that times out is retried with the next one. Only a
        non-retriable error (e.g. not authorised) raises :class:`KafkaBusError`.
        """
        if self._closed:
            return
        with self._lock:
            pending = dict(self._next)
        if not pending:
            return
        owned = self._consumer.assignment()
        offsets = {tp: OffsetAndMetadata(o, "", -1) for tp, o in pending.items() if tp in owned}
        if len(offsets) < len(pending):
            self._forget([tp for tp in pending if tp not in owned])
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, timeout_ms=self._request_timeout_ms)
        except _REBALANCE_ERRORS as exc:
            # Tracking stays: the rebalance listener drops what this member loses, and the
            # next commit covers what it keeps; lost partitions' messages are redelivered.
            self.commit_failures += 1
            log.warning("%s: commit refused during a rebalance (%s); partitions this member "
                        "keeps are committed next time, the others are redelivered to their "
                        "new owners", self.group, _describe(exc))
            return
        except kerr.KafkaError as exc:
            if not getattr(exc, "retriable", False):
                raise KafkaBusError(f"{self.group}: commit failed: {_describe(exc)}") from exc
            self.commit_failures += 1
            log.warning("%s: commit failed (%s); retrying with the next commit",
                        self.group, _describe(exc))
            return
        with self._lock:
            for tp, meta in offsets.items():
                if self._next.get(tp) == meta.offset:
                    del self._next[tp]
                self._committed[tp] = meta.offset

    def rewind(self) -> None:
        """Go back to the committed offsets: everything polled since is returned again.

        For a worker whose processing of a batch failed: without a rewind the next
        poll continues after that batch and the next commit would cover it unprocessed.
        """
        if self._closed:
            return
        with self._lock:
            polled = list(self._next)
            self._next.clear()
        owned = self._consumer.assignment()
        polled = [tp for tp in polled if tp in owned]
        if not polled:
            return
        timeout = min(self._request_timeout_ms, 5_000)
        to: dict[TopicPartition, int] = {}
        for tp in polled:
            committed = self._consumer.committed(tp, timeout_ms=timeout)
            if committed is not None:
                to[tp] = committed
        rest = [tp for tp in polled if tp not in to]
        if rest:
            to.update(self._consumer.beginning_offsets(rest, timeout_ms=timeout))
        for tp, offset in to.items():
            self._consumer.seek(tp, offset)

    def lag(self) -> int:
        """Messages in the assigned partitions not yet committed (best effort).

        Cheap enough to call after every batch: end offsets are asked of the broker
        at most once a second (between asks the fetch high watermarks keep them
        current) and committed offsets once per assignment.
        """
        if self._closed:
            return 0
        try:
            self._last_lag = self._compute_lag()
        except kerr.KafkaError as exc:
            log.debug("%s: lag unavailable: %s", self.group, _describe(exc))
        return self._last_lag

    def _compute_lag(self) -> int:
        assigned = list(self._consumer.assignment())
        if not assigned:
            return 0
        timeout = min(self._request_timeout_ms, 5_000)
        now = time.monotonic()
        if now - self._ends_at >= self.END_OFFSETS_MAX_AGE or any(tp not in self._ends for tp in assigned):
            self._ends = self._consumer.end_offsets(assigned, timeout_ms=timeout)
            self._ends_at = now
        with self._lock:
            committed = dict(self._committed)
        unknown = [tp for tp in assigned if tp not in committed]
        if unknown:
            fetched: dict[TopicPartition, int] = {}
            missing: list[TopicPartition] = []
            for tp in unknown:
                c = self._consumer.committed(tp, timeout_ms=timeout)
                if c is None:
                    missing.append(tp)
                else:
                    fetched[tp] = c
            if missing:
                fetched.update(self._consumer.beginning_offsets(missing, timeout_ms=timeout))
            with self._lock:
                for tp, off in fetched.items():
                    self._committed.setdefault(tp, off)
            committed.update(fetched)
        total = 0
        for tp in assigned:
            # The fetch high watermark is exact and fresh after a poll; ListOffsets may lag
            # behind it on some brokers (Tansu answers the base offset of the last batch + 1).
            end = max(self._ends.get(tp) or 0, self._consumer.highwater(tp) or 0)
            total += max(0, end - committed.get(tp, 0))
        return total

    def close(self) -> None:
        """Leave the group without committing; uncommitted messages go to another member."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._next.clear()
        self._consumer.close(autocommit=False)
