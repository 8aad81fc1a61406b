"""Versioned schema migrations, with TimescaleDB and plain-PostgreSQL variants.

Migrations are numbered per namespace: the core's own (``core``) and each registered feed's
(its name; :class:`~ioc.feeds.base.FeedSpec`), recorded as ``(namespace, version)``. The core
runs first, then the feeds in registry order, each after the namespaces it names in ``after``.
Each migration runs once, inside a transaction, under an advisory lock so several processes may
start at once. Where the two
capability levels differ (hypertables vs BRIN indexes, continuous
aggregates vs rollup tables) the migration asks :class:`Capabilities`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg

from ioc.feeds import FEEDS
from ioc.feeds.base import FeedSpec
from ioc.store.capabilities import Capabilities, enable
from ioc.store.health import apply_role_health
from ioc.store.schema_alerts import apply_alert_lifecycle
from ioc.store.schema_detector_state import apply_detector_state
from ioc.store.schema_login import apply_login_failures
from ioc.store.schema_replay import apply_replay_heartbeats, apply_replay_runs
from ioc.store.schema_reports import apply_reports
from ioc.store.screen_profiles import apply_screen_profiles
from ioc.store.tables import Migration

log = logging.getLogger(__name__)

LOCK_ID = 0x10C5C4E4A  # advisory lock held while migrating


def _time_bucket_fallback(conn: psycopg.Connection, caps: Capabilities) -> None:
    """A ``time_bucket(interval, timestamptz)`` with TimescaleDB's origin, where the extension is absent."""
    if caps.timescaledb:
        return
    conn.execute(
        """
        CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamptz)
        RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
        $$ SELECT date_bin(bucket_width, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00') $$
        """
    )


def _core(conn: psycopg.Connection, caps: Capabilities) -> None:
    _time_bucket_fallback(conn, caps)
    conn.execute(
        """
        CREATE TABLE stored_counts (
            kind        text PRIMARY KEY,
            n           bigint NOT NULL DEFAULT 0,
            last_write  timestamptz
        );
        CREATE TABLE dead_letters (
            id          bigserial PRIMARY KEY,
            received_at timestamptz NOT NULL DEFAULT now(),
            stage       text NOT NULL,
            source      text NOT NULL,
            key         text,
            reason      text NOT NULL,
            payload     bytea,
            topic       text,
            partition   integer,
            "offset"    bigint
        );
        CREATE UNIQUE INDEX dead_letters_bus_position
            ON dead_letters (topic, partition, "offset") WHERE topic IS NOT NULL;
        CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);
        CREATE TABLE alerts (
            id          bigserial PRIMARY KEY,
            fingerprint text NOT NULL,
            detector    text NOT NULL,
            rule        text NOT NULL,
            source_id   text NOT NULL,
            area        text,
            severity    text NOT NULL,
            title       text NOT NULL,
            state       text NOT NULL DEFAULT 'open',
            started_at  timestamptz NOT NULL,
            first_seen  timestamptz NOT NULL,
            last_seen   timestamptz NOT NULL,
            resolved_at timestamptz,
            count       integer NOT NULL DEFAULT 1,
            details     jsonb NOT NULL DEFAULT '{}'::jsonb,
            version     integer NOT NULL DEFAULT 1,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX alerts_active_fingerprint ON alerts (fingerprint) WHERE state <> 'resolved';
        CREATE INDEX alerts_recent ON alerts (last_seen DESC);
        CREATE TABLE alert_audit (
            id          bigserial PRIMARY KEY,
            alert_id    bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
            at          timestamptz NOT NULL DEFAULT now(),
            actor       text NOT NULL,
            action      text NOT NULL,
            from_state  text,
            to_state    text NOT NULL,
            note        text
        );
        CREATE INDEX alert_audit_alert ON alert_audit (alert_id, at);
        """
    )


