"""What the connected database can do: plain PostgreSQL, or TimescaleDB and which licence.

One code path, two capability levels: the schema and the jobs ask this
object, never the server version string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    """Features of the store's database."""

    timescaledb: bool = False
    version: str | None = None
    license: str | None = None

    @property
    def continuous_aggregates(self) -> bool:
        """Continuous aggregates and their policies need the community (``timescale``) licence."""
        return self.timescaledb and self.license == "timescale"

    @property
    def retention_policy(self) -> bool:
        return self.continuous_aggregates

    @property
    def label(self) -> str:
        if not self.timescaledb:
            return "postgresql"
        return f"timescaledb-{self.version} ({self.license})"


def enable(conn: psycopg.Connection, want_timescaledb: bool = True) -> Capabilities:
    """Create the timescaledb extension when it is preloaded and wanted; report what is there."""
    if want_timescaledb:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        if available and preload and "timescaledb" in (preload[0] or ""):
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return detect(conn)


def detect(conn: psycopg.Connection) -> Capabilities:
    """Read the capabilities of the database ``conn`` is connected to."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if not row:
        return Capabilities()
    lic = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return Capabilities(timescaledb=True, version=row[0], license=(lic[0] if lic else None) or "apache")
