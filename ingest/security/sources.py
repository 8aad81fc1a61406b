"""Where security lines come from: a log file followed across rotations, a syslog UDP or TCP port.

Each source yields ``(lines, received)`` batches until ``stop`` is set. :class:`TailSource`
follows a file as ``tail -F`` does: it reads what was appended, and when the file is replaced
(a new inode: ``logrotate``'s move-and-create) or truncated (``copytruncate``) it reads the new
file from its start. :class:`UdpSyslogSource` takes one message per datagram;
:class:`TcpSyslogSource` accepts connections and splits each stream with RFC 6587 framing.
"""

from __future__ import annotations

import io
import os
import queue
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.compressed import STREAM_ERRORS, CompressedFileError, cut_short, open_decompressed
from ingest.security.sockets import DatagramSource, FromSender, LineFramer
from ingest.security.syslog import SyslogFramer

Batch = tuple[list[bytes], datetime]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TailSource:
    """Follows a log file across rotation and truncation (``from_start``: read what it holds first).

    A compressed file (``auth.log.2.gz`` that logrotate made, :mod:`ingest.compressed`) is an
    archive, not a growing log: it is read whole, from its start, once; a cut one up to the cut (the
    cut is an error). A new file put in its place is read in turn."""

    def __init__(self, path: Path, *, name: str, from_start: bool = False, poll_s: float = 0.25,
                 clock: Clock = utc_now) -> None:
        self.path, self.name, self.poll_s, self.clock = Path(path), name, poll_s, clock
        self.from_start = from_start
        self.connected = False
        self.live = False
        self.errors: list[str] = []
        self._file: Any = None
        self._inode: int | None = None
        self._compressed = False
        self._framer = LineFramer()

    def _open(self, at_end: bool) -> None:
        self._file, kind = open_decompressed(self.path)  # kept open while following
        self._compressed = kind is not None
        try:  # the inode of the file opened (not of one rotated into its place meanwhile)
            self._inode = os.fstat(self._file.fileno()).st_ino
        except (AttributeError, OSError):  # a zip's member has no descriptor of its own
            self._inode = os.stat(self.path).st_ino
        if at_end and not self._compressed:
            self._file.seek(0, os.SEEK_END)
        self.connected = True

    def _read_chunk(self) -> bytes:
        try:
            return self._file.read1(1 << 20)
        except STREAM_ERRORS as exc:  # a compressed file cut short: read up to the cut, once
            self.errors.append(cut_short(self.path, exc))
            self._file.close()
            self._file = io.BytesIO()
            return b""

    def _rotated(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # moved away, not yet re-created: finish the old file
        # a compressed file does not grow: only another file in its place is news
        return st.st_ino != self._inode or (not self._compressed and st.st_size < self._file.tell())

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        first = True
        while not stop.is_set():
            if self._file is None:
                try:
                    self._open(at_end=first and not self.from_start)
                except (OSError, CompressedFileError) as exc:
                    self.errors.append(f"{self.path}: {exc}")
                    stop.wait(max(self.poll_s, 1.0))
                    continue
                first = False
            chunk = self._read_chunk()
            if chunk:
                # a "line" that never ends is passed on cut (a "too long" dead letter), its rest skipped
                yield self._framer.feed(chunk), self.clock()
                continue
            self.live = True
            if self._rotated():
                self._file.close()
                self._file, self._framer = None, LineFramer()
                self.from_start, first = True, False
                continue
            yield [], self.clock()
            stop.wait(self.poll_s)
        if self._file is not None:
            self._file.close()

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors


class UdpSyslogSource(DatagramSource):
    """Syslog over UDP (RFC 5426): one message per datagram (kernel drops counted)."""

    def __init__(self, host: str, port: int, *, name: str, clock: Clock = utc_now,
                 receive_buffer: int = 16 << 20) -> None:
        super().__init__(name=name, host=host, port=port, clock=clock, receive_buffer=receive_buffer)


class TcpSyslogSource:
    """Syslog over TCP (RFC 6587): octet-counted or newline-framed messages, many senders at once.

    At most ``max_connections`` senders at a time (rsyslog's imtcp allows 200 sessions): one more
    is closed at once and counted as an error, so a flood of idle connections cannot take a
    thread each until the process has none left; a sender silent for ``idle_s`` is let go.
    """

    def __init__(self, host: str, port: int, *, name: str, clock: Clock = utc_now,
                 max_connections: int = 200, idle_s: float = 300) -> None:
        self.name, self.clock = name, clock
        self.messages: queue.Queue[bytes] = queue.Queue(maxsize=100_000)
        self.errors: list[str] = []
        self.active = 0
        self.refused = 0
        lock = threading.Lock()
        source = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    self._read()
                finally:
                    with lock:
                        source.active -= 1

            def _read(self) -> None:
                framer = SyslogFramer()
                sender = str(self.client_address[0])
                self.request.settimeout(idle_s)
                while True:
                    try:
                        data = self.request.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    frames, errors = framer.feed(data)
                    source.errors.extend(errors)
                    for frame in frames:
                        source.messages.put(FromSender(frame, sender))

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def verify_request(self, request: Any, client_address: Any) -> bool:
                with lock:
                    if source.active >= max_connections:
                        source.refused += 1
                        source.errors.append(f"too many senders ({max_connections} connected): "
                                             f"{client_address[0]} refused")
                        return False
                    source.active += 1
                    return True

        self.server = Server((host, port), Handler)
        self.address = self.server.server_address
        self.connected = self.live = True
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"{name}-tcp", daemon=True)
        self._thread.start()

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        try:
            while not stop.is_set():
                batch: list[bytes] = []
                try:
                    batch.append(self.messages.get(timeout=0.25))
                    while len(batch) < 1000:
                        batch.append(self.messages.get_nowait())
                except queue.Empty:
                    pass
                yield batch, self.clock()
        finally:
            self.server.shutdown()
            self.server.server_close()

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors
