"""Waiting out a bus or store outage: the runner's one way to retry, with exponential backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("detectors.runner")
T = TypeVar("T")


def wait_out(what: str, doing: str, action: Callable[[], T], stop: threading.Event | None,
             errors: tuple[type[BaseException], ...], max_backoff: float, waited: Callable[[], None]) -> T:
    """Run ``action``, waiting out ``errors`` with exponential backoff (each wait logged and ``waited()``).

    With a ``stop`` event the wait ends (re-raising the failure) as soon as it is set.
    """
    delay = 0.2
    while True:
        try:
            return action()
        except errors as exc:
            waited()
            reason = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            log.warning("detectors: %s (%s); waiting %.1f s before %s again", what, reason, delay, doing)
            if stop is not None:
                if stop.wait(delay):
                    raise
            else:
                time.sleep(delay)
            delay = min(delay * 2, max_backoff)
