"""Schema of replay runs asked for from the replay page: the request, its progress and its result.

A run is a row: who asked, the period, feeds, speed and (for a back-test) the edited rules; a worker
of the web role claims it (``FOR UPDATE SKIP LOCKED``, so several web workers share the queue),
replays it in a database of its own and writes its progress and, at the end, its alerts and the
back-test's difference here as JSON. The live ``alerts`` table is never written by a replay.
"""

from __future__ import annotations

import psycopg

from ioc.store.capabilities import Capabilities


def apply_replay_runs(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    """Create the table of replay runs (the same SQL at both capability levels)."""
    conn.execute(
        """
        CREATE TABLE replay_runs (
            id           bigserial PRIMARY KEY,
            requested_by text        NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now(),
            period_start timestamptz NOT NULL,
            period_end   timestamptz NOT NULL,
            feeds        text[]      NOT NULL,
            speed        text        NOT NULL CHECK (speed IN ('1', '10', '60', 'max')),
            rules        text,
            state        text        NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
            command      text        CHECK (command IN ('pause', 'resume', 'cancel')),
            claimed_by   text,
            started_at   timestamptz,
            finished_at  timestamptz,
            total        bigint,
            events       bigint      NOT NULL DEFAULT 0,
            reached      timestamptz,
            wall_s       double precision NOT NULL DEFAULT 0,
            result       jsonb,
            error        text,
            CHECK (period_end > period_start)
        );
        CREATE INDEX replay_runs_queue ON replay_runs (requested_at) WHERE state = 'queued';
        CREATE INDEX replay_runs_recent ON replay_runs (requested_at DESC);
        """
    )
