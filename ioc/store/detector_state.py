"""Detector state that outlives a process: one snapshot per consumed topic-partition.

A detector holds windows ("above the threshold for 10 minutes", "silent for 15
minutes", a vessel's reorder lane). In distributed mode the detector runner
keeps one set of detector instances per topic-partition it owns (a *slot*:
sources are keyed, so a source always lands in the same partition and its
state lives in one slot) and checkpoints each slot here as a
:class:`SlotSnapshot`: the detectors' JSON states and the offset of the next
record of that partition not yet folded into them.

The runner saves a snapshot after the alert signals of the records it covers
are published and flushed, and before it commits the bus offsets. A member
that is given the partition (after a rebalance or a restart) restores the
snapshot and reads the partition from the snapshot's offset, whatever the
group's committed offset: state and position always belong together, so no
record is folded twice and none is skipped. A snapshot that cannot be true (its
offset past the end of its partition, an impossible event time in it) is not
used: the partition starts empty. Signals decided after the last
snapshot are decided again by the new owner and published again; the alerts
service ignores a repeated signal (same fingerprint and event time).

Rows are keyed by (consumer group, topic, partition); the last writer wins,
and every row is a consistent pair of state and offset, so even a stale
write by a member that lost its partition only makes the next owner redo
some records.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

SlotKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class SlotSnapshot:
    """The state of one slot's detectors and the next offset of its partition."""

    topic: str
    partition: int
    next_offset: int
    watermark: datetime | None
    detectors: Mapping[str, dict[str, Any]]  # detector name -> its state()
    saved_at: datetime | None = None
    saved_by: str | None = None

    @property
    def key(self) -> SlotKey:
        return (self.topic, self.partition)


class SnapshotStore(Protocol):
    """Where a runner keeps its slot snapshots."""

    def load(self, group: str, slots: Iterable[SlotKey]) -> dict[SlotKey, SlotSnapshot]:
        """The saved snapshots of ``slots`` (those that have one)."""
        ...

    def save(self, group: str, snapshots: Sequence[SlotSnapshot]) -> None:
        """Save ``snapshots`` (all or none); raises on a store error so the caller retries."""
        ...


@dataclass
class MemorySnapshotStore:
    """Snapshots in a dict (tests; an embedded runner has nothing to hand over).

    Values are kept as JSON text, so what is restored is what a database would return.
    """

    rows: dict[tuple[str, str, int], str] = field(default_factory=dict)
    saves: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self, group: str, slots: Iterable[SlotKey]) -> dict[SlotKey, SlotSnapshot]:
        out: dict[SlotKey, SlotSnapshot] = {}
        with self._lock:
            for topic, partition in slots:
                raw = self.rows.get((group, topic, partition))
                if raw is not None:
                    data = json.loads(raw)
                    out[(topic, partition)] = SlotSnapshot(
                        topic, partition, int(data["next_offset"]),
                        datetime.fromisoformat(data["watermark"]) if data["watermark"] else None,
                        data["detectors"])
        return out

    def save(self, group: str, snapshots: Sequence[SlotSnapshot]) -> None:
        with self._lock:
            for s in snapshots:
                self.rows[(group, s.topic, s.partition)] = json.dumps({
                    "next_offset": s.next_offset,
                    "watermark": s.watermark.isoformat() if s.watermark else None,
                    "detectors": s.detectors,
                })
            self.saves += 1


_LOAD = """
SELECT topic, partition, next_offset, watermark, state, saved_at, saved_by
FROM detector_state WHERE group_id = %s AND topic = ANY(%s) AND partition = ANY(%s)
"""

_SAVE = """
INSERT INTO detector_state AS d (group_id, topic, partition, next_offset, watermark, state,
                                 saved_at, saved_by)
VALUES (%s, %s, %s, %s, %s, %s, now(), %s)
ON CONFLICT (group_id, topic, partition) DO UPDATE
SET next_offset = excluded.next_offset, watermark = excluded.watermark, state = excluded.state,
    saved_at = excluded.saved_at, saved_by = excluded.saved_by
"""


class PostgresSnapshotStore:
    """Snapshots in the store's ``detector_state`` table (migration 7), one row per slot."""

    def __init__(self, pool: ConnectionPool, instance: str | None = None) -> None:
        self.pool = pool
        self.instance = instance
        self.saves = 0

    def load(self, group: str, slots: Iterable[SlotKey]) -> dict[SlotKey, SlotSnapshot]:
        wanted = set(slots)
        if not wanted:
            return {}
        topics = sorted({t for t, _ in wanted})
        partitions = sorted({p for _, p in wanted})
        with self.pool.connection() as conn:
            rows = conn.execute(_LOAD, (group, topics, partitions)).fetchall()
        out: dict[SlotKey, SlotSnapshot] = {}
        for topic, partition, offset, watermark, state, saved_at, saved_by in rows:
            if (topic, partition) in wanted:
                out[(topic, partition)] = SlotSnapshot(topic, partition, int(offset), watermark,
                                                       state, saved_at, saved_by)
        return out

    def save(self, group: str, snapshots: Sequence[SlotSnapshot]) -> None:
        if not snapshots:
            return
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(_SAVE, [
                (group, s.topic, s.partition, s.next_offset, s.watermark, Jsonb(dict(s.detectors)),
                 self.instance)
                for s in snapshots
            ])
        self.saves += 1

    def forget(self, group: str) -> int:
        """Delete every snapshot of ``group`` (after the topics were recreated); rows deleted."""
        with self.pool.connection() as conn:
            return conn.execute("DELETE FROM detector_state WHERE group_id = %s", (group,)).rowcount
