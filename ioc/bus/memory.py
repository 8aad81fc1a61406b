"""In-process bus for the embedded mode: partitioned logs with consumer groups.

Semantics follow Kafka closely enough that code written against it works
on Kafka: keyed partitioning, one member per partition within a group,
committed offsets per group, redelivery of uncommitted messages after a
member leaves. Messages every group has committed are trimmed, so a long
demo does not grow without bound.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ioc.bus.base import Message, PartitionOffsets, partition_for


@dataclass
class _Partition:
    base: int = 0
    log: list[Message] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.base + len(self.log)


@dataclass
class _Group:
    topics: set[str] = field(default_factory=set)
    members: list[MemorySubscription] = field(default_factory=list)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)


class MemoryBus:
    """A thread-safe, in-process :class:`ioc.bus.base.Bus`."""

    def __init__(self, partitions: int = 4) -> None:
        self.partitions = partitions
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._cond = threading.Condition()
        self._round_robin = itertools.count()

    # -- producing -----------------------------------------------------------------
    def _topic(self, topic: str) -> list[_Partition]:
        parts = self._topics.get(topic)
        if parts is None:
            parts = self._topics[topic] = [_Partition() for _ in range(self.partitions)]
            for group in self._groups.values():
                if topic in group.topics:
                    self._rebalance(group)
        return parts

    def append(self, topic: str, key: str | None, value: bytes) -> None:
        """Append one record (what a publisher does)."""
        with self._cond:
            parts = self._topic(topic)
            p = partition_for(key, self.partitions, next(self._round_robin))
            part = parts[p]
            part.log.append(
                Message(topic, p, part.end, key, value, int(time.time() * 1000))
            )
            self._cond.notify_all()

    def publisher(self) -> MemoryPublisher:
        return MemoryPublisher(self)

    # -- consuming -----------------------------------------------------------------
    def subscribe(self, topics: Sequence[str], group: str) -> MemorySubscription:
        with self._cond:
            g = self._groups.setdefault(group, _Group())
            g.topics.update(topics)
            for topic in topics:
                self._topic(topic)
            member = MemorySubscription(self, group, tuple(topics))
            g.members.append(member)
            self._rebalance(g)
            return member

    def _rebalance(self, group: _Group) -> None:
        """Spread partitions round-robin; each member restarts from the committed offsets."""
        slots = [
            (t, p) for t in sorted(group.topics) if t in self._topics for p in range(self.partitions)
        ]
        for member in group.members:
            member._assigned = {}
        if not group.members:
            return
        readers = itertools.cycle(group.members)
        for slot in slots:
            for _ in range(len(group.members)):
                member = next(readers)
                if slot[0] in member.topics:
                    member._assigned[slot] = group.committed.get(slot, self._topics[slot[0]][slot[1]].base)
                    break

    def _trim(self, topic: str, p: int) -> None:
        floor = None
        for group in self._groups.values():
            if topic in group.topics:
                c = group.committed.get((topic, p), 0)
                floor = c if floor is None else min(floor, c)
        part = self._topics[topic][p]
        if floor is not None and floor > part.base:
            del part.log[: floor - part.base]
            part.base = floor

    def end_offsets(self, topic: str) -> list[int]:
        """Next offset of every partition of ``topic``."""
        with self._cond:
            return [part.end for part in self._topic(topic)]

    def close(self) -> None:
        with self._cond:
            self._cond.notify_all()


class MemoryPublisher:
    """Publisher of the in-process bus; appends are immediately durable in memory."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus

    def publish(self, topic: str, key: str | None, value: bytes) -> None:
        self._bus.append(topic, key, value)

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self) -> None:
        return None


class MemorySubscription:
    """A consumer-group member of the in-process bus."""

    def __init__(self, bus: MemoryBus, group: str, topics: tuple[str, ...]) -> None:
        self._bus = bus
        self.group = group
        self.topics = topics
        self._assigned: dict[tuple[str, int], int] = {}
        self._closed = False

    def _ready(self, max_records: int) -> list[Message]:
        """Up to ``max_records`` messages, shared fairly between the assigned partitions.

        Taking each partition's share in turn (as Kafka's fetcher interleaves partitions)
        keeps a backlog's partitions in step in event time instead of draining one first.
        """
        out: list[Message] = []
        slots = list(self._assigned)
        while slots and len(out) < max_records:
            share = max(1, (max_records - len(out)) // len(slots))
            still: list[tuple[str, int]] = []
            for slot in slots:
                part = self._bus._topics[slot[0]][slot[1]]
                pos = max(self._assigned[slot], part.base)
                take = part.log[pos - part.base: pos - part.base + min(share, max_records - len(out))]
                if take:
                    out.extend(take)
                    self._assigned[slot] = pos + len(take)
                    if len(take) == share:
                        still.append(slot)
                if len(out) >= max_records:
                    break
            slots = still
        return out

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        with self._bus._cond:
            while not self._closed:
                out = self._ready(max_records)
                if out:
                    return out
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._bus._cond.wait(left)
            return []

    def commit(self) -> None:
        with self._bus._cond:
            group = self._bus._groups[self.group]
            for slot, pos in self._assigned.items():
                if pos > group.committed.get(slot, 0):
                    group.committed[slot] = pos
                    self._bus._trim(*slot)

    def rewind(self) -> None:
        with self._bus._cond:
            group = self._bus._groups[self.group]
            for slot in self._assigned:
                self._assigned[slot] = max(group.committed.get(slot, 0),
                                           self._bus._topics[slot[0]][slot[1]].base)

    def lag(self) -> int:
        with self._bus._cond:
            group = self._bus._groups[self.group]
            return sum(
                self._bus._topics[t][p].end - group.committed.get((t, p), 0)
                for (t, p) in self._assigned
            )

    def offsets(self, topic: str, partition: int) -> PartitionOffsets | None:
        with self._bus._cond:
            if (topic, partition) not in self._assigned:
                return None
            part = self._bus._topics[topic][partition]
            committed = self._bus._groups[self.group].committed.get((topic, partition))
            return PartitionOffsets(part.base, part.end, committed)

    def close(self) -> None:
        with self._bus._cond:
            if self._closed:
                return
            self._closed = True
            group = self._bus._groups[self.group]
            group.members.remove(self)
            self._bus._rebalance(group)
            self._bus._cond.notify_all()
