"""Writing field-report records straight into their tables (the standalone intake and its tests).

In the ingest worker the records go to the bus and the store's writer keeps them; this sink is
for a process that runs the intake beside a store without the bus (and for the API's tests).
"""

from __future__ import annotations

import threading

from psycopg_pool import ConnectionPool

from ioc.events import Event
from ioc.feeds.reports.tables import REPORT_TABLE, STATUS_TABLE

_SPECS = {s.kind: s for s in (REPORT_TABLE, STATUS_TABLE)}


class StoreSink:
    """``publish(events)``: insert report and status records, ignoring exact repeats."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.dead: list[tuple[str, dict[str, object]]] = []
        self._lock = threading.Lock()

    def publish(self, events: list[Event]) -> None:
        """Insert the records of one report in one transaction."""
        with self.pool.connection() as conn:
            for event in events:
                spec = _SPECS[event.kind]  # type: ignore[attr-defined]
                cols = ", ".join(n for n, _ in spec.columns)
                marks = ", ".join("%s" for _ in spec.columns)
                conn.execute(f"INSERT INTO {spec.table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                             spec.to_row(event))

    def dead_letter(self, reason: str, payload: dict[str, object] | None) -> None:
        with self._lock:
            self.dead.append((reason, payload))
