"""The queue of replay runs: asked for by the replay page, claimed and reported on by the web role.

A page only inserts a request and sends commands (pause, resume, cancel); the worker that claimed
the run (:mod:`ioc.app.replay_jobs`) reads the commands at each progress report and writes its
progress, its alerts and the back-test's difference (``result``, JSON) back.

A worker that holds a run beats its heartbeat (:func:`heartbeat`). A run whose heartbeat is older
than the configured limit was abandoned (its process was killed, its machine restarted): the next
claim takes it over and replays it again from the start in a fresh replay database, or, after
``max_attempts`` claims, closes it as failed with ``error_code = 'abandoned'``. A claim is the
worker's name and the run's attempt number together (:class:`Claim`): every write of a worker is
made under its claim, so a worker that lost its run (it stalled past the limit and another took
it over) writes nothing more and learns so (:class:`ClaimLost`). Two workers never run one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

COLUMNS = ("id, requested_by, requested_at, period_start, period_end, feeds, speed, rules, state, command, "
           "claimed_by, started_at, finished_at, total, events, reached, wall_s, result, error, "
           "heartbeat_at, attempts, replay_db, error_code")
ACTIVE = ("queued", "running", "paused")


class ClaimLost(Exception):
    """The run was taken over by another worker (this one stalled past the heartbeat limit)."""


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one run: its name and the attempt it claimed."""

    run_id: int
    worker: str
    attempt: int


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
    heartbeat_at: datetime | None = None
    attempts: int = 0
    replay_db: str | None = None
    error_code: str | None = None

    @property
    def claim(self) -> Claim:
        """The claim of the worker that holds the run now."""
        return Claim(self.id, self.claimed_by or "", self.attempts)

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


def claim_next(pool: Any, worker: str, stale_after_s: float = 60.0,
               max_attempts: int = 3) -> tuple[ReplayRequest | None, list[str]]:
    """Claim the oldest run to do: a queued one, or one abandoned by its worker (no heartbeat for
    ``stale_after_s``), which starts again from the start. An abandoned run that already had
    ``max_attempts`` claims is closed as failed instead (one its analyst had cancelled, as
    cancelled). Returns the run now marked running by
    ``worker`` (None when there is nothing to do) and the replay databases of the abandoned
    attempts, for the caller to drop."""
    stale = ("state IN ('running', 'paused') "
             "AND coalesce(heartbeat_at, started_at) < now() - make_interval(secs => %s)")
    returned = ", ".join("r." + c for c in COLUMNS.split(", "))
    with pool.connection() as conn:
        given_up = conn.execute(
            f"""UPDATE replay_runs r SET finished_at = now(), command = NULL, replay_db = NULL,
                       state = CASE WHEN r.command = 'cancel' THEN 'cancelled' ELSE 'failed' END,
                       error_code = CASE WHEN r.command = 'cancel' THEN NULL ELSE 'abandoned' END,
                       error = CASE WHEN r.command = 'cancel' THEN NULL
                                    ELSE 'its worker stopped ' || r.attempts || ' time(s) in the middle of it'
                               END
                FROM (SELECT id, replay_db FROM replay_runs
                      WHERE {stale} AND (attempts >= %s OR command = 'cancel')
                      FOR UPDATE SKIP LOCKED) old
                WHERE r.id = old.id RETURNING old.replay_db""", (stale_after_s, max_attempts)).fetchall()
        row = conn.execute(
            f"""UPDATE replay_runs r SET state = 'running', claimed_by = %s, started_at = now(),
                       heartbeat_at = now(), attempts = r.attempts + 1, replay_db = NULL,
                       events = 0, reached = NULL, wall_s = 0, total = NULL, result = NULL, error = NULL,
                       command = CASE WHEN r.state <> 'paused' THEN r.command
                                      WHEN r.command = 'resume' THEN NULL
                                      ELSE coalesce(r.command, 'pause') END
                FROM (SELECT id, replay_db FROM replay_runs WHERE state = 'queued' OR ({stale})
                      ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) old
                WHERE r.id = old.id RETURNING old.replay_db, {returned}""",
            (worker, stale_after_s)).fetchone()
    dropped = [name for (name,) in given_up if name]
    if row is None:
        return None, dropped
    if row[0]:
        dropped.append(row[0])
    return ReplayRequest(*row[1:]), dropped


