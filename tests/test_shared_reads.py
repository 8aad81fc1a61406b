"""Screens of a page share one read of its data: fifty screens polling the wall run one query a
second, not fifty; a failed read is not kept; a change made from a screen is read anew."""

from __future__ import annotations

import threading
import time

import pytest

from dashboards.shared_reads import SharedReads


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
    expired = SharedReads(max_age_s=0.05)
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
