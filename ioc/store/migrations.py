"""Versioned schema migrations, with TimescaleDB and plain-PostgreSQL variants.

Each migration has a version and runs once, inside a transaction, under an
advisory lock so several processes may start at once. Where the two
capability levels differ (hypertables vs BRIN indexes, continuous
aggregates vs rollup tables) the migration asks :class:`Capabilities`.
"""

from __future__ import annotations

import logging

import psycopg

from ioc.store.capabilities import Capabilities, enable
from ioc.store.health import apply_role_health
from ioc.store.schema_alerts import apply_alert_lifecycle
from ioc.store.schema_cameras import apply_camera_shake, apply_cameras
from ioc.store.schema_detector_state import apply_detector_state
from ioc.store.schema_login import apply_login_failures
from ioc.store.schema_reports import apply_reports
from ioc.store.schema_vessels import apply_vessels
from ioc.store.tables import Migration, hypertable_or_brin

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
        CREATE TABLE readings (
            time        timestamptz      NOT NULL,
            station_id  text             NOT NULL,
            metric      text             NOT NULL,
            value       double precision NOT NULL,
            unit        text             NOT NULL DEFAULT '',
            quality     text             NOT NULL DEFAULT 'good',
            PRIMARY KEY (station_id, metric, time)
        )
        """
    )
    hypertable_or_brin(conn, caps, "readings", "1 day")
    conn.execute(
        """
        CREATE TABLE latest_readings (
            station_id  text             NOT NULL,
            metric      text             NOT NULL,
            time        timestamptz      NOT NULL,
            value       double precision NOT NULL,
            unit        text             NOT NULL DEFAULT '',
            PRIMARY KEY (station_id, metric)
        );
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
        CREATE TABLE rollup_dirty (
            id          bigserial PRIMARY KEY,
            lo          timestamptz NOT NULL,
            hi          timestamptz NOT NULL
        );
        """
    )


ROLLUPS: dict[str, str] = {"readings_1m": "1 minute", "readings_1h": "1 hour"}


def _rollups(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Per-station rollups that pages read: continuous aggregates, or tables kept by a job."""
    for name, width in ROLLUPS.items():
        if caps.continuous_aggregates:
            conn.execute(
                f"""
                CREATE MATERIALIZED VIEW {name} WITH (timescaledb.continuous,
                    timescaledb.materialized_only = false) AS
                SELECT time_bucket('{width}', time) AS bucket, station_id, metric,
                       avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS n
                FROM readings GROUP BY 1, 2, 3 WITH NO DATA
                """
            )
            conn.execute(
                f"SELECT add_continuous_aggregate_policy('{name}', start_offset => interval '7 days', "
                f"end_offset => interval '{width}', schedule_interval => interval '{width}')"
            )
        else:
            conn.execute(
                f"""
                CREATE TABLE {name} (
                    bucket      timestamptz      NOT NULL,
                    station_id  text             NOT NULL,
                    metric      text             NOT NULL,
                    avg         double precision NOT NULL,
                    min         double precision NOT NULL,
                    max         double precision NOT NULL,
                    n           bigint           NOT NULL,
                    PRIMARY KEY (station_id, metric, bucket)
                )
                """
            )
            conn.execute(f"CREATE INDEX {name}_bucket ON {name} (bucket)")


MIGRATIONS: list[Migration] = [
    Migration(1, "readings, latest values, counts, dead letters, alerts", _core),
    Migration(2, "1-minute and 1-hour reading rollups", _rollups),
    Migration(3, "alert lifecycle, people, silences, escalation, notifications", apply_alert_lifecycle),
    Migration(5, "health of running roles", apply_role_health),
    Migration(6, "vessel positions, static reports and the register", apply_vessels),
    Migration(4, "camera detections, counts, key frames and health", apply_cameras),
    Migration(7, "detector state snapshots", apply_detector_state),
    Migration(8, "failed logins for throttling", apply_login_failures),
    Migration(9, "camera frame statistics keep the shake", apply_camera_shake),
    Migration(10, "report archive", apply_reports),
]


def migrate(conn: psycopg.Connection, want_timescaledb: bool = True) -> Capabilities:
    """Bring the schema up to date; return the database's capabilities. Safe to run concurrently."""
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
    try:
        caps = enable(conn, want_timescaledb)
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                description text NOT NULL,
                capability  text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        for m in sorted(MIGRATIONS, key=lambda m: m.version):
            if m.version in done:
                continue
            with conn.transaction():
                m.apply(conn, caps)
                conn.execute(
                    "INSERT INTO schema_migrations (version, description, capability) VALUES (%s, %s, %s)",
                    (m.version, m.description, caps.label),
                )
            log.info("applied migration %d: %s (%s)", m.version, m.description, caps.label)
        return caps
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
