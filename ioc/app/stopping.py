"""How a long-running ``ioc`` process is asked to stop, and how it shows where it is stuck.

SIGTERM and SIGINT only record which signal came; the main loop reads that between its naps. The
handler takes no lock on purpose: Python runs a handler in the main thread between two bytecodes,
and a ``threading.Event.set()`` there needs the lock that the same thread's ``Event.wait()`` may be
holding at that moment, which never comes back. SIGUSR1 prints every thread's stack to stderr
(:mod:`faulthandler`, written from C, so it answers even when the interpreter itself is stuck):
``kill -USR1 PID`` shows an operator, or a test, where a process that will not stop is.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import time

#: how often the main loop looks at the flag (a stop is noticed within this)
NAP_S = 0.1


class StopRequest:
    """The signals that ask this process to stop, as a flag the main loop polls."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def install(self) -> StopRequest:
        """Handle SIGTERM/SIGINT (must be called from the main thread) and let SIGUSR1 dump stacks."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def wait(self, seconds: float) -> bool:
        """Nap up to ``seconds`` in short steps; True as soon as a stop was asked for."""
        end = time.monotonic() + seconds
        while not self.requested:
            left = end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(NAP_S, left))
        return self.requested
