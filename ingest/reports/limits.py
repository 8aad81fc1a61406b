"""Rate limits per client key: a token bucket each, refilled per minute, safe across threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_KEYS = 10_000


class RateLimiter:
    """``allow(key, per_minute, burst)``: whether one more request of ``key`` may pass now.

    The clock is the process's monotonic clock: rate limiting is about the request's arrival,
    not event time (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, per_minute: int, burst: int) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._buckets) >= MAX_KEYS:  # keys may be addresses: forget the ones refilled long ago
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 600}
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * per_minute / 60.0)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True
