"""Screen profiles edited on the admin page: kept in the store, each with a version.

A stored profile replaces the ``[[screens]]`` profile of the same name (or adds one); deleting
it brings the configured one back. Every save raises the version, which running screens poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

SCHEMA = """
CREATE TABLE screen_profiles (
    name        text PRIMARY KEY,
    profile     jsonb NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
)
"""


def apply_screen_profiles(conn: psycopg.Connection, caps: object) -> None:  # noqa: ARG001
    """Migration: the table of edited screen profiles (the same at both capability levels)."""
    conn.execute(SCHEMA)


@dataclass(frozen=True)
class StoredProfile:
    """One edited profile as stored: its JSON document, version, when and by whom."""

    name: str
    profile: dict[str, Any]
    version: int
    updated_at: datetime
    updated_by: str


def stored_profiles(pool: ConnectionPool, timeout_s: float = 5.0) -> dict[str, StoredProfile]:
    """Every edited profile by name."""
    with pool.connection(timeout=timeout_s) as conn:
        rows = conn.execute(
            "SELECT name, profile, version, updated_at, updated_by FROM screen_profiles ORDER BY name"
        ).fetchall()
    return {r[0]: StoredProfile(*r) for r in rows}


def save_profile(pool: ConnectionPool, name: str, profile: dict[str, Any], who: str) -> int:
    """Store ``profile`` under ``name`` (validated by the caller); returns its new version."""
    with pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO screen_profiles (name, profile, updated_by) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET profile = excluded.profile, updated_by = excluded.updated_by, "
            "version = screen_profiles.version + 1, updated_at = now() RETURNING version",
            (name, Jsonb(profile), who),
        ).fetchone()
    assert row is not None
    return int(row[0])


def delete_profile(pool: ConnectionPool, name: str) -> bool:
    """Forget the edited profile ``name`` (the configured one, if any, applies again)."""
    with pool.connection() as conn:
        return conn.execute("DELETE FROM screen_profiles WHERE name = %s", (name,)).rowcount > 0
