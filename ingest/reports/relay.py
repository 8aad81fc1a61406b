"""Staff status changes from the store's outbox onto the bus, so the deadline rules see them.

A change made on the pages is stored at once and queued in ``field_report_outbox`` in the same
transaction (:mod:`ioc.feeds.reports.lifecycle`). Here each queued change is published and removed
in one transaction: a crash before the commit publishes it again (the store keeps it once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from psycopg_pool import ConnectionPool

from ioc.events import Event, EventDecodeError, decode

log = logging.getLogger(__name__)


class OutboxRelay:
    """``relay_once()`` moves up to ``batch`` queued changes; ``run(stop)`` does so every ``every_s``."""

    def __init__(self, pool: ConnectionPool, publish: Callable[[list[Event]], None],
                 dead_letter: Callable[[str, dict[str, object]], None], batch: int = 200,
                 every_s: float = 1.0) -> None:
        self.pool, self.publish, self.dead_letter = pool, publish, dead_letter
        self.batch, self.every_s = batch, every_s
        self.relayed = 0

    def relay_once(self) -> int:
        with self.pool.connection() as conn, conn.transaction():  # also on an autocommit pool
            rows = conn.execute(
                "DELETE FROM field_report_outbox WHERE id IN (SELECT id FROM field_report_outbox ORDER BY id "
                "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, event::text",
                (self.batch,),
            ).fetchall()
            events: list[Event] = []
            for _, wire in sorted(rows):
                try:
                    events.append(decode(wire))
                except EventDecodeError as exc:
                    self.dead_letter(f"outbox record does not decode: {exc}", {"event": wire[:500]})
            if events:
                self.publish(events)  # flushed before the rows' removal commits
        self.relayed += len(events)
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                moved = self.relay_once()
            except Exception:  # the store away for a moment: the changes wait in the outbox
                log.exception("reports outbox: relay failed; retrying")
                moved = 0
            if moved < self.batch:
                stop.wait(self.every_s)
