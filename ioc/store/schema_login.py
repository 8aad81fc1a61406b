"""Failed logins kept for throttling: one row per (client address, name tried).

Migration 8. Read and written by :mod:`alerts.throttle`; rows older than the
throttle's forget window are ignored and pruned. Names are kept as typed (cut
to 64 characters), unknown ones too, so throttling tells nothing about which
names exist. The same table at both capability levels.
"""

from __future__ import annotations

import psycopg

SCHEMA = """
CREATE TABLE login_failures (
    remote_addr      text        NOT NULL,
    username         text        NOT NULL,
    failures         integer     NOT NULL,
    last_failure_at  timestamptz NOT NULL,
    PRIMARY KEY (remote_addr, username)
);
CREATE INDEX login_failures_user ON login_failures (username, last_failure_at);
CREATE INDEX login_failures_time ON login_failures (last_failure_at);
CREATE INDEX user_sessions_addr ON user_sessions (username, remote_addr, created_at);
"""


def apply_login_failures(conn: psycopg.Connection, caps: object) -> None:
    """Migration: the failed-login table."""
    conn.execute(SCHEMA)
