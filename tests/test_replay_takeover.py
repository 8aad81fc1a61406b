"""Abandoned replay runs are taken over: a worker killed with SIGKILL in the middle of a run, on a
real PostgreSQL, and another worker that replays the run again from the start in a fresh replay
database; a worker that stalls loses its run and writes nothing more; a run abandoned too often
fails with a reason the page says in Vietnamese and English; a worker told to stop puts its run
back in the queue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ioc.app.replay_jobs import ReplayJobs
from ioc.config import Settings
from ioc.store import replay_runs as runs
from ioc.store.database import Store
from tests.replay_worker import takeover_settings
from tests.test_replay import T0
from tests.test_replay_page import END, recorded  # noqa: F401  (the fixture: the stored fleet day)
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]


def database_exists(store: Store, name: str) -> bool:
    with store.pool.connection() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def page_texts(run: runs.ReplayRequest, lang: str) -> dict[str, str]:
    """What the replay page's progress line says, by element id."""
    from dashboards.replay.view import progress

    return {p.id: str(p.children) for p in progress(run, lang) if getattr(p, "id", None)}


def test_a_run_whose_worker_was_killed_is_replayed_from_the_start_by_another_worker(
        recorded: tuple[Store, Settings, int], tmp_path: Path) -> None:  # noqa: F811
    store, _, _ = recorded
    run_id = runs.request_run(store.pool, "ana", T0, END, ["vessels"], "max", None)
    assert runs.send_command(store.pool, run_id, "pause")  # held at its first report: killed mid-run
    log = (tmp_path / "worker.log").open("wb")
    child = subprocess.Popen([sys.executable, "-m", "tests.replay_worker", store.dsn, "doomed"],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        def holding() -> runs.ReplayRequest | None:
            assert child.poll() is None, (tmp_path / "worker.log").read_text()
            r = runs.get_run(store.pool, run_id)
            ok = r is not None and r.state == "paused" and r.claimed_by == "doomed" and r.replay_db
            return r if ok and r.events > 0 else None

        held = wait_for(holding,
                        "the worker in the other process to hold the run half-way, paused")
        assert held.attempts == 1 and database_exists(store, held.replay_db)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        orphan = runs.get_run(store.pool, run_id)
        assert orphan is not None and orphan.state == "paused" and orphan.claimed_by == "doomed"

        heir = ReplayJobs(store, takeover_settings(), worker="heir", poll_s=0.05, report_every_s=0.2)
        stop = threading.Event()
        working = threading.Thread(target=heir.run, args=(stop,))
        working.start()
        try:
            again = wait_for(lambda: (r := runs.get_run(store.pool, run_id)) and r.claimed_by == "heir"
                             and r.state == "paused" and r.replay_db and r,
                             "the other worker to take the abandoned run over (still paused, as it was left)")
            assert again.attempts == 2 and again.replay_db != held.replay_db
            assert not database_exists(store, held.replay_db)  # the abandoned attempt's database is gone
            assert heir.taken_over == 1
            assert page_texts(again, "en")["replay-restarted"] == (
                "Started again from the beginning: its replay worker stopped (attempt 2).")
            assert page_texts(again, "vi")["replay-restarted"] == (
                "Đã chạy lại từ đầu: trình chạy phát lại trước đã dừng (lần thử 2).")
            assert runs.send_command(store.pool, run_id, "resume")
            done = wait_for(lambda: (r := runs.get_run(store.pool, run_id)) and r.state == "done" and r,
                            "the resumed run to finish")
        finally:
            stop.set()
            working.join(timeout=120)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        log.close()
    assert done.attempts == 2 and done.claimed_by == "heir" and done.replay_db is None
    assert done.total and done.events == done.total and done.error is None
    assert done.result is not None and "ais_gap" in {a["rule"] for a in done.result["alerts"]}
    assert not database_exists(store, again.replay_db)


def test_a_stalled_worker_loses_its_run_and_a_run_abandoned_too_often_fails_with_its_reason(
        recorded: tuple[Store, Settings, int]) -> None:  # noqa: F811
    store, _, _ = recorded
    pool = store.pool
    run_id = runs.request_run(pool, "ana", T0, END, ["vessels"], "max", None)
    got: list[runs.ReplayRequest | None] = []
    racing = [threading.Thread(target=lambda i=i: got.append(runs.claim_next(pool, f"w{i}", 3600, 2)[0]))
              for i in range(6)]
    for thread in racing:
        thread.start()
    for thread in racing:
        thread.join()
    first = [r for r in got if r is not None]
    assert len(first) == 1 and first[0].id == run_id and first[0].attempts == 1  # one claim, not six
    stalled = first[0].claim
    assert runs.claim_next(pool, "b", 3600, 2) == (None, [])  # beating within the limit: nobody takes it

    second = wait_for(lambda: runs.claim_next(pool, "b", 0.5, 2)[0], "the silent run to be taken over")
    assert second.id == run_id and second.attempts == 2 and second.claimed_by == "b"
    assert not runs.heartbeat(pool, stalled)  # the stalled worker learns it lost the run...
    with pytest.raises(runs.ClaimLost):
        runs.report_progress(pool, run_id, events=5, reached=None, wall_s=1.0, claim=stalled)
    assert not runs.finish_run(pool, run_id, "done", result={"alerts": []}, claim=stalled)  # writes nothing
    mine = runs.get_run(pool, run_id)
    assert mine is not None
    assert (mine.state, mine.claimed_by, mine.events, mine.result) == ("running", "b", 0, None)
    assert runs.heartbeat(pool, second.claim)

    wait_for(lambda: runs.claim_next(pool, "c", 0.5, 2)[0] is None
             and (r := runs.get_run(pool, run_id)) is not None and r.state == "failed",
             "the run abandoned twice to be given up")
    failed = runs.get_run(pool, run_id)
    assert failed is not None and failed.error_code == "abandoned" and failed.attempts == 2
    assert failed.claimed_by == "b" and failed.finished_at is not None
    assert page_texts(failed, "en")["replay-abandoned"] == (
        "Given up: its replay worker stopped 2 times in the middle of it "
        "(the process ended or its machine restarted).")
    assert page_texts(failed, "vi")["replay-abandoned"] == (
        "Đã bỏ: trình chạy phát lại đã dừng giữa chừng 2 lần (tiến trình kết thúc hoặc máy khởi động lại).")

    later = runs.request_run(pool, "ana", T0, END, ["vessels"], "max", None)
    taken = runs.claim_next(pool, "x", 3600, 2)[0]
    assert taken is not None and taken.id == later
    assert runs.send_command(pool, later, "cancel")  # asked while its worker was dying: not replayed again
    wait_for(lambda: runs.claim_next(pool, "y", 0.5, 2)[0] is None
             and (r := runs.get_run(pool, later)) is not None and r.state == "cancelled",
             "the abandoned run its analyst cancelled to be closed as cancelled")


def test_a_worker_told_to_stop_puts_its_run_back_in_the_queue(
        recorded: tuple[Store, Settings, int]) -> None:  # noqa: F811
    store, _, _ = recorded
    run_id = runs.request_run(store.pool, "ana", T0, END, ["vessels"], "1", None)  # paced: still running
    jobs = ReplayJobs(store, takeover_settings(), worker="leaving", poll_s=0.05, report_every_s=0.2)
    stop = threading.Event()
    working = threading.Thread(target=jobs.run, args=(stop,))
    working.start()
    try:
        started = wait_for(lambda: (r := runs.get_run(store.pool, run_id)) and r.state == "running"
                           and r.events > 0 and r.replay_db and r, "the paced run under way")
    finally:
        stop.set()
        working.join(timeout=120)
    back = runs.get_run(store.pool, run_id)
    assert back is not None
    assert (back.state, back.claimed_by, back.attempts, back.events) == ("queued", None, 0, 0)
    assert not database_exists(store, started.replay_db)
    again = runs.claim_next(store.pool, "next", 3600, 3)[0]
    assert again is not None and again.id == run_id and again.attempts == 1  # a stop is no abandonment
