"""The store sink: bus topics to the store, batched and idempotent, with dead letters.

Records that do not decode, or that fail validation, become dead-letter
rows with the reason and their bus position (so a redelivered batch does
not store them twice); the rest of the batch is stored. Dead letters that
ingest workers published on the dead-letter topic are stored the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from ioc.bus.base import Bus, Message
from ioc.bus.loop import BatchConsumer
from ioc.events import Event, EventDecodeError, decode
from ioc.store.writer import TABLES, DeadLetter, StoreWriter
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND

log = logging.getLogger(__name__)


def storable_topics() -> list[str]:
    """Every topic whose records the store keeps, plus the dead-letter topic."""
    return [TOPIC_BY_KIND[kind] for kind in TABLES] + [DEAD_LETTERS]


def dead_letter_from_message(message: Message) -> DeadLetter:
    """A dead letter published by an ingest worker, or one about the message itself if it is unreadable."""
    try:
        record = json.loads(message.value)
        payload = record.get("payload", "")
        return DeadLetter(
            stage=str(record.get("stage", "ingest")),
            source=str(record.get("feed") or record.get("source") or message.key or "unknown"),
            reason=str(record["reason"]),
            payload=payload.encode() if isinstance(payload, str) else json.dumps(payload).encode(),
            key=message.key,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return DeadLetter.for_message(message, "sink", f"unreadable dead-letter record: {exc}")


class StoreSink:
    """Consumes record topics and writes them to the store in batches."""

    def __init__(self, bus: Bus, writer: StoreWriter, group: str = "store-sink",
                 topics: Sequence[str] | None = None, batch_size: int = 5000) -> None:
        self.writer = writer
        self.consumer = BatchConsumer(
            "sink", bus.subscribe(list(topics or storable_topics()), group), self.store_batch,
            batch_size=batch_size,
        )
        self.health = self.consumer.health
        self.health.extra.update(stored=0, duplicates=0, dead_letters=0)

    def store_batch(self, batch: Sequence[Message]) -> None:
        """Decode, validate and write one batch in a single transaction."""
        events: list[Event] = []
        dead: list[DeadLetter] = []
        for message in batch:
            if message.topic == DEAD_LETTERS:
                dead.append(dead_letter_from_message(message))
                continue
            try:
                event = decode(message.value)
                if not self.writer.storable(event.kind):  # type: ignore[attr-defined]
                    raise EventDecodeError(f"the store keeps no {event.kind!r} records")  # type: ignore[attr-defined]
            except EventDecodeError as exc:
                dead.append(DeadLetter.for_message(message, "sink", str(exc)))
                continue
            events.append(event)
        result = self.writer.write(events, dead)
        extra = self.health.extra
        extra["stored"] += result.total_inserted - result.inserted.get("dead_letter", 0)
        extra["duplicates"] += sum(v for k, v in result.duplicates.items() if k != "dead_letter")
        extra["dead_letters"] += result.inserted.get("dead_letter", 0)

    def run_once(self) -> int:
        return self.consumer.run_once()

    def run(self, stop) -> None:  # noqa: ANN001 - threading.Event
        self.consumer.run(stop)
