"""How event records map onto tables, and the DDL helper every schema module shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from ioc.store.capabilities import Capabilities


@dataclass(frozen=True)
class Migration:
    """One schema step: numbered within its namespace (the core's, or one feed's), run once."""

    version: int
    description: str
    apply: Callable[[psycopg.Connection, Capabilities], None]


@dataclass(frozen=True)
class TableSpec:
    """How one kind of event record is kept: its table, columns and natural key."""

    kind: str
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, postgres type)
    key: tuple[str, ...]
    to_row: Callable[[Any], tuple[Any, ...]]
    time_column: str = "time"
    after_insert: tuple[str, ...] = ()  # statements run against the staging table after the insert
    # the rows after_insert needs when every row of a batch was new (default: all of them)
    stage_rows: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None = None
    # a table the writer adds each new batch's time range to, where rollups are not continuous
    # aggregates (the feed's refresh job recomputes those ranges)
    dirty_ranges: str | None = None
    # the record back from a stored row (a dict by column name): what a recording exports and a
    # replay reads from the store; None: the kind cannot be replayed from the store
    from_row: Callable[[dict[str, Any]], Any] | None = None

    @property
    def stage(self) -> str:
        return f"stage_{self.table}"


def hypertable_or_brin(conn: psycopg.Connection, caps: Capabilities, table: str, chunk: str) -> None:
    """A hypertable on ``time`` where TimescaleDB is present, a BRIN index on ``time`` elsewhere."""
    if caps.timescaledb:
        conn.execute(
            f"SELECT create_hypertable('{table}', 'time', chunk_time_interval => interval '{chunk}', "
            "if_not_exists => true)"
        )
    else:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_time_brin ON {table} USING brin (time)")
