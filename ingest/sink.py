"""The store sink: bus topics to the store, batched and idempotent, with dead letters.

Records that do not decode, or that fail validation, become dead-letter
rows with the reason and their bus position (so a redelivered batch does
not store them twice); the rest of the batch is stored. Dead letters that
ingest workers published on the dead-letter topic are stored the same way.

With a publisher, each poison record is also published on the dead-letter
topic (``ioc.deadletters``), for other consumers and for replay tooling:
the message carries the reason, the raw input and the record's origin
(topic, partition, offset). The sink itself consumes that topic, and a
dead letter with an origin is keyed in the table by the origin's position,
so the row the sink wrote directly and the one it reads back are the same
row: each poison record is exactly one ``dead_letters`` row, however often
its batch or the dead-letter message is redelivered. The dead-letter
message is flushed before the batch's offsets are committed. A letter read
from that topic only *claims* its origin (anyone who may publish there could
have sent it): it is kept as a row of its own, never in place of the letter
the sink writes about a record it read itself (``DeadLetter.by_reader``), so a
forged letter that claimed a position first does not hide the real one.

A record that decodes but that the store still refuses (a value past a limit no model states)
fails its batch: the loop (:mod:`ioc.bus.loop`) retries the batch in parts until the record is
alone, and :meth:`StoreSink.set_aside` makes it a dead letter with the store's error as its reason,
so one record never stops its partition. A record of a kind its topic does not carry (an
environment reading on a vessel topic: :func:`~ioc.topics.misplaced`) is a dead letter, and so is a
record whose event time cannot be real (before :data:`~ioc.records.EARLIEST_EVENT_TIME`, or more
than ``max_ahead`` after the sink's clock): it is never stored, nor does it move any rule's state.
The sink reads the topics of the kinds the store keeps (:data:`~ioc.topics.STORED_TOPICS`); the
detector runner dead-letters the bad records of the others (fan-out copies), which only it reads.

Rows are keyed by the *broker's* topic name (``IOC_BUS__NAMESPACE`` included, as Kafka names it),
so two namespaces sharing one database never take each other's positions for their own; the
dead-letter messages carry the bus's (logical) names, as every message does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ioc.batch_decode import decode_batch
from ioc.bus.base import Bus, Message, Publisher
from ioc.bus.loop import BatchConsumer, failure_reason
from ioc.events import EventDecodeError
from ioc.records import INT4_MAX, INT8_MAX, MAX_AHEAD, implausible_time
from ioc.store.writer import DeadLetter, Record, StoreWriter
from ioc.topics import DEAD_LETTERS, STORED_TOPICS, misplaced

log = logging.getLogger(__name__)


def storable_topics() -> list[str]:
    """Every topic whose records the store keeps, plus the dead-letter topic."""
    return sorted(STORED_TOPICS) + [DEAD_LETTERS]


def dead_letter_message(dead: DeadLetter) -> bytes:
    """The dead-letter topic's record of a poison bus message: reason, raw input and its origin."""
    return dead.message()


_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # what Kafka accepts as a topic name


def _origin(origin: Any) -> tuple[str, int, int, str | None]:
    """The bus position a dead-letter message names; ``ValueError`` when it cannot be one."""
    if not isinstance(origin, dict):
        raise ValueError(f"origin is not an object: {type(origin).__name__}")
    topic, partition, offset, key = (origin.get(k) for k in ("topic", "partition", "offset", "key"))
    if not isinstance(topic, str) or not _TOPIC_NAME.match(topic):
        raise ValueError(f"origin topic {str(topic)[:80]!r} is not a topic name")
    for name, value, top in (("partition", partition, INT4_MAX), ("offset", offset, INT8_MAX)):
        if type(value) is not int or not 0 <= value <= top:
            raise ValueError(f"origin {name} {str(value)[:40]} is not a whole number from 0 to {top}")
    return topic, partition, offset, None if key is None else str(key)


def dead_letter_from_message(message: Message) -> DeadLetter:
    """A dead letter read from the dead-letter topic, or one about the message itself if it is unreadable.

    One with an ``origin`` (published by a role about a poison record it read) is keyed by the
    origin's bus position, like the row the sink wrote directly, as a claim (``by_reader`` false:
    the sink did not read that record); one without (published by an ingest worker) by its own
    position on the dead-letter topic. One whose origin is no bus position (a partition of
    ``Infinity``, an offset past 2**63) is unreadable.
    """
    try:
        if not message.value:
            raise ValueError("empty record (tombstone)")
        record = json.loads(message.value)
        if not isinstance(record, dict):
            raise ValueError(f"not a JSON object: {type(record).__name__}")
        payload = record.get("payload", "")
        origin = record.get("origin")
        claim = origin is not None
        if claim:
            topic, partition, offset, key = _origin(origin)
        else:
            topic, partition, offset, key = message.topic, message.partition, message.offset, message.key
        reason = record["reason"]
        if not isinstance(reason, str):
            raise ValueError(f"reason is not a text: {type(reason).__name__}")
        return DeadLetter(
            stage=str(record.get("stage", "ingest")),
            source=str(record.get("feed") or record.get("source") or message.key or "unknown"),
            reason=reason,
            payload=payload.encode("utf-8", "backslashreplace") if isinstance(payload, str)
            else json.dumps(payload).encode(),
            key=key,
            topic=topic,
            partition=partition,
            offset=offset,
            by_reader=not claim,
        )
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        return DeadLetter.for_message(message, "sink", f"unreadable dead-letter record: {exc}")


