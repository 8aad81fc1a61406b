"""Screens of a page share one read of its data: fifty screens polling the wall run one query a
second, not fifty; a failed read is not kept; a change made from a screen is read anew."""

from __future__ import annotations

import threading
import time

import pytest

from dashboards.shared_reads import SharedReads
from tests.waiting import wait_for


def test_concurrent_screens_share_one_read_and_the_next_after_max_age_reads_again() -> None:
    shared = SharedReads(max_age_s=60)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def read() -> list[int]:
        calls.append(1)
        started.set()
        release.wait()
        return [len(calls)]

    got: list[list[int]] = []
    first = threading.Thread(target=lambda: got.append(shared.get("tiles", read)))
    first.start()
    started.wait()
    others = [threading.Thread(target=lambda: got.append(shared.get("tiles", read))) for _ in range(20)]
    for th in others:
        th.start()
    release.set()
    for th in [first, *others]:
        th.join()
    assert len(calls) == 1 and got == [[1]] * 21  # the 20 waited for the first read, not read again
    assert shared.get(("charts", ("a", "b")), lambda: "other key") == "other key"
    assert shared.get("tiles", lambda: "fresh", fresh=True) == "fresh"  # after an action on a screen
    assert shared.get("tiles", read) == "fresh"  # ...and the others get that one
    expired = SharedReads(max_age_s=0.05, stale_s=0)  # no grace: past its age a result is read again
    first_value = expired.get("k", time.monotonic)
    while time.monotonic() - first_value < 0.05:  # wait for the age to pass, not a fixed sleep
        time.sleep(0.01)
    assert expired.get("k", time.monotonic) > first_value
    off = SharedReads(max_age_s=0)
    assert [off.get("k", lambda: len(calls)) for _ in range(2)] == [1, 1] and off.reads == 2


def test_a_failed_read_is_not_kept() -> None:
    shared = SharedReads(max_age_s=60)

    def broken() -> int:
        raise ConnectionError("store gone")

    with pytest.raises(ConnectionError):
        shared.get("tiles", broken)
    assert shared.get("tiles", lambda: 7) == 7


def test_past_its_age_a_result_is_served_while_one_background_read_makes_the_next() -> None:
    """A busy room's screens do not each wait for a read at every age: within the grace after it they
    get the kept result at once (its read time says how old) while one background read makes the
    next; past the grace a request reads itself, and a failing store is seen there."""
    shared = SharedReads(max_age_s=60, stale_s=60)
    release = threading.Event()
    reads: list[str] = []

    def slow() -> str:
        reads.append("slow")
        release.wait()
        return "new"

    assert shared.get("tiles", lambda: "old") == "old"
    began, value = shared._kept["tiles"]
    shared._kept["tiles"] = (began - 90, value)  # 90 s old: past its age, within the grace
    got = [shared.get("tiles", slow) for _ in range(5)]  # none waits for the slow read
    assert got == ["old"] * 5
    wait_for(lambda: reads == ["slow"], "the one background read")
    release.set()
    wait_for(lambda: shared.get("tiles", slow) == "new", "the background read's result")
    assert reads == ["slow"] and shared.reads == 2

    def broken() -> str:
        raise ConnectionError("store gone")

    began, value = shared._kept["tiles"]
    shared._kept["tiles"] = (began - 90, value)
    assert shared.get("tiles", broken) == "new"  # served, and a background read fails
    wait_for(lambda: not shared._refreshing, "the failed background read to end")
    assert shared._kept["tiles"][1] == "new"  # a failed read is not kept
    shared._kept["tiles"] = (began - 130, value)  # past the grace: the request reads and sees it
    with pytest.raises(ConnectionError):
        shared.get("tiles", broken)
