"""Replays asked for from the replay page, run by the web role in a thread of its own.

The page queues a run (:mod:`ioc.store.replay_runs`); :class:`ReplayJobs` claims it (several web
workers share the queue without taking the same run), replays the store's facts of its period and
feeds in a replay database of its own (:func:`~ioc.app.replay.replay_database`, dropped after), and
writes its progress, the alerts so far and, for a back-test, the difference per rule back to the
run's row. Live alerts, notifications and escalations are never touched. A ``pause`` command holds
the replay at its next progress report (pacing resumes where it was), ``cancel`` ends it.

While it holds a run, a thread of the worker beats the run's heartbeat every
``[web] replay_heartbeat_s``. A run whose worker died (killed, its machine restarted) stops
beating; once its heartbeat is older than ``[web] replay_abandoned_after_s`` the next claim takes
it over and replays it again from the start in a fresh replay database (the abandoned one is
dropped): an analyst who queued a replay gets its result after a restart without asking again.
A run that keeps killing its worker is not retried forever: after ``[web] replay_max_attempts``
claims it fails, and the page says that its worker stopped in the middle of it. A worker told to
stop (its role shuts down) puts its run back in the queue instead. Every write is
made under the worker's claim (:class:`~ioc.store.replay_runs.Claim`): a worker that stalled past
the limit and lost its run to another stops and writes nothing more, so two workers never run one
run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg

from ioc.app.replay import (
    SPEEDS,
    ReplayRun,
    alert_json,
    compare,
    diff_json,
    drop_replay_database,
    replay_database,
    replayed_alerts,
    run_replay,
)
from ioc.bus.loop import TRANSIENT_ERRORS
from ioc.config import ConfigError, Settings
from ioc.recording import count_in_store, records_from_store
from ioc.rules_overlay import rules_from_text
from ioc.store import replay_runs as q
from ioc.store.database import Store
from ioc.store.health import Beat

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The analyst cancelled the run."""


class Released(Exception):
    """The worker is stopping (its role shuts down): the run goes back to the queue."""


