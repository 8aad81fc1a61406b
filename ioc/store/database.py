"""Opening the store: a connection pool, migrated schema and known capabilities."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from ioc.store.capabilities import Capabilities
from ioc.store.migrations import migrate

log = logging.getLogger(__name__)


@dataclass
class Store:
    """A migrated database and a pool of connections to it."""

    dsn: str
    pool: ConnectionPool
    caps: Capabilities

    def close(self) -> None:
        self.pool.close()


def public_dsn(dsn: str) -> str:
    """``dsn`` without its password, for logs and messages: ``postgresql://user@host:port/db``."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(a DSN that cannot be parsed)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def connect_with_backoff(dsn: str, wait_s: float = 60.0) -> psycopg.Connection:
    """A connection, retried with exponential backoff while the server is unreachable."""
    delay, deadline = 0.2, time.monotonic() + wait_s
    while True:
        try:
            return psycopg.connect(dsn, connect_timeout=5)
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unreachable (%s); retrying in %.1f s", str(exc).strip(), delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def open_store(dsn: str, pool_min: int = 1, pool_max: int = 8, want_timescaledb: bool = True) -> Store:
    """Migrate the schema and open a pool; waits (with backoff) for the server to come up."""
    with connect_with_backoff(dsn) as conn:
        caps = migrate(conn, want_timescaledb)
    pool = ConnectionPool(dsn, min_size=pool_min, max_size=pool_max, open=True, timeout=30,
                          kwargs={"connect_timeout": 5})
    pool.wait(timeout=30)
    return Store(dsn=dsn, pool=pool, caps=caps)
