"""The pages' view of the store's connection pool: a connection is waited for briefly, never long.

A page's callback that cannot get a connection should give up in seconds (the page keeps its
figures, greyed by the truth banner) rather than hold a server thread for the pool's whole timeout:
with every thread waiting on a dead store, nothing would be left to answer the probe that notices
its return. Everything else is the pool's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

PAGE_WAIT_S = 5.0  # the server has as many threads as connections: a longer wait means the store is gone


class PagePool:
    """``pool`` whose :meth:`connection` waits at most ``wait_s`` unless told otherwise."""

    def __init__(self, pool: ConnectionPool, wait_s: float = PAGE_WAIT_S) -> None:
        self._pool = pool
        self.wait_s = wait_s

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection(timeout=self.wait_s if timeout is None else timeout) as conn:
            yield conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)
