"""Waiting on conditions in tests, never on the clock: the suite must pass on a busy machine.

:func:`wait_for` polls a condition until it holds. Its ``timeout`` is a generous guard against a
hang (a test that would otherwise never end), not a claim about speed: a loaded machine may take
many times longer than a quiet one, and the test still passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Long enough for any condition the suite waits on, on two cores shared with other work.
HANG_GUARD_S = 120.0


def wait_for(condition: Callable[[], T], what: str = "the condition", timeout: float = HANG_GUARD_S,
             interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Fails with ``what`` (and the last value seen) when it still does not hold after ``timeout``
    seconds, which only guards against a hang.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what} (last: {value!r})")
        time.sleep(interval)
