"""Security tables: raw events (hypertable or BRIN) and a 1-minute rollup by category and source.

``security_events`` has one row per event, natural key ``(host, time, fingerprint)`` where the
fingerprint is an MD5 of the raw line (or of the record when no raw line), so a redelivered
record is stored once. ``security_counts_1m`` counts events per minute, category and source
address (``''`` when none); the writer's ``after_insert`` recomputes every touched bucket from
the stored rows, exact under duplicates and out-of-order batches, the same SQL on plain
PostgreSQL (with the core's ``time_bucket`` fallback) and TimescaleDB.
"""

from __future__ import annotations

import hashlib

import psycopg

from ioc.feeds.security.records import SecurityEvent
from ioc.store.capabilities import Capabilities
from ioc.store.tables import Migration, TableSpec, hypertable_or_brin

RAW_SECURITY_TABLES = ("security_events",)


def apply_security(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 1: the raw events table and its per-minute rollup."""
    conn.execute(
        """
        CREATE TABLE security_events (
            time         timestamptz NOT NULL,
            host         text        NOT NULL,
            fingerprint  text        NOT NULL,
            category     text        NOT NULL,
            src_ip       text,
            src_port     integer,
            dest_ip      text,
            dest_port    integer,
            proto        text,
            username     text,
            process      text,
            action       text        NOT NULL,
            outcome      text        NOT NULL,
            signature    text        NOT NULL,
            rule_id      text,
            severity     smallint    NOT NULL,
            status       smallint,
            path         text,
            raw          text        NOT NULL,
            simulated    boolean     NOT NULL,
            PRIMARY KEY (host, time, fingerprint)
        )
        """
    )
    hypertable_or_brin(conn, caps, "security_events", "1 day")
    conn.execute(
        """
        CREATE INDEX security_events_src ON security_events (src_ip, time);
        CREATE TABLE security_counts_1m (
            bucket    timestamptz NOT NULL,
            category  text        NOT NULL,
            src_ip    text        NOT NULL,
            events    integer     NOT NULL,
            failures  integer     NOT NULL,
            max_severity smallint NOT NULL,
            PRIMARY KEY (category, src_ip, bucket)
        );
        CREATE INDEX security_counts_1m_bucket ON security_counts_1m (bucket)
        """
    )


def fingerprint(event: SecurityEvent) -> str:
    """What tells two events of one host at one instant apart: a digest of the raw line."""
    basis = event.raw or event.model_dump_json(exclude={"time", "source_id"})
    return hashlib.md5(basis.encode("utf-8", "backslashreplace"), usedforsecurity=False).hexdigest()


_COUNTS_REFRESH = """
WITH touched AS (
    SELECT DISTINCT category, coalesce(src_ip, '') AS src_ip, time_bucket('1 minute', time) AS bucket
    FROM stage_security_events
)
INSERT INTO security_counts_1m AS c (bucket, category, src_ip, events, failures, max_severity)
SELECT t.bucket, t.category, t.src_ip, count(*),
       count(*) FILTER (WHERE e.outcome = 'failure'), min(e.severity)
FROM touched t JOIN security_events e
  ON e.category = t.category AND coalesce(e.src_ip, '') = t.src_ip
 AND e.time >= t.bucket AND e.time < t.bucket + interval '1 minute'
GROUP BY t.bucket, t.category, t.src_ip
ON CONFLICT (category, src_ip, bucket) DO UPDATE
    SET events = excluded.events, failures = excluded.failures, max_severity = excluded.max_severity
"""

SECURITY_EVENTS = TableSpec(
    kind="security.event",
    table="security_events",
    columns=(
        ("time", "timestamptz"),
        ("host", "text"),
        ("fingerprint", "text"),
        ("category", "text"),
        ("src_ip", "text"),
        ("src_port", "int4"),
        ("dest_ip", "text"),
        ("dest_port", "int4"),
        ("proto", "text"),
        ("username", "text"),
        ("process", "text"),
        ("action", "text"),
        ("outcome", "text"),
        ("signature", "text"),
        ("rule_id", "text"),
        ("severity", "int2"),
        ("status", "int2"),
        ("path", "text"),
        ("raw", "text"),
        ("simulated", "bool"),
    ),
    key=("host", "time", "fingerprint"),
    to_row=lambda e: (
        e.time, e.source_id, fingerprint(e), e.category, e.src_ip, e.src_port, e.dest_ip, e.dest_port,
        e.proto, e.user, e.process, e.action, e.outcome, e.signature, e.rule_id, e.severity, e.status,
        e.path, e.raw, e.simulated,
    ),
    after_insert=(_COUNTS_REFRESH,),
)

MIGRATIONS = (Migration(1, "security events and per-minute counts by category and source", apply_security),)
