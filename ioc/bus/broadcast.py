"""A reader of broadcast topics: every record of every partition, for each process that reads.

A consumer group splits a topic's partitions between its members; a broadcast topic (storm
warnings) must instead reach every member in full. :class:`BroadcastReader` joins a group of
its own (``<group>.broadcast.<unique id>``, so it is the group's only member and owns every
partition), reads from the earliest offset and never commits: each start reads the whole
topic again, so what a process knows of it never depends on a saved offset.

:attr:`BroadcastReader.caught_up` tells when everything published before it started has been
read (Kafka: each partition's fetch high watermark reached; in-process bus: a poll returned
less than asked for), so a worker can hold back its own records until then.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ioc.bus.base import Bus, Message


class BroadcastReader:
    """Reads ``topics`` in full, with a consumer group of its own."""

    def __init__(self, bus: Bus, topics: Sequence[str], group: str) -> None:
        self.topics = tuple(topics)
        self.group = f"{group}.broadcast.{uuid.uuid4().hex[:12]}"
        self._subscription = bus.subscribe(self.topics, self.group)
        self.caught_up = False
        self.records = 0

    def poll(self, max_records: int = 500, timeout: float = 0.0) -> list[Message]:
        """The records published since the last poll (up to ``max_records``)."""
        messages = self._subscription.poll(max_records=max_records, timeout=timeout)
        self.records += len(messages)
        if not self.caught_up:
            self.caught_up = self._drained(len(messages), max_records)
        return messages

    def _drained(self, polled: int, max_records: int) -> bool:
        sub = self._subscription
        assignment = getattr(sub, "assignment", None)
        backlog = getattr(sub, "backlog", None)
        if assignment is None or backlog is None:
            return polled < max_records  # the in-process bus hands out everything it has at once
        owned = assignment()
        if len(owned) < len(self.topics) or {t for t, _ in owned} != set(self.topics):
            return False  # not joined yet
        return all(backlog(topic, partition) == 0 for topic, partition in owned)

    def close(self) -> None:
        """Leave the (private) group."""
        self._subscription.close()
