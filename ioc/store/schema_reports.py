"""Schema of the report archive: one row per report made (kind, period, language), HTML and PDF kept.

The unique index on (kind, period_start, lang) for scheduled reports is what lets two schedulers
run: the first to insert the row makes the report, the other sees the conflict and does nothing.
"""

from __future__ import annotations

import psycopg

from ioc.store.capabilities import Capabilities


def apply_reports(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Create the report archive (the same SQL at both capability levels)."""
    conn.execute(
        """
        CREATE TABLE reports (
            id           bigserial PRIMARY KEY,
            kind         text NOT NULL CHECK (kind IN ('shift', 'daily', 'weekly', 'incident')),
            period_start timestamptz NOT NULL,
            period_end   timestamptz NOT NULL,
            lang         text NOT NULL,
            incident_id  bigint,
            state        text NOT NULL DEFAULT 'claimed' CHECK (state IN ('claimed', 'done', 'failed')),
            claimed_by   text NOT NULL,
            claimed_at   timestamptz NOT NULL DEFAULT now(),
            finished_at  timestamptz,
            subject      text NOT NULL DEFAULT '',
            html         text,
            pdf          bytea,
            error        text,
            CHECK (period_end > period_start)
        );
        CREATE UNIQUE INDEX reports_one_per_period ON reports (kind, period_start, lang)
            WHERE incident_id IS NULL;
        CREATE INDEX reports_recent ON reports (period_end DESC);
        """
    )