def _alert_title_templates(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    """An alert's title as a catalogue message and its fields, beside the stored English title."""
    conn.execute(
        "ALTER TABLE alerts ADD COLUMN title_template text, "
        "ADD COLUMN title_params jsonb NOT NULL DEFAULT '{}'::jsonb"
    )


def _user_language(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    conn.execute("ALTER TABLE users ADD COLUMN language text CHECK (language IN ('vi', 'en'))")


def _alert_shift_indexes(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    """The console's shift figures select alerts opened, acknowledged or closed since the shift began
    (or still active): without these indexes that OR scanned every alert ever stored, 36 ms with a
    year of alerts (100,000) and growing; with them it is a bitmap OR of a few hundred rows."""
    conn.execute(
        """
        CREATE INDEX alerts_opened ON alerts (opened_at);
        CREATE INDEX alerts_acknowledged ON alerts (acknowledged_at) WHERE acknowledged_at IS NOT NULL;
        CREATE INDEX alerts_closed ON alerts (closed_at) WHERE closed_at IS NOT NULL;
        """
    )


def _dead_letters_by_reader(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    """A dead letter written by the role that read its origin record (``by_reader``) is kept beside a
    letter received on the dead-letter topic that claims the same position: a forged claim, come
    first, hid the real one. Rows stored before are claims: nothing vouches for them."""
    conn.execute(
        """
        ALTER TABLE dead_letters ADD COLUMN by_reader boolean NOT NULL DEFAULT false;
        DROP INDEX dead_letters_bus_position;
        CREATE UNIQUE INDEX dead_letters_bus_position
            ON dead_letters (topic, partition, "offset", by_reader) WHERE topic IS NOT NULL;
        """
    )


#: the core's own schema steps, in the ``core`` namespace (feeds number theirs in their own)
CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "counts, dead letters, alerts", _core),
    Migration(2, "alert lifecycle, people, silences, escalation, notifications", apply_alert_lifecycle),
    Migration(3, "health of running roles", apply_role_health),
    Migration(4, "detector state snapshots", apply_detector_state),
    Migration(5, "failed logins for throttling", apply_login_failures),
    Migration(6, "report archive", apply_reports),
    Migration(7, "alert titles rendered in the reader's language", _alert_title_templates),
    Migration(8, "a user's language for the pages", _user_language),
    Migration(9, "replay runs asked for from the replay page", apply_replay_runs),
    Migration(10, "screen profiles edited on the admin page", apply_screen_profiles),
    Migration(11, "replay runs: worker heartbeats, an abandoned run taken over", apply_replay_heartbeats),
    Migration(12, "alert shift figures by index, not a scan of every alert", _alert_shift_indexes),
    Migration(13, "dead letters: the reader's kept beside a claim of its position", _dead_letters_by_reader),
)

#: what each version of the single numbering used before namespaces became: ``(namespace, version)``
LEGACY_VERSIONS: dict[int, tuple[tuple[str, int], ...]] = {
    1: (("core", 1), ("environment", 1)),
    2: (("environment", 2),),
    3: (("core", 2),),
    4: (("cameras", 1),),
    5: (("core", 3),),
    6: (("vessels", 1),),
    7: (("core", 4),),
    8: (("core", 5),),
    9: (("cameras", 2),),
    10: (("core", 6),),
}


def plan(feeds: Sequence[FeedSpec] | None = None) -> list[tuple[str, Migration]]:
    """Every migration in the order it runs: the core's, then each feed's after what it names in
    ``after`` (``core`` or other feeds), feeds otherwise in registry order."""
    specs = list(FEEDS if feeds is None else feeds)
    names = {f.name for f in specs}
    for f in specs:
        unknown = [d for d in f.after if d != "core" and d not in names]
        if unknown:
            raise ValueError(f"feed {f.name!r} migrates after unknown namespaces {unknown}")
    ordered: list[FeedSpec] = []
    done = {"core"}
    while len(ordered) < len(specs):
        ready = [f for f in specs if f not in ordered and set(f.after) <= done]
        if not ready:
            raise ValueError("feeds' migration dependencies form a cycle: "
                             + ", ".join(f.name for f in specs if f not in ordered))
        ordered.append(ready[0])
        done.add(ready[0].name)
    steps = [("core", m) for m in CORE_MIGRATIONS]
    for f in ordered:
        versions = [m.version for m in f.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"feed {f.name!r}: migrations must be numbered 1, 2, 3... (got {versions})")
        steps += [(f.name, m) for m in f.migrations]
    return steps


def _ledger(conn: psycopg.Connection) -> None:
    """The table of applied migrations, keyed by (namespace, version); an older single-numbered
    table is converted with :data:`LEGACY_VERSIONS` (and kept as ``schema_migrations_legacy``)."""
    has = conn.execute(
        "SELECT array_agg(column_name::text) FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
    ).fetchone()
    columns = set(has[0] or []) if has else set()
    if columns and "namespace" not in columns:
        with conn.transaction():
            conn.execute("ALTER TABLE schema_migrations RENAME TO schema_migrations_legacy")
            conn.execute("ALTER TABLE schema_migrations_legacy RENAME CONSTRAINT schema_migrations_pkey "
                         "TO schema_migrations_legacy_pkey")
            _create_ledger(conn)
            rows = conn.execute(
                "SELECT version, description, capability, applied_at FROM schema_migrations_legacy"
            ).fetchall()
            for version, description, capability, applied_at in rows:
                for namespace, new in LEGACY_VERSIONS.get(version, ()):
                    conn.execute(
                        "INSERT INTO schema_migrations (namespace, version, description, capability, "
                        "applied_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (namespace, new, description, capability, applied_at))
            log.info("schema_migrations converted to namespaced versions (%d old rows)", len(rows))
    elif not columns:
        _create_ledger(conn)


def _create_ledger(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            namespace   text NOT NULL,
            version     integer NOT NULL,
            description text NOT NULL,
            capability  text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (namespace, version)
        )
        """
    )


def migrate(conn: psycopg.Connection, want_timescaledb: bool = True) -> Capabilities:
    """Bring the schema up to date; return the database's capabilities. Safe to run concurrently."""
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
    try:
        caps = enable(conn, want_timescaledb)
        _ledger(conn)
        done = set(conn.execute("SELECT namespace, version FROM schema_migrations").fetchall())
        for namespace, m in plan():
            if (namespace, m.version) in done:
                continue
            with conn.transaction():
                m.apply(conn, caps)
                conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, description, capability) "
                    "VALUES (%s, %s, %s, %s)",
                    (namespace, m.version, m.description, caps.label),
                )
            log.info("applied migration %s/%d: %s (%s)", namespace, m.version, m.description, caps.label)
        return caps
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
