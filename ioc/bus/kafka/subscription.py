"""A Kafka consumer-group member: poll, commit exactly what was polled, follow rebalances, measure lag."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kafka import KafkaConsumer
from kafka import errors as kerr
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata, TopicPartition

from ioc.bus.base import Message, PartitionOffsets
from ioc.bus.kafka.errors import KafkaBusError, describe

if TYPE_CHECKING:
    from ioc.bus.kafka.bus import KafkaBus

log = logging.getLogger("ioc.bus.kafka")

#: Errors that mean "this member's view of the group is stale": a rebalance happened.
_REBALANCE_ERRORS: tuple[type[BaseException], ...] = (
    kerr.CommitFailedError,
    kerr.RebalanceInProgressError,
    kerr.IllegalGenerationError,
    kerr.UnknownMemberIdError,
    kerr.FencedInstanceIdError,
)


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
                f"cannot reach Kafka at {bus.settings.bootstrap_servers}: {describe(exc)}") from exc
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

    def _fetched(self, topic: str, partition: int) -> tuple[TopicPartition, int | None]:
        """An owned partition and the high watermark of its last fetch; ``None`` while not fetched
        (or not owned)."""
        tp = TopicPartition(self._bus.physical(topic), partition)
        if self._closed or tp not in self._consumer.assignment():
            return tp, None
        return tp, self._consumer.highwater(tp)

    def backlog(self, topic: str, partition: int) -> int | None:
        """Records of an owned partition not yet returned by :meth:`poll`; None while unknown.

        From the high watermark of the last fetch response and the consumer's position,
        so it costs no request once the partition has been fetched.
        """
        tp, high = self._fetched(topic, partition)
        if high is None:
            return None
        try:
            position = self._consumer.position(tp, timeout_ms=0)
        except (kerr.KafkaError, AssertionError):
            return None
        return None if position is None else max(0, high - position)

    def offsets(self, topic: str, partition: int) -> PartitionOffsets | None:
        """The bounds and committed offset of an owned partition; None until a fetch of it was answered.

        The end is the larger of the broker's ListOffsets answer and the fetch high watermark: some
        brokers answer ListOffsets with the last batch's base offset + 1 (Tansu), short of the end.
        """
        tp, high = self._fetched(topic, partition)
        if high is None:
            return None
        timeout = min(self._request_timeout_ms, 5_000)
        try:
            first = self._consumer.beginning_offsets([tp], timeout_ms=timeout)[tp]
            end = self._consumer.end_offsets([tp], timeout_ms=timeout)[tp]
            committed = self._consumer.committed(tp, timeout_ms=timeout)
        except kerr.KafkaError as exc:
            raise KafkaBusError(f"{self.group}: offsets of {tp.topic}[{partition}]: {describe(exc)}") from exc
        return PartitionOffsets(first, max(end, high), committed)

    def partition_of(self, topic: str, key: str) -> int | None:
        """The partition of ``topic`` that records keyed ``key`` land in; None while unknown.

        The producers of this bus leave the choice to kafka-python's default partitioner
        (murmur2 of the key bytes over the topic's partitions in order, as Kafka's Java
        client does), so this is the same function over the partitions the metadata lists.
        """
        partitions = self._consumer.partitions_for_topic(self._bus.physical(topic))
        if not partitions:
            return None
        ordered = sorted(partitions)
        return ordered[(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % len(ordered)]

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
                # a key that is not UTF-8 keeps its bytes visible (\xNN); the store escapes what a
                # text cannot hold (a NUL) when it keeps a key (ioc.store.writer.DeadLetter.row)
                key = None if r.key is None else bytes(r.key).decode("utf-8", errors="backslashreplace")
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
                        "new owners", self.group, describe(exc))
            return
        except kerr.KafkaError as exc:
            if not getattr(exc, "retriable", False):
                raise KafkaBusError(f"{self.group}: commit failed: {describe(exc)}") from exc
            self.commit_failures += 1
            log.warning("%s: commit failed (%s); retrying with the next commit",
                        self.group, describe(exc))
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
            log.debug("%s: lag unavailable: %s", self.group, describe(exc))
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

