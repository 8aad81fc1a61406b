"""Batched, idempotent writes: binary ``COPY`` straight into the table, or through ``ON CONFLICT``.

A batch written twice stores each row once, because every table has a
natural key (station, metric, time for readings; bus position for dead
letters, a letter written by the role that read its origin record kept
beside one received on the dead-letter topic that only claims it). A batch
is first copied straight into its table inside a savepoint
(the usual case: every row is new); if a row is already stored the copy fails
as a whole, rolls back to the savepoint, and the batch goes through a staging
table and ``INSERT ... ON CONFLICT DO NOTHING``. One batch is one transaction:
rows, latest values, counts and the rollup's dirty range land together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ioc.batch_decode import PlainReading
from ioc.bus.base import Message
from ioc.deadletters import dead_letter_record
from ioc.events import Event
from ioc.feeds import FEEDS
from ioc.feeds.environment.records import EnvironmentReading
from ioc.records import INT4_MAX, INT8_MAX, UnstorableValue, keepable
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec

#: how each stored record kind is written, from the registered feeds' declarations
TABLES: dict[str, TableSpec] = {spec.kind: spec for feed in FEEDS for spec in feed.tables}


@dataclass
class WriteResult:
    """What one batch did: rows new to the store and rows it already had."""

    inserted: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)

    @property
    def total_inserted(self) -> int:
        return sum(self.inserted.values())


#: longest texts a dead-letter row keeps (characters; a bus key or a reason may be anything a sender wrote)
DEAD_LETTER_LIMITS = {"stage": 64, "source": 256, "key": 1024, "reason": 2000, "topic": 256}
MAX_DEAD_LETTER_PAYLOAD = 65536


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be used, with the reason; kept for operators to see.

    Its texts are stored as the store can keep them (:meth:`row`): characters no text column holds
    (a NUL in a bus key or a reason) as escapes, each cut to :data:`DEAD_LETTER_LIMITS`.

    ``by_reader`` is true when the role writing it read the record it is about (its position is its
    own to vouch for); false for a letter received on the dead-letter topic that names an origin,
    which anyone able to publish there could have sent: it is stored only while no letter holds
    that position, and never hides the reader's own (:meth:`StoreWriter.write_dead_letters`).
    """

    stage: str
    source: str
    reason: str
    payload: bytes
    key: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    by_reader: bool = True

    @classmethod
    def for_message(cls, message: Message, stage: str, reason: str) -> DeadLetter:
        """A dead letter about one bus message, keyed by its bus position (idempotent on redelivery)."""
        return cls(stage=stage, source=message.topic, reason=reason, payload=message.value,
                   key=message.key, topic=message.topic, partition=message.partition,
                   offset=message.offset)

    def message(self) -> bytes:
        """Its record on the dead-letter topic (``ioc.deadletters``): stage, reason, raw input and its
        origin (topic, partition, offset, key), the bus position it is kept under wherever it is read."""
        assert self.topic is not None and self.partition is not None and self.offset is not None
        lim = DEAD_LETTER_LIMITS
        record: dict[str, Any] = json.loads(dead_letter_record(
            keepable(self.stage, lim["stage"]), keepable(self.source, lim["source"]),
            keepable(self.reason, lim["reason"]), self.payload, datetime.now(UTC)))
        record["origin"] = {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                            "key": self.key}
        # a lone surrogate (in a key, in an error's text) is written as its JSON escape, not refused
        return json.dumps(record, ensure_ascii=False).encode("utf-8", "backslashreplace")

    def row(self) -> dict[str, Any]:
        """The ``dead_letters`` row: texts the store can keep; a position out of its columns' range
        is refused (:class:`~ioc.records.UnstorableValue`), never half-stored."""
        if self.partition is not None and not 0 <= self.partition <= INT4_MAX:
            raise UnstorableValue(f"dead letter's partition {self.partition} is out of range")
        if self.offset is not None and not 0 <= self.offset <= INT8_MAX:
            raise UnstorableValue(f"dead letter's offset {self.offset} is out of range")
        lim = DEAD_LETTER_LIMITS
        return {"stage": keepable(self.stage, lim["stage"]), "source": keepable(self.source, lim["source"]),
                "key": None if self.key is None else keepable(self.key, lim["key"]),
                "reason": keepable(self.reason, lim["reason"]),
                "payload": self.payload[:MAX_DEAD_LETTER_PAYLOAD],
                "topic": None if self.topic is None else keepable(self.topic, lim["topic"]),
                "partition": self.partition, "offset": self.offset, "by_reader": self.by_reader}


Record = Event | PlainReading
"""What the writer stores: an event model, or a reading the sink decoded without one."""


