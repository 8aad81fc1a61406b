"""The security feed's tables: every event, and a 1-minute rollup by category and source address.

``security_events``: one row per event, natural key ``(host, time, digest)`` where ``digest`` is
a hash of the raw line (a redelivered event is stored once); a hypertable on TimescaleDB, a BRIN
index elsewhere. ``security_events_1m``: per minute, category and source address, the events and
failures (not :data:`NOT_FAILURES`: sshd's PAM check, a key refused before the one taken); the
writer recomputes, in the same transaction, every minute its batch touched from the stored rows
(exact under duplicates and batches out of order, the same SQL at both levels).
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg

from ioc.feeds.security.records import SecurityEvent
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin

RAW_SECURITY_TABLES = ("security_events",)
# sshd's PAM check of a password is the same try as sshd's own "Failed password": one failure, not two;
# a key offered and refused is how a client with several keys finds the one that works: no failure
NOT_FAILURES = ("pam_check", "key_refused")
_NOT_FAILURES = ", ".join(f"'{action}'" for action in NOT_FAILURES)
_FAILURE = f"e.outcome = 'failure' AND e.action NOT IN ({_NOT_FAILURES})"
# a row's minute, category and source in the rollup
_ROLLUP_KEY = ("date_trunc('minute', e.time), coalesce(nullif(e.category, ''), e.action), "
               "coalesce(e.src_ip, '')")


def apply_security(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 1: the events and their per-minute rollup."""
    conn.execute(
        """
        CREATE TABLE security_events (
            time        timestamptz NOT NULL,
            host        text        NOT NULL,
            digest      text        NOT NULL,
            log         text        NOT NULL,
            action      text        NOT NULL,
            outcome     text        NOT NULL,
            src_ip      text,
            src_port    integer,
            dest_ip     text,
            dest_port   integer,
            proto       text,
            username    text,
            process     text,
            signature   text,
            signature_id bigint,
            severity    smallint    NOT NULL,
            category    text        NOT NULL DEFAULT '',
            status      smallint,
            url         text,
            user_agent  text,
            raw         text        NOT NULL DEFAULT '',
            simulated   boolean     NOT NULL DEFAULT false,
            PRIMARY KEY (host, time, digest)
        );
        CREATE INDEX security_events_src ON security_events (src_ip, time DESC);
        CREATE TABLE security_events_1m (
            bucket      timestamptz NOT NULL,
            category    text        NOT NULL,
            src_ip      text        NOT NULL,
            events      bigint      NOT NULL,
            failures    bigint      NOT NULL,
            PRIMARY KEY (bucket, category, src_ip)
        );
        """
    )
    hypertable_or_brin(conn, caps, "security_events", "1 day")


def apply_security_vhost(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 2: the virtual host (web site) of a web server's request, from its access log."""
    conn.execute("ALTER TABLE security_events ADD COLUMN vhost text")


def apply_security_pam_checks(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 3: the minutes that counted PAM checks or refused keys as failures count them again
    without."""
    conn.execute(
        f"""
        UPDATE security_events_1m r SET failures = f.failures
        FROM (SELECT {_ROLLUP_KEY}, count(*) FILTER (WHERE {_FAILURE})
              FROM security_events e
              WHERE date_trunc('minute', e.time) IN (SELECT DISTINCT date_trunc('minute', time)
                                                     FROM security_events
                                                     WHERE action IN ({_NOT_FAILURES}))
              GROUP BY 1, 2, 3) f (bucket, category, src_ip, failures)
        WHERE (r.bucket, r.category, r.src_ip) = (f.bucket, f.category, f.src_ip) AND r.failures <> f.failures
        """
    )


def digest(event: Any) -> str:
    """What tells two events of one host at one time apart: the raw line (or the whole record)."""
    basis = event.raw or event.model_dump_json(exclude={"raw"})
    return hashlib.blake2b(basis.encode(), digest_size=12).hexdigest()


_TOUCHED = "(SELECT DISTINCT date_trunc('minute', time) AS bucket FROM stage_security_events)"
_ROLLUP = (  # two statements: a data-modifying CTE would not let the insert see the delete
    f"DELETE FROM security_events_1m r USING {_TOUCHED} t WHERE r.bucket = t.bucket",
    f"""
INSERT INTO security_events_1m (bucket, category, src_ip, events, failures)
SELECT {_ROLLUP_KEY}, count(*), count(*) FILTER (WHERE {_FAILURE})
FROM security_events e JOIN {_TOUCHED} t ON e.time >= t.bucket AND e.time < t.bucket + interval '1 minute'
GROUP BY 1, 2, 3
""",
)

SECURITY_EVENTS = TableSpec(
    kind="security.event",
    table="security_events",
    columns=(
        ("time", "timestamptz"), ("host", "text"), ("digest", "text"), ("log", "text"),
        ("action", "text"), ("outcome", "text"), ("src_ip", "text"), ("src_port", "int4"),
        ("dest_ip", "text"), ("dest_port", "int4"), ("proto", "text"), ("username", "text"),
        ("process", "text"), ("signature", "text"), ("signature_id", "int8"), ("severity", "int2"),
        ("category", "text"), ("status", "int2"), ("url", "text"), ("user_agent", "text"), ("raw", "text"),
        ("simulated", "bool"), ("vhost", "text"),
    ),
    key=("host", "time", "digest"),
    to_row=lambda e: (e.time, e.source_id, digest(e), e.log, e.action, e.outcome, e.src_ip, e.src_port,
                      e.dest_ip, e.dest_port, e.proto, e.user, e.process, e.signature, e.signature_id,
                      e.severity, e.category, e.status, e.url, e.user_agent, e.raw, e.simulated, e.vhost),
    from_row=lambda r: SecurityEvent(
        time=r["time"], source_id=r["host"], log=r["log"], action=r["action"], outcome=r["outcome"],
        src_ip=r["src_ip"], src_port=r["src_port"], dest_ip=r["dest_ip"], dest_port=r["dest_port"],
        proto=r["proto"], user=r["username"], process=r["process"], signature=r["signature"],
        signature_id=r["signature_id"], severity=r["severity"], category=r["category"], status=r["status"],
        url=r["url"], user_agent=r["user_agent"], raw=r["raw"], simulated=r["simulated"], vhost=r["vhost"]),
    after_insert=_ROLLUP,
)
