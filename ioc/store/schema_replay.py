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


def apply_replay_heartbeats(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    """Let an abandoned run be found and taken over (core migration 11).

    ``heartbeat_at``: the last time the worker holding the run said it was alive; ``attempts``:
    how many claims the run has had (a claim is ``claimed_by`` and ``attempts`` together, so a
    worker that lost its run can no longer write to it); ``replay_db``: the replay database of the
    attempt in progress (dropped when an abandoned attempt is taken over); ``error_code``: why a run
    failed, for the page to say in the reader's language (``abandoned``: its worker stopped too
    many times).
    """
    conn.execute(
        """
        ALTER TABLE replay_runs
            ADD COLUMN heartbeat_at timestamptz,
            ADD COLUMN attempts     integer NOT NULL DEFAULT 0,
            ADD COLUMN replay_db    text,
            ADD COLUMN error_code   text CHECK (error_code IN ('abandoned'));
        UPDATE replay_runs SET heartbeat_at = started_at, attempts = 1 WHERE started_at IS NOT NULL;
        CREATE INDEX replay_runs_held ON replay_runs (heartbeat_at) WHERE state IN ('running', 'paused');
        """
    )
