"""One send's overall deadline: connecting and the whole answer within a number of seconds.

A socket's timeout bounds each read, not the exchange: a far end that trickles its answer a byte
every few seconds keeps a send alive for as long as it likes. :class:`Deadline` runs the exchange
in a daemon thread and waits for it at most ``seconds``; past that it shuts the exchange's
connections down (the thread's blocked read then fails and the thread ends) and raises
:class:`Overdue`. A connection is opened through :meth:`Deadline.connect` (given to ``http.client``
and ``smtplib`` as their ``socket.create_connection``), which keeps a duplicate of each socket: a
shutdown through it reaches the connection whatever wraps it later (TLS) and never touches a file
descriptor that someone else has been given since. Once the deadline has passed, no new
connection is opened, so nothing is sent after the sender has given the send up.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Overdue(Exception):
    """No whole answer within the deadline; the exchange's connections were cut."""


class Deadline:
    """``seconds`` for one exchange (see the module's docstring); ``name`` names its thread."""

    def __init__(self, seconds: float, name: str) -> None:
        self.seconds = seconds
        self.name = name
        self._lock = threading.Lock()
        self._passed = False
        self._sockets: list[socket.socket] = []

    def connect(self, *args: Any, **kwargs: Any) -> socket.socket:
        """``socket.create_connection``, kept so that the deadline can cut it."""
        sock = socket.create_connection(*args, **kwargs)
        with self._lock:
            if self._passed:  # given up while connecting: send nothing
                sock.close()
                raise Overdue(f"no answer within {self.seconds:g} s")
            self._sockets.append(sock.dup())
        return sock

    def call(self, exchange: Callable[[], T]) -> T:
        """``exchange()``'s result (or its exception) if it ends in time; else :class:`Overdue`."""
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                value = exchange()
            except BaseException as exc:  # handed to the caller, or dropped once it gave up
                with self._lock:
                    outcome["error"] = exc
            else:
                with self._lock:
                    outcome["value"] = value

        worker = threading.Thread(target=work, name=self.name, daemon=True)
        worker.start()
        worker.join(self.seconds)
        with self._lock:
            done = bool(outcome)  # an answer that came as the time ran out still counts
            self._passed = not done
            for sock in self._sockets:
                if not done:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)  # wakes the worker's blocked read
                    except OSError:
                        pass
                sock.close()
            self._sockets.clear()
        if not done:
            raise Overdue(f"no answer within {self.seconds:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]
