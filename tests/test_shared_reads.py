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


def test_a_result_not_worth_serving_stale_is_read_again_in_the_request() -> None:
    """The sea map's tracks, warmed as the page was mounted, were an empty set made before the store
    held the fleet; served stale while the next was read, a screen opened just after start-up showed
    no tracks for a whole track tick. A result its page says is not worth serving stale is read
    again in the request past its age; within its age it is still shared."""
    shared = SharedReads(max_age_s=60, stale_s=60)
    worth = len  # an empty list is not worth serving stale
    assert shared.get("tracks", list, worth_serving_stale=worth) == []
    assert shared.get("tracks", lambda: [1], worth_serving_stale=worth) == []  # within its age: kept
    began, value = shared._kept["tracks"]
    shared._kept["tracks"] = (began - 90, value)  # past its age, within the grace
    assert shared.get("tracks", lambda: [1, 2], worth_serving_stale=worth) == [1, 2]  # read, not stale
    began, value = shared._kept["tracks"]
    shared._kept["tracks"] = (began - 90, value)
    release = threading.Event()

    def slow() -> list[int]:
        release.wait()
        return [3]

    assert shared.get("tracks", slow, worth_serving_stale=worth) == [1, 2]  # worth it: served stale
    release.set()
    wait_for(lambda: shared.get("tracks", slow) == [3], "the background read's result")


def test_a_key_too_large_to_keep_is_read_for_its_request_alone() -> None:
    """A console filter of 400,000 areas became a key the page kept (38 MB a request, never freed):
    a key over MAX_KEY_CHARS is read each time and never kept, and sizing it stops early."""
    from dashboards.shared_reads import MAX_KEY_CHARS, key_size

    shared = SharedReads(max_age_s=60)
    huge = ("grid", tuple(f"area-{n}" for n in range(400_000)), "24h")
    assert key_size(huge) > MAX_KEY_CHARS and key_size(huge) < 2 * MAX_KEY_CHARS  # stopped past the limit
    assert key_size(("grid", ("a", "bc"), None)) == 1 + 4 + 1 + 1 + 2 + 1  # strings by length, parts by one
    assert [shared.get(huge, lambda n=n: n) for n in range(3)] == [0, 1, 2] and shared.reads == 3
    assert shared._kept == {} and shared._flights == {}
    small = ("grid", ("Đông Ba",), "24h")
    assert [shared.get(small, lambda n=n: n) for n in range(3)] == [0, 0, 0] and list(shared._kept) == [small]