def heartbeat(pool: Any, claim: Claim, replay_db: str | None = None) -> bool:
    """The worker holding ``claim`` is alive (and replays in ``replay_db``, when given); False when
    the run is no longer its own (taken over, or closed)."""
    with pool.connection() as conn:
        return conn.execute(
            "UPDATE replay_runs SET heartbeat_at = now(), replay_db = coalesce(%s, replay_db) "
            "WHERE id = %s AND claimed_by = %s AND attempts = %s AND state IN ('running', 'paused')",
            (replay_db, claim.run_id, claim.worker, claim.attempt)).rowcount > 0


def release_run(pool: Any, claim: Claim) -> bool:
    """Put a run back in the queue (its worker is stopping), as it was asked for: a paused one is
    held again at its next claim's first report. The claim is not counted as an attempt."""
    with pool.connection() as conn:
        return conn.execute(
            f"""UPDATE replay_runs SET state = 'queued', claimed_by = NULL, started_at = NULL,
                       heartbeat_at = NULL, attempts = attempts - 1, replay_db = NULL, events = 0,
                       reached = NULL, wall_s = 0, total = NULL, result = NULL,
                       command = CASE WHEN state <> 'paused' THEN command
                                      WHEN command = 'resume' THEN NULL
                                      ELSE coalesce(command, 'pause') END
                WHERE id = %s {_MINE}""", (claim.run_id, *_claim_args(claim))).rowcount > 0


def report_progress(pool: Any, run_id: int, *, events: int, reached: datetime | None, wall_s: float,
                    total: int | None = None, state: str | None = None,
                    result: dict[str, Any] | None = None, take_command: bool = True,
                    claim: Claim | None = None) -> str | None:
    """Write a running replay's progress (and its result so far); returns the command waiting for it
    and clears it (with ``take_command``: a caller that will not obey it now leaves it waiting).
    Under ``claim``, also a heartbeat, and :class:`ClaimLost` when the run is no longer the claim's."""
    with pool.connection() as conn:
        row = conn.execute(
            """UPDATE replay_runs r SET events = %s, reached = coalesce(%s, r.reached), wall_s = %s,
                   total = coalesce(%s, r.total), state = coalesce(%s, r.state),
                   command = CASE WHEN %s THEN NULL ELSE r.command END,
                   result = coalesce(%s, r.result),
                   heartbeat_at = CASE WHEN %s THEN now() ELSE r.heartbeat_at END
               FROM (SELECT id, command FROM replay_runs WHERE id = %s {mine} FOR UPDATE) old
               WHERE r.id = old.id RETURNING old.command""".format(mine=_MINE if claim else ""),
            (events, reached, wall_s, total, state, take_command,
             Jsonb(result) if result is not None else None, claim is not None, run_id,
             *_claim_args(claim))).fetchone()
    if row is None and claim is not None:
        raise ClaimLost(f"replay {run_id} is no longer held by {claim.worker} (attempt {claim.attempt})")
    return row[0] if row else None


def finish_run(pool: Any, run_id: int, state: str, result: dict[str, Any] | None = None,
               error: str | None = None, claim: Claim | None = None) -> bool:
    """Close a run: ``done`` (with its result), ``failed`` (with the reason) or ``cancelled``.
    Under ``claim``, only while the run is still the claim's; True if the run was closed."""
    with pool.connection() as conn:
        return conn.execute(
            "UPDATE replay_runs SET state = %s, result = %s, error = %s, finished_at = now(), "
            f"command = NULL, replay_db = NULL WHERE id = %s {_MINE if claim else ''}",
            (state, Jsonb(result) if result is not None else None, error, run_id,
             *_claim_args(claim))).rowcount > 0


_MINE = "AND claimed_by = %s AND attempts = %s AND state IN ('running', 'paused')"


def _claim_args(claim: Claim | None) -> tuple[Any, ...]:
    return () if claim is None else (claim.worker, claim.attempt)
