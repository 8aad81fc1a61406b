"""The bus interface that every transport implements.

Delivery is at-least-once: a consumer gets each message until it commits
past it, so a worker commits only after its store write or detector step
succeeded. Messages with the same key land in the same partition and keep
their order.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class BusUnavailable(RuntimeError):
    """The bus cannot be reached or refused a write; the operation may succeed later."""


@dataclass(frozen=True, slots=True)
class Message:
    """One record read from the bus."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """Where one partition's log begins and ends now, and the group's committed offset in it."""

    first: int  # the offset of its oldest record still kept
    end: int  # the offset the next record appended will get
    committed: int | None  # the group's committed offset; None when it has none

    def holds(self, offset: int) -> bool:
        """True when reading from ``offset`` reads this log (from its first record up to its end)."""
        return self.first <= offset <= self.end

    def restart(self) -> int:
        """Where to read from when no saved position is usable: the committed offset, else the first."""
        return self.committed if self.committed is not None and self.holds(self.committed) else self.first


class Publisher(Protocol):
    """Sends records to topics."""

    def publish(self, topic: str, key: str | None, value: bytes) -> None:
        """Queue one record; it is durable once :meth:`flush` returns."""

    def flush(self, timeout: float | None = None) -> None:
        """Block until every queued record is acknowledged."""

    def close(self) -> None:
        """Flush and release resources."""


class Subscription(Protocol):
    """A consumer-group member reading some topics."""

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_records`` new messages; an empty list after ``timeout`` seconds."""

    def commit(self) -> None:
        """Mark everything returned by :meth:`poll` so far as processed."""

    def rewind(self) -> None:
        """Go back to the committed offsets: what was polled since is returned again."""

    def lag(self) -> int:
        """Messages in the assigned partitions not yet committed (best effort)."""

    def offsets(self, topic: str, partition: int) -> PartitionOffsets | None:
        """The bounds and committed offset of an owned partition; None while the bus cannot say."""

    def close(self) -> None:
        """Leave the group; uncommitted messages go to another member."""


class Bus(Protocol):
    """A message bus with keyed topics and consumer groups."""

    def publisher(self) -> Publisher:
        """A new publisher."""

    def subscribe(self, topics: Sequence[str], group: str) -> Subscription:
        """Join ``group`` as a new member reading ``topics``."""

    def close(self) -> None:
        """Release the bus."""


def partition_for(key: str | None, partitions: int, fallback: int = 0) -> int:
    """Stable partition of a key (CRC32), so a source always lands in the same one."""
    if key is None:
        return fallback % partitions
    return zlib.crc32(key.encode()) % partitions
