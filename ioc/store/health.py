"""Health of the running roles: each process writes a heartbeat row per worker; pages read them.

A row says which role and instance, on which host and pid, when it last
beat, its consumer lag, when it last wrote, how many errors it had, and a
few role-specific counters. A role whose heartbeat is older than a few
intervals is shown as down.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ioc.health import FeedHealth

SCHEMA = """
CREATE TABLE role_health (
    role        text NOT NULL,
    instance    text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL,
    beat_at     timestamptz NOT NULL,
    lag         bigint NOT NULL DEFAULT 0,
    last_write  timestamptz,
    errors      bigint NOT NULL DEFAULT 0,
    waits       bigint NOT NULL DEFAULT 0,
    last_error  text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    stopped     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (role, instance)
)
"""


def apply_role_health(conn: psycopg.Connection, caps: object) -> None:
    """Migration: the role health table (the same at both capability levels)."""
    conn.execute(SCHEMA)


@dataclass(frozen=True)
class Beat:
    """One worker's state at one heartbeat."""

    role: str
    lag: int = 0
    last_write: datetime | None = None
    errors: int = 0
    waits: int = 0
    last_error: str | None = None
    details: dict[str, Any] | None = None

    @classmethod
    def of_feed(cls, role: str, health: FeedHealth) -> Beat:
        """An ingest worker's heartbeat: its typed record, whole, in ``details`` (read back with
        :meth:`FeedHealth.from_details`)."""
        return cls(role, last_write=health.last_data_time, errors=health.errors, last_error=health.last_error,
                   details=health.to_details())


def instance_id() -> str:
    """This process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def record_beats(pool: ConnectionPool, beats: Sequence[Beat], started_at: datetime,
                 stopped: bool = False) -> None:
    """Upsert one heartbeat row per worker of this process."""
    inst, host, pid = instance_id(), socket.gethostname(), os.getpid()
    with pool.connection() as conn, conn.transaction():
        conn.cursor().executemany(
            """
            INSERT INTO role_health AS h (role, instance, host, pid, started_at, beat_at, lag,
                                          last_write, errors, waits, last_error, details, stopped)
            VALUES (%s, %s, %s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (role, instance) DO UPDATE SET beat_at = now(), lag = excluded.lag,
                last_write = excluded.last_write, errors = excluded.errors, waits = excluded.waits,
                last_error = excluded.last_error, details = excluded.details, stopped = excluded.stopped
            """,
            [(b.role, inst, host, pid, started_at, b.lag, b.last_write, b.errors, b.waits, b.last_error,
              json.dumps(b.details or {}, default=str), stopped) for b in beats],
        )
