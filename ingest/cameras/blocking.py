"""A camera's blocking calls (opening a source, grabbing a frame) in helper threads, so the capture
waits for them only until its own deadline or ``stop``, and a source is released only once no call
runs on it. An opener that can be cut short says how with :func:`on_abandon`: an open given up
(:meth:`PendingOpen.abandon`) then ends at once rather than at its own timeout, its thread with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Opener = Callable[[str], Any]

_opening = threading.local()  # .pending: the PendingOpen whose opener runs in this thread


def on_abandon(cancel: Callable[[], None]) -> None:
    """Called by an opener: run ``cancel`` (from another thread) when the open running in this
    thread is abandoned, at once if it already is; nothing outside a :class:`PendingOpen`."""
    pending: PendingOpen | None = getattr(_opening, "pending", None)
    if pending is not None:
        pending.on_abandon(cancel)


class PendingOpen:
    """An open running in a helper thread, so a silent camera never blocks the caller."""

    def __init__(self, opener: Opener, url: str) -> None:
        self.done = threading.Event()
        self.cap: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._abandoned = False
        self._cancels: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, args=(opener, url), name="camera-open", daemon=True)
        self._thread.start()

    def _run(self, opener: Opener, url: str) -> None:
        _opening.pending = self
        try:
            cap = opener(url)
        except Exception as exc:  # reported to the caller, not raised in this thread
            cap, self.error = None, exc
        finally:
            _opening.pending = None
        with self._lock:
            self._cancels.clear()
            self.cap = cap
            abandoned = self._abandoned
            self.done.set()
        if abandoned and cap is not None:
            cap.release()

    def on_abandon(self, cancel: Callable[[], None]) -> None:
        """Run ``cancel`` when this open is abandoned (at once if it is): see :func:`on_abandon`."""
        with self._lock:
            if not self._abandoned:
                self._cancels.append(cancel)
                return
        cancel()

    def abandon(self) -> None:
        """Nobody waits for this open any more: cut it short where the opener said how
        (:func:`on_abandon`), and release what it opens when it returns."""
        with self._lock:
            self._abandoned = True
            cap = self.cap if self.done.is_set() else None
            cancels, self._cancels = self._cancels, []
        for cancel in cancels:
            cancel()
        if cap is not None:
            cap.release()


class BlockingReads:
    """A network source's blocking ``grab`` in a helper thread, so the caller waits for it only
    until its own deadline or ``stop``; a read still under way when the source is let go releases
    the source when it returns (a ``VideoCapture`` must not be released under a running read)."""

    def __init__(self, cap: Any) -> None:
        self.cap = cap
        self.ok = False
        self.error: BaseException | None = None
        self.took = 0.0  # seconds the last grab blocked
        self.done = threading.Event()
        self._request = threading.Event()
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="camera-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._request.wait()
            self._request.clear()
            with self._lock:
                if self._closed:
                    return
            started = time.monotonic()
            try:
                ok, error = bool(self.cap.grab()), None
            except Exception as exc:  # reported to the caller, not raised in this thread
                ok, error = False, exc
            with self._lock:
                self.ok, self.error, self.took = ok, error, time.monotonic() - started
                self._busy = False
                self.done.set()
                closed = self._closed
            if closed:
                self.cap.release()
                return

    def grab(self, stop: threading.Event | None, deadline: float, clock: Callable[[], float]) -> bool | None:
        """The next grab's result; None while it is still under way at ``deadline`` or ``stop``."""
        with self._lock:
            if not self._busy and not self.done.is_set():
                self._busy = True
                self._request.set()
        while not self.done.is_set():
            if stop is not None and stop.is_set():
                return None
            wait = deadline - clock()
            if wait <= 0:
                return None
            self.done.wait(min(wait, 0.05))
        self.done.clear()
        if self.error is not None:
            raise self.error
        return self.ok

    def close(self) -> bool:
        """Stop the helper thread. True: the caller releases the source; False: the read under way
        does when it returns (cut short where the source can be interrupted)."""
        with self._lock:
            self._closed = True
            busy = self._busy
        self._request.set()
        if busy:
            interrupt = getattr(self.cap, "interrupt", None)
            if interrupt is not None:
                interrupt()
        return not busy
