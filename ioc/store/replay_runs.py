"""The queue of replay runs: asked for by the replay page, claimed and reported on by the web role.

A page only inserts a request and sends commands (pause, resume, cancel); the worker that claimed
the run (:mod:`ioc.app.replay_jobs`) reads the commands at each progress report and writes its
progress, its alerts and the back-test's difference (``result``, JSON) back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

COLUMNS = ("id, requested_by, requested_at, period_start, period_end, feeds, speed, rules, state, command, "
           "claimed_by, started_at, finished_at, total, events, reached, wall_s, result, error")
ACTIVE = ("queued", "running", "paused")


@dataclass(frozen=True)
class ReplayRequest:
    """One row of ``replay_runs``."""

    id: int
    requested_by: str
    requested_at: datetime
    period_start: datetime
    period_end: datetime
    feeds: list[str]
    speed: str
    rules: str | None
    state: str
    command: str | None
    claimed_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    total: int | None
    events: int
    reached: datetime | None
    wall_s: float
    result: dict[str, Any] | None
    error: str | None

    @property
    def fraction(self) -> float:
        """Share of the run done, 0..1 (by records when their number is known, else by event time)."""
        if self.state == "done":
            return 1.0
        if self.total:
            return min(1.0, self.events / self.total)
        if self.reached is not None:
            span = (self.period_end - self.period_start).total_seconds()
            return min(1.0, max(0.0, (self.reached - self.period_start).total_seconds() / span))
        return 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds of wall time left at the pace so far (None before there is a pace)."""
        f = self.fraction
        if self.state not in ("running", "paused") or f <= 0.0 or self.wall_s <= 0.0:
            return None
        return self.wall_s * (1.0 - f) / f


def request_run(pool: Any, requested_by: str, start: datetime, end: datetime, feeds: Sequence[str],
                speed: str, rules: str | None) -> int:
    """Queue a replay; returns its id."""
    with pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO replay_runs (requested_by, period_start, period_end, feeds, speed, rules) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (requested_by, start, end, list(feeds), speed, rules or None)).fetchone()
    assert row is not None
    return int(row[0])


def get_run(pool: Any, run_id: int) -> ReplayRequest | None:
    with pool.connection() as conn:
        row = conn.execute(f"SELECT {COLUMNS} FROM replay_runs WHERE id = %s", (run_id,)).fetchone()
    return ReplayRequest(*row) if row else None


def recent_runs(pool: Any, limit: int = 20) -> list[ReplayRequest]:
    with pool.connection() as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM replay_runs ORDER BY requested_at DESC, id DESC LIMIT %s",
                            (limit,)).fetchall()
    return [ReplayRequest(*r) for r in rows]


def send_command(pool: Any, run_id: int, command: str) -> bool:
    """Ask the worker of an active run to pause, resume or cancel it (a queued run is cancelled at once)."""
    if command not in ("pause", "resume", "cancel"):
        raise ValueError(f"unknown replay command {command!r}")
    with pool.connection() as conn:
        if command == "cancel":
            done = conn.execute("UPDATE replay_runs SET state = 'cancelled', finished_at = now() "
                                "WHERE id = %s AND state = 'queued'", (run_id,)).rowcount
            if done:
                return True
        return conn.execute("UPDATE replay_runs SET command = %s WHERE id = %s AND state = ANY(%s)",
                            (command, run_id, list(ACTIVE))).rowcount > 0


def claim_next(pool: Any, worker: str) -> ReplayRequest | None:
    """The oldest queued run, now marked running by ``worker`` (None when the queue is empty)."""
    with pool.connection() as conn:
        row = conn.execute(
            f"""UPDATE replay_runs SET state = 'running', claimed_by = %s, started_at = now()
                WHERE id = (SELECT id FROM replay_runs WHERE state = 'queued' ORDER BY requested_at, id
                            LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING {COLUMNS}""", (worker,)).fetchone()
    return ReplayRequest(*row) if row else None


def report_progress(pool: Any, run_id: int, *, events: int, reached: datetime | None, wall_s: float,
                    total: int | None = None, state: str | None = None,
                    result: dict[str, Any] | None = None, take_command: bool = True) -> str | None:
    """Write a running replay's progress (and its result so far); returns the command waiting for it
    and clears it (with ``take_command``: a caller that will not obey it now leaves it waiting)."""
    with pool.connection() as conn:
        row = conn.execute(
            """UPDATE replay_runs r SET events = %s, reached = coalesce(%s, r.reached), wall_s = %s,
                   total = coalesce(%s, r.total), state = coalesce(%s, r.state),
                   command = CASE WHEN %s THEN NULL ELSE r.command END,
                   result = coalesce(%s, r.result)
               FROM (SELECT id, command FROM replay_runs WHERE id = %s FOR UPDATE) old
               WHERE r.id = old.id RETURNING old.command""",
            (events, reached, wall_s, total, state, take_command,
             Jsonb(result) if result is not None else None, run_id)).fetchone()
    return row[0] if row else None


def finish_run(pool: Any, run_id: int, state: str, result: dict[str, Any] | None = None,
               error: str | None = None) -> None:
    """Close a run: ``done`` (with its result), ``failed`` (with the reason) or ``cancelled``."""
    with pool.connection() as conn:
        conn.execute("UPDATE replay_runs SET state = %s, result = %s, error = %s, finished_at = now(), "
                     "command = NULL WHERE id = %s",
                     (state, Jsonb(result) if result is not None else None, error, run_id))
