"""Reads the screens of a page share: the same read within ``max_age_s`` is done once, whatever the
number of screens polling it.

An operations room shows one page on many screens, each asking for the same figures every few
seconds; without sharing, fifty screens run fifty identical queries a tick and queue behind each
other. A :class:`SharedReads` keeps each read's result for ``max_age_s`` ([web] ``shared_read_s``,
1 s by default, 0 to turn it off), and while one request reads, the others asking for the same key
wait for it instead of reading too (one read in flight per key). Past its age a result is still
served for as long again (``stale_s``, default ``max_age_s``) while one background read makes the next,
so a busy room's screens do not each wait for a read at every age; a result older than that is read
again in the request. The result keeps the time the read began, and the pages print the as-of time of
their data, so a shared read never shows old numbers as new. A read that fails is not kept: the next
request after the grace reads again and sees the failure.

A key is what a screen asks (its filters): a key larger than :data:`MAX_KEY_CHARS` (strings counted
by their length, every other part as one) is read for that request alone and never kept, so a
request cannot make the page keep its 38 MB of filter values; the pages check their filters too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_KEYS = 256  # distinct keys kept per page (filters, station sets): expired ones go first
MAX_KEY_CHARS = 4096  # a larger key is not kept (nor shared)


def key_size(key: object, limit: int = MAX_KEY_CHARS) -> int:
    """The size of ``key``: its strings' (and bytes') lengths, one for every other part; the count
    stops soon after it passes ``limit``, so sizing a huge key costs little."""
    size, todo = 0, [key]
    while todo and size <= limit:
        part = todo.pop()
        if isinstance(part, str | bytes):
            size += len(part)
        elif isinstance(part, tuple | frozenset):
            size += 1
            todo.extend(islice(part, limit + 1))  # more parts than that pass the limit anyway
        else:
            size += 1
    return size


class SharedReads:
    """Results of reads by key, each kept ``max_age_s`` seconds; one read in flight per key."""

    def __init__(self, max_age_s: float, stale_s: float | None = None) -> None:
        self.max_age_s = max_age_s
        self.stale_s = max_age_s if stale_s is None else stale_s
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, object]] = {}
        self._flights: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self.reads = 0  # reads done (the rest were shared)

    def _fresh(self, key: Hashable) -> tuple[bool, object]:
        hit = self._kept.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.max_age_s:
            return True, hit[1]
        return False, None

    def get(self, key: Hashable, read: Callable[[], T], fresh: bool = False,
            worth_serving_stale: Callable[[T], bool] | None = None) -> T:
        """``read()``'s result for ``key``: kept from a read begun less than ``max_age_s`` ago, or new;
        ``fresh``: new in any case (after a change made from this screen), and kept for the others.
        ``worth_serving_stale``: whether a result past its age is still worth serving while the next is
        read (an empty one made before the store held anything is not: the request reads itself)."""
        if self.max_age_s <= 0 or key_size(key) > MAX_KEY_CHARS:
            with self._lock:
                self.reads += 1
            return read()
        with self._lock:
            found, value = self._fresh(key)
            if found and not fresh:
                return value  # type: ignore[return-value]
            hit = self._kept.get(key)
            if hit is not None and not fresh and time.monotonic() - hit[0] < self.max_age_s + self.stale_s \
                    and (worth_serving_stale is None or worth_serving_stale(hit[1])):  # type: ignore[arg-type]
                if key not in self._refreshing:  # one background read makes the next result
                    self._refreshing.add(key)
                    threading.Thread(target=self._refresh, args=(key, read), daemon=True,
                                     name="shared-read").start()
                return hit[1]  # type: ignore[return-value]
        return self._read(key, read, fresh)

    def _refresh(self, key: Hashable, read: Callable[[], object]) -> None:
        try:
            self._read(key, read, False)
        except Exception as exc:  # noqa: BLE001 - not kept: a request after the grace reads and sees it
            log.warning("shared read %r failed: %s", key, exc)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _read(self, key: Hashable, read: Callable[[], T], fresh: bool) -> T:
        """Read ``key`` once however many ask at the same time (one read in flight per key)."""
        with self._lock:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:  # another request reading this key: wait for its result
            with self._lock:
                found, value = self._fresh(key)
            if found and not fresh:
                return value  # type: ignore[return-value]
            began = time.monotonic()
            result = read()
            with self._lock:
                self.reads += 1
                self._kept[key] = (began, result)
                if len(self._kept) > MAX_KEYS:
                    self._forget_oldest()
            return result

    def _forget_oldest(self) -> None:
        for key, _ in sorted(self._kept.items(), key=lambda kv: kv[1][0])[: len(self._kept) - MAX_KEYS]:
            del self._kept[key]
            self._flights.pop(key, None)