class StoreSink:
    """Consumes record topics and writes them to the store in batches."""

    def __init__(self, bus: Bus, writer: StoreWriter, group: str = "store-sink",
                 topics: Sequence[str] | None = None, batch_size: int = 5000,
                 publisher: Publisher | None = None, clock: Callable[[], datetime] | None = None,
                 max_ahead: timedelta = MAX_AHEAD) -> None:
        self.writer = writer
        self.publisher = publisher  # poison records go to the dead-letter topic too
        self.clock = clock or (lambda: datetime.now(UTC))  # the receiving clock of event times
        self.max_ahead = max_ahead
        # the broker's name of a topic (with the namespace): what a dead-letter row is keyed by
        self.broker_topic: Callable[[str], str] = getattr(bus, "physical", None) or (lambda t: t)
        self.consumer = BatchConsumer(
            "sink", bus.subscribe(list(topics or storable_topics()), group), self.store_batch,
            batch_size=batch_size, poison=self.set_aside,
        )
        self.health = self.consumer.health
        self.health.extra.update(stored=0, duplicates=0, dead_letters=0)
        self.dead_letters_published = 0

    def _rows(self, dead: Sequence[DeadLetter]) -> list[DeadLetter]:
        """Dead letters as stored: positions under the broker's topic names."""
        return [d if d.topic is None else dataclasses.replace(d, topic=self.broker_topic(d.topic))
                for d in dead]

    def store_batch(self, batch: Sequence[Message]) -> None:
        """Decode, validate and write one batch in a single transaction."""
        records: list[Record] = []
        dead: list[DeadLetter] = []
        poison: list[DeadLetter] = []  # about records of this batch (not read from the dead-letter topic)
        messages = []
        for message in batch:
            if message.topic == DEAD_LETTERS:
                dead.append(dead_letter_from_message(message))
            else:
                messages.append(message)
        now = self.clock()
        for message, decoded in zip(messages, decode_batch([m.value for m in messages]), strict=True):
            if isinstance(decoded, EventDecodeError):
                poison.append(DeadLetter.for_message(message, "sink", str(decoded)))
            elif wrong := misplaced(message.topic, decoded.kind):  # type: ignore[union-attr]
                poison.append(DeadLetter.for_message(message, "sink", wrong))
            elif not self.writer.storable(decoded.kind):  # type: ignore[union-attr]
                reason = f"the store keeps no {decoded.kind!r} records"  # type: ignore[union-attr]
                poison.append(DeadLetter.for_message(message, "sink", reason))
            elif why := implausible_time(decoded.time, now, self.max_ahead):  # type: ignore[union-attr]
                poison.append(DeadLetter.for_message(message, "sink", why))
            else:
                records.append(decoded)
        result = self.writer.write(records, self._rows(poison + dead))  # the reader's own first
        extra = self.health.extra
        extra["stored"] += result.total_inserted - result.inserted.get("dead_letter", 0)
        extra["duplicates"] += sum(v for k, v in result.duplicates.items() if k != "dead_letter")
        extra["dead_letters"] += result.inserted.get("dead_letter", 0)
        self._publish(poison)

    def set_aside(self, message: Message, exc: BaseException) -> None:
        """A record the store refused alone (its batch retried in parts): a dead letter with the error.

        One read from the dead-letter topic is kept as a dead letter about itself (its own position),
        never published again.
        """
        if message.topic == DEAD_LETTERS:
            reason = f"dead-letter record the store refused: {failure_reason(exc)}"
        else:
            reason = f"the store refused the record: {failure_reason(exc)}"
        dead = DeadLetter.for_message(message, "sink", reason)
        self.health.extra["dead_letters"] += self.writer.write_dead_letters(self._rows([dead]))
        if message.topic != DEAD_LETTERS:
            self._publish([dead])

    def _publish(self, poison: list[DeadLetter]) -> None:
        if poison and self.publisher is not None:
            for d in poison:
                self.publisher.publish(DEAD_LETTERS, d.key, dead_letter_message(d))
            self.publisher.flush()  # a bus error is transient: the whole batch is retried
            self.dead_letters_published += len(poison)
        for d in poison:
            log.warning("dead letter: %s[%s]@%s (key %r): %s", d.topic, d.partition, d.offset,
                        d.key, d.reason[:200])

    def run_once(self) -> int:
        return self.consumer.run_once()

    def run(self, stop) -> None:  # noqa: ANN001 - threading.Event
        self.consumer.run(stop)
