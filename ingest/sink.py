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
message is flushed before the batch's offsets are committed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ioc.batch_decode import decode_batch
from ioc.bus.base import Bus, Message, Publisher
from ioc.bus.loop import BatchConsumer
from ioc.deadletters import dead_letter_record
from ioc.events import EventDecodeError
from ioc.store.writer import TABLES, DeadLetter, Record, StoreWriter
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND

log = logging.getLogger(__name__)


def storable_topics() -> list[str]:
    """Every topic whose records the store keeps, plus the dead-letter topic."""
    return [TOPIC_BY_KIND[kind] for kind in TABLES] + [DEAD_LETTERS]


def dead_letter_message(dead: DeadLetter) -> bytes:
    """The dead-letter topic's record of a poison bus message: reason, raw input and its origin."""
    assert dead.topic is not None and dead.partition is not None and dead.offset is not None
    record: dict[str, Any] = json.loads(
        dead_letter_record(dead.stage, dead.source, dead.reason, dead.payload, datetime.now(UTC)))
    record["origin"] = {"topic": dead.topic, "partition": dead.partition, "offset": dead.offset,
                        "key": dead.key}
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def dead_letter_from_message(message: Message) -> DeadLetter:
    """A dead letter read from the dead-letter topic, or one about the message itself if it is unreadable.

    One with an ``origin`` (published by a sink about a poison record) is keyed by the
    origin's bus position, like the row the sink wrote directly; one without (published
    by an ingest worker) by its own position on the dead-letter topic.
    """
    try:
        record = json.loads(message.value)
        payload = record.get("payload", "")
        origin = record.get("origin")
        if origin is not None:
            topic, partition, offset = str(origin["topic"]), int(origin["partition"]), int(origin["offset"])
            key = origin.get("key")
        else:
            topic, partition, offset, key = message.topic, message.partition, message.offset, message.key
        return DeadLetter(
            stage=str(record.get("stage", "ingest")),
            source=str(record.get("feed") or record.get("source") or message.key or "unknown"),
            reason=str(record["reason"]),
            payload=payload.encode() if isinstance(payload, str) else json.dumps(payload).encode(),
            key=None if key is None else str(key),
            topic=topic,
            partition=partition,
            offset=offset,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return DeadLetter.for_message(message, "sink", f"unreadable dead-letter record: {exc}")


class StoreSink:
    """Consumes record topics and writes them to the store in batches."""

    def __init__(self, bus: Bus, writer: StoreWriter, group: str = "store-sink",
                 topics: Sequence[str] | None = None, batch_size: int = 5000,
                 publisher: Publisher | None = None) -> None:
        self.writer = writer
        self.publisher = publisher  # poison records go to the dead-letter topic too
        self.consumer = BatchConsumer(
            "sink", bus.subscribe(list(topics or storable_topics()), group), self.store_batch,
            batch_size=batch_size,
        )
        self.health = self.consumer.health
        self.health.extra.update(stored=0, duplicates=0, dead_letters=0)
        self.dead_letters_published = 0

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
        for message, decoded in zip(messages, decode_batch([m.value for m in messages]), strict=True):
            if isinstance(decoded, EventDecodeError):
                poison.append(DeadLetter.for_message(message, "sink", str(decoded)))
            elif not self.writer.storable(decoded.kind):  # type: ignore[union-attr]
                reason = f"the store keeps no {decoded.kind!r} records"  # type: ignore[union-attr]
                poison.append(DeadLetter.for_message(message, "sink", reason))
            else:
                records.append(decoded)
        result = self.writer.write(records, dead + poison)
        extra = self.health.extra
        extra["stored"] += result.total_inserted - result.inserted.get("dead_letter", 0)
        extra["duplicates"] += sum(v for k, v in result.duplicates.items() if k != "dead_letter")
        extra["dead_letters"] += result.inserted.get("dead_letter", 0)
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