class ReplayJobs:
    """Claims queued replay runs and runs them one at a time, until stopped."""

    def __init__(self, store: Store, settings: Settings, worker: str, poll_s: float = 1.0,
                 report_every_s: float = 1.0) -> None:
        self.store, self.settings, self.worker = store, settings, worker
        self.poll_s, self.report_every_s = poll_s, report_every_s
        self.heartbeat_s = settings.web.replay_heartbeat_s
        self.abandoned_after_s = settings.web.replay_abandoned_after_s
        self.max_attempts = settings.web.replay_max_attempts
        self.taken_over = 0  # abandoned runs this worker claimed and replayed again
        self.lost = 0  # runs another worker took over from this one (it had stalled past the limit)
        self.runs_done = 0
        self._cancel_asked = threading.Event()  # the run in hand was cancelled by its analyst
        self.errors = 0
        self.last_error: str | None = None
        self.current: int | None = None

    def beat(self) -> Beat:
        return Beat("replay", errors=self.errors, last_error=self.last_error,
                    details={"runs_done": self.runs_done, "current": self.current,
                             "taken_over": self.taken_over, "lost": self.lost})

    def run(self, stop: threading.Event) -> None:
        """Claim and run queued replays until ``stop`` is set."""
        while not stop.is_set():
            try:
                if not self.run_once(stop):
                    stop.wait(self.poll_s)
            except TRANSIENT_ERRORS as exc:  # the store is away: try again later
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("replay jobs: %s", exc)
                stop.wait(self.poll_s * 5)

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Run the oldest queued (or abandoned) replay, if there is one; True if one ran."""
        pool = self.store.pool
        request, abandoned = q.claim_next(pool, self.worker, self.abandoned_after_s, self.max_attempts)
        for name in abandoned:
            self._drop(name)
        if request is None:
            return False
        claim = request.claim
        if request.attempts > 1:
            self.taken_over += 1
            log.warning("replay %d was abandoned by its worker; replaying it again from the start "
                        "(attempt %d of %d)", request.id, request.attempts, self.max_attempts)
        self.current = request.id
        self._cancel_asked.clear()
        halt, lost, done = threading.Event(), threading.Event(), threading.Event()
        beating = threading.Thread(target=self._beat, args=(claim, done, lost, halt), daemon=True,
                                   name=f"replay-{request.id}-heartbeat")
        beating.start()
        try:
            self._execute(request, claim, stop or threading.Event(), halt, lost)
            self.runs_done += 1
        except q.ClaimLost as exc:  # another worker holds the run now: write nothing more
            self.lost += 1
            log.warning("replay %d: %s; left to its new worker", request.id, exc)
        except Cancelled:
            q.finish_run(pool, request.id, "cancelled", claim=claim)
        except Released:  # a graceful stop is no abandonment: the next worker starts it afresh
            q.release_run(pool, claim)
            log.info("replay %d goes back to the queue: this worker stops", request.id)
        except ConfigError as exc:
            q.finish_run(pool, request.id, "failed", error=str(exc), claim=claim)
        except Exception as exc:  # a failed replay is reported on its row, and the worker goes on
            if lost.is_set():  # its replay database was dropped by the worker that took it over
                self.lost += 1
                log.warning("replay %d was taken over by another worker", request.id)
            else:
                log.exception("replay %d failed", request.id)
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                q.finish_run(pool, request.id, "failed", error=self.last_error, claim=claim)
        finally:
            done.set()
            beating.join()
            self.current = None
        return True

    def _beat(self, claim: q.Claim, done: threading.Event, lost: threading.Event,
              halt: threading.Event) -> None:
        """Beat the run's heartbeat until ``done``; a run taken over by another worker halts the replay."""
        while not done.wait(self.heartbeat_s):
            try:
                if not q.heartbeat(self.store.pool, claim) and not done.is_set():
                    lost.set()
                    halt.set()
                    return
            except TRANSIENT_ERRORS as exc:  # the store is away: the next beat tries again
                log.warning("replay %d: heartbeat not written (%s)", claim.run_id, exc)

    def _drop(self, name: str) -> None:
        """Drop the replay database of an abandoned attempt."""
        try:
            drop_replay_database(self.store.dsn, name)
            log.info("dropped %s, the replay database of an abandoned replay", name)
        except (psycopg.Error, ValueError) as exc:
            log.warning("the replay database %s of an abandoned replay was not dropped: %s", name, exc)

    def _execute(self, request: q.ReplayRequest, claim: q.Claim, stop: threading.Event,
                 halt: threading.Event, lost: threading.Event) -> None:
        pool = self.store.pool
        changed = (rules_from_text(self.settings, request.rules, "the edited rules")
                   if request.rules else None)
        feeds = list(request.feeds) or None
        one = count_in_store(pool, request.period_start, request.period_end, feeds)
        total = one * (2 if changed is not None else 1)  # a back-test replays the period twice
        q.report_progress(pool, request.id, events=0, reached=None, wall_s=0.0, total=total,
                          take_command=False, claim=claim)
        done_before = [0, 0.0]  # records and wall seconds of the first replay, for the second's reports

        def held_in(name: str) -> None:  # the replay database is named on the run, for a takeover to drop
            if not q.heartbeat(pool, claim, replay_db=name):
                raise q.ClaimLost(f"replay {request.id} was taken over before its replay started")

        def replay(settings: Settings, speed: float | None) -> ReplayRun:
            with replay_database(self.store.dsn, want_timescaledb=self.store.caps.timescaledb,
                                 created=held_in) as db:
                def progress(run: ReplayRun) -> float:
                    alerts = [alert_json(a) for a in replayed_alerts(db.pool)] if not done_before[0] else None
                    return self._report(claim, run, done_before, alerts, stop, halt)

                records = (r for _, r in records_from_store(pool, request.period_start, request.period_end,
                                                            feeds))
                run = run_replay(records, settings, db.pool, speed=speed, progress=progress, stop=halt,
                                 report_every_s=self.report_every_s)
            if lost.is_set():
                raise q.ClaimLost(f"replay {request.id} was taken over by another worker")
            if halt.is_set():
                raise Released if stop.is_set() and not self._cancel_asked.is_set() else Cancelled
            return run

        baseline = replay(self.settings, SPEEDS[request.speed])
        result: dict[str, Any] = {"events": baseline.events, "signals": baseline.signals,
                                  "alerts": [alert_json(a) for a in baseline.alerts]}
        if changed is not None:
            done_before[:] = [baseline.events, baseline.wall_s]
            q.report_progress(pool, request.id, events=baseline.events, reached=baseline.last_time,
                              wall_s=baseline.wall_s, result=result, take_command=False, claim=claim)
            tuned = replay(changed, None)  # the back-test's second pass runs as fast as it can
            result["backtest"] = diff_json(compare(baseline.alerts, tuned.alerts))
            result["backtest_alerts"] = [alert_json(a) for a in tuned.alerts]
        q.report_progress(pool, request.id, events=total, reached=request.period_end,
                          wall_s=done_before[1] + (baseline.wall_s if changed is None else tuned.wall_s),
                          result=result, take_command=False, claim=claim)
        if not q.finish_run(pool, request.id, "done", result=result, claim=claim):
            raise q.ClaimLost(f"replay {request.id} was taken over by another worker")

    def _report(self, claim: q.Claim, run: ReplayRun, before: list[Any], alerts: list[dict[str, Any]] | None,
                stop: threading.Event, halt: threading.Event) -> float:
        """Write progress; obey a pause (returns the seconds held) or a cancel. Raises
        :class:`~ioc.store.replay_runs.ClaimLost` when another worker took the run over."""
        pool, run_id = self.store.pool, claim.run_id
        reached = run.last_time if not before[0] else None
        so_far = {"alerts": alerts, "partial": True} if alerts is not None else None
        command = q.report_progress(pool, run_id, events=before[0] + run.events, reached=reached,
                                    wall_s=before[1] + run.wall_s, result=so_far, claim=claim)
        held_from = time.monotonic()
        while command == "pause" or (command is None and self._paused(run_id)):
            if command == "pause":
                q.report_progress(pool, run_id, events=before[0] + run.events, reached=reached,
                                  wall_s=before[1] + run.wall_s, state="paused", claim=claim)
            if stop.wait(self.report_every_s):
                break
            command = q.report_progress(pool, run_id, events=before[0] + run.events, reached=reached,
                                        wall_s=before[1] + run.wall_s, claim=claim)
        if command == "resume":
            q.report_progress(pool, run_id, events=before[0] + run.events, reached=reached,
                              wall_s=before[1] + run.wall_s, state="running", claim=claim)
        if command == "cancel":
            self._cancel_asked.set()
        if command == "cancel" or stop.is_set():
            halt.set()
        return time.monotonic() - held_from

    def _paused(self, run_id: int) -> bool:
        request = q.get_run(self.store.pool, run_id)
        return request is not None and request.state == "paused"