class StoreWriter:
    """Writes batches of event records and dead letters into the store."""

    def __init__(self, pool: ConnectionPool, caps: Capabilities) -> None:
        self.pool = pool
        self.caps = caps

    @staticmethod
    def storable(kind: str) -> bool:
        """True when the store has a table for this kind of record."""
        return kind in TABLES

    def write(self, events: Sequence[Record], dead_letters: Sequence[DeadLetter] = ()) -> WriteResult:
        """Store a batch in one transaction; raise on database errors (the caller retries)."""
        by_kind: dict[str, list[Record]] = {}
        for event in events:
            by_kind.setdefault(event.kind, []).append(event)  # type: ignore[attr-defined]
        result = WriteResult()
        with self.pool.connection() as conn, conn.transaction():
            for kind, batch in by_kind.items():
                spec = TABLES.get(kind)
                if spec is None:
                    raise ValueError(f"the store has no table for {kind!r}")
                inserted = self._write_table(conn, spec, batch)
                result.inserted[kind] = inserted
                result.duplicates[kind] = len(batch) - inserted
            if dead_letters:
                inserted = self._write_dead_letters(conn, dead_letters)
                result.inserted["dead_letter"] = inserted
                result.duplicates["dead_letter"] = len(dead_letters) - inserted
        return result

    def write_dead_letters(self, rows: Sequence[DeadLetter]) -> int:
        """Store dead letters alone, in their own transaction; returns rows new to the store.

        Each bus position holds at most one letter of its reader and one claim: a reader's letter is
        stored unless the reader's is there (a redelivery), a claim unless any letter holds the
        position (its reader's letter read back from the dead-letter topic is no second row).
        """
        with self.pool.connection() as conn, conn.transaction():
            return self._write_dead_letters(conn, rows)

    def _write_table(self, conn: psycopg.Connection, spec: TableSpec, batch: list[Record]) -> int:
        names = ", ".join(c for c, _ in spec.columns)
        conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {spec.stage} "
            f"({', '.join(f'{c} {t}' for c, t in spec.columns)}) ON COMMIT DELETE ROWS"
        )
        rows = [spec.to_row(event) for event in batch]
        series = spec.key[:spec.key.index(spec.time_column)] if spec.time_column in spec.key else spec.key
        if series:  # grouped by the key's leading columns the index inserts touch fewer pages
            columns = [c for c, _ in spec.columns]
            try:  # (10-25 % less server time for readings); the sort is stable, time order stays
                rows.sort(key=itemgetter(*(columns.index(k) for k in series)))
            except TypeError:  # a key value the table will refuse anyway (None): let the database say why
                pass
        with conn.cursor() as cur:
            try:
                with conn.transaction():  # a savepoint: a row already stored undoes only this copy
                    _copy(cur, spec.table, spec, rows)
            except psycopg.errors.UniqueViolation:  # a redelivered batch: store only the new rows
                _copy(cur, spec.stage, spec, rows)
                cur.execute(
                    f"INSERT INTO {spec.table} ({names}) SELECT {names} FROM {spec.stage} "
                    f"ON CONFLICT ({', '.join(spec.key)}) DO NOTHING"
                )
                inserted = cur.rowcount
            else:
                inserted = len(rows)
                if spec.after_insert:
                    _copy(cur, spec.stage, spec, spec.stage_rows(rows) if spec.stage_rows else rows)
            for statement in spec.after_insert:
                cur.execute(statement)
            if inserted:
                cur.execute(
                    "INSERT INTO stored_counts (kind, n, last_write) VALUES (%s, %s, now()) "
                    "ON CONFLICT (kind) DO UPDATE SET n = stored_counts.n + excluded.n, "
                    "last_write = excluded.last_write",
                    (spec.kind, inserted),
                )
                if spec.dirty_ranges and not self.caps.continuous_aggregates:
                    times = [getattr(e, spec.time_column) for e in batch]
                    cur.execute(
                        f"INSERT INTO {spec.dirty_ranges} (lo, hi) VALUES (%s, %s)", (min(times), max(times))
                    )
        return inserted

    def _write_dead_letters(self, conn: psycopg.Connection, rows: Sequence[DeadLetter]) -> int:
        with conn.cursor() as cur:
            cur.executemany(_INSERT_DEAD_LETTER, [d.row() for d in rows])
            inserted = cur.rowcount
            if inserted:
                cur.execute(
                    "INSERT INTO stored_counts (kind, n, last_write) VALUES ('dead_letter', %s, now()) "
                    "ON CONFLICT (kind) DO UPDATE SET n = stored_counts.n + excluded.n, "
                    "last_write = excluded.last_write",
                    (inserted,),
                )
        return inserted


_INSERT_DEAD_LETTER = """
INSERT INTO dead_letters (stage, source, key, reason, payload, topic, partition, "offset", by_reader)
SELECT %(stage)s::text, %(source)s::text, %(key)s::text, %(reason)s::text, %(payload)s::bytea,
       %(topic)s::text, %(partition)s::integer, %(offset)s::bigint, %(by_reader)s::boolean
WHERE %(by_reader)s::boolean OR NOT EXISTS (
    SELECT 1 FROM dead_letters d
    WHERE d.topic = %(topic)s::text AND d.partition = %(partition)s::integer
      AND d."offset" = %(offset)s::bigint)
ON CONFLICT DO NOTHING
"""


def _copy(cur: psycopg.Cursor[Any], table: str, spec: TableSpec, rows: list[tuple[Any, ...]]) -> None:
    """Binary ``COPY`` of rows into a table (or its staging table) with the spec's columns."""
    names = ", ".join(c for c, _ in spec.columns)
    with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([t for _, t in spec.columns])
        for row in rows:
            copy.write_row(row)


def reading(station: str, metric: str, value: float, time: datetime | None = None) -> EnvironmentReading:
    """Convenience constructor used by tools and benchmarks."""
    return EnvironmentReading(
        time=time or datetime.now(UTC), source_id=station, metric=metric, value=value
    )
