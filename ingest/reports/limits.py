"""Rate limits per client key: a token bucket each, refilled per minute, safe across threads."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 10_000


class RateLimiter:
    """``allow(key, per_minute, burst)``: whether one more request of ``key`` may pass now.

    The clock is the process's monotonic clock: rate limiting is about the request's arrival,
    not event time (injectable for tests). At most :data:`MAX_KEYS` buckets are kept (keys may be
    addresses, which a client can make up by the thousand): past it the least recently seen key is
    forgotten, in constant time, so neither memory nor the cost of one call grows with the keys seen.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys have a bucket now."""
        return len(self._buckets)

    def allow(self, key: str, per_minute: int, burst: int) -> bool:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * per_minute / 60.0)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # now the most recent
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
            return allowed
