"""Sockets a sender writes records to: datagrams (UDP or a Unix datagram socket) and a Unix stream socket.

Suricata's ``eve-log`` writes to a socket it *connects* to (``filetype: unix_dgram`` or
``unix_stream``, ``filename:`` the socket's path; it reconnects when the reader comes back), one
JSON record per write, each ending in a newline: we bind the path and read. UDP (``security-udp``)
takes one message per datagram, as syslog (RFC 5426) and log shippers send them.

Nothing is lost silently: a datagram longer than :data:`MAX_MESSAGE` is passed on with its first
``MAX_MESSAGE + 1`` bytes (the parser's "line too long" dead letter), a stream line that never ends
within ``MAX_MESSAGE`` likewise (its rest is skipped up to the next newline), and on UDP the kernel's
count of datagrams dropped for a full receive buffer (``SO_RXQ_OVFL``) is kept in ``kernel_drops``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import select
import socket
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ingest.security.syslog import MAX_MESSAGE

Batch = tuple[list[bytes], datetime]
Clock = Callable[[], datetime]
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: drops so far, with every datagram
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux: a receive buffer past rmem_max
MAX_BATCH = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


class FromSender(bytes):
    """A message as received from the network, with the address it came from (``sender``).

    A syslog relay names a message without a valid header by the device it received it from
    (RFC 3164 4.3.2-4.3.3): the parser reads ``sender`` for that. Everything else sees plain bytes.
    """

    sender: str

    def __new__(cls, data: bytes, sender: str) -> FromSender:
        message = super().__new__(cls, data)
        message.sender = sender
        return message


class LineFramer:
    """Splits a byte stream into newline-terminated lines; an endless line is cut once, its rest skipped."""

    def __init__(self, max_line: int = MAX_MESSAGE) -> None:
        self.buffer = b""
        self.max_line = max_line
        self.skipping = False  # inside a line already passed on cut

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines in what arrived (an over-long line as its first ``max_line + 1`` bytes)."""
        self.buffer += data
        out: list[bytes] = []
        while True:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                if not self.skipping and len(self.buffer) > self.max_line:
                    out.append(self.buffer[:self.max_line + 1])
                    self.skipping = True
                if self.skipping:
                    self.buffer = b""
                return [ln for ln in out if ln.strip()]
            line, self.buffer = self.buffer[:newline], self.buffer[newline + 1:]
            if self.skipping:
                self.skipping = False
                continue
            out.append(line)


def _bind_unix(sock: socket.socket, path: Path) -> None:
    """Bind a Unix socket at ``path``. A socket file left by a reader that is gone is replaced; one
    that a live reader holds, or a file that is no socket, is an error (never taken over)."""
    try:
        mode: int | None = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
        with socket.socket(socket.AF_UNIX, sock.type) as probe:
            try:
                probe.connect(str(path))
            except ConnectionRefusedError:  # nobody reads there: a stale file
                path.unlink()
            except OSError as exc:
                raise OSError(exc.errno, f"{path}: a socket in use ({exc.strerror})") from None
            else:
                raise OSError(errno.EADDRINUSE, f"{path}: another reader listens there")
    path.parent.mkdir(parents=True, exist_ok=True)
    sock.bind(str(path))


def _bound_unix(kind: int, path: Path) -> socket.socket:
    """A Unix socket of ``kind`` bound at ``path`` (closed again when it cannot be)."""
    sock = socket.socket(socket.AF_UNIX, kind)
    try:
        _bind_unix(sock, path)
    except BaseException:
        sock.close()
        raise
    return sock


class DatagramSource:
    """One message per datagram, from UDP (``host``, ``port``) or a Unix datagram socket (``path``).

    ``split_lines``: a datagram may hold several newline-terminated records (EVE JSON never holds a
    raw newline), each is one line. Reads up to :data:`MAX_BATCH` waiting datagrams per batch.
    ``receive_buffer`` (bytes) is the kernel's queue while a batch is parsed: the bigger, the longer
    a busy or descheduled reader may fall behind before the kernel drops (counted) datagrams.
    """

    def __init__(self, *, name: str, host: str = "127.0.0.1", port: int = 0, path: Path | None = None,
                 split_lines: bool = False, receive_buffer: int = 16 << 20, clock: Clock = utc_now) -> None:
        self.name, self.clock, self.split_lines = name, clock, split_lines
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.sock = _bound_unix(socket.SOCK_DGRAM, self.path)
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            with contextlib.suppress(OSError):  # not every kernel has it: drops then stay unknown
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            self.sock.bind((host, port))
        try:  # beyond net.core.rmem_max where allowed (CAP_NET_ADMIN), else up to it
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, receive_buffer)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        # what the kernel granted (it doubles the request for its bookkeeping)
        self.receive_buffer = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.sock.setblocking(False)  # waits are select()'s, so a batch drains what waits
        self.address = self.sock.getsockname()
        self.connected = self.live = True
        self.errors: list[str] = []
        self.datagrams = 0
        self.kernel_drops = 0  # SO_RXQ_OVFL: datagrams the kernel dropped, its buffer full

    def _receive(self) -> bytes:
        # a longer datagram comes cut to MAX_MESSAGE + 1 bytes: the parser's "too long" dead letter
        data, ancillary, _, address = self.sock.recvmsg(MAX_MESSAGE + 1, socket.CMSG_SPACE(4))
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                self.kernel_drops = struct.unpack("=I", value[:4])[0]
        self.datagrams += 1
        return FromSender(data, address[0]) if isinstance(address, tuple) and not self.split_lines else data

    def _lines(self, data: bytes) -> list[bytes]:
        if not self.split_lines or len(data) > MAX_MESSAGE:
            return [data]
        return [ln for ln in data.split(b"\n") if ln.strip()]

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        try:
            while not stop.is_set():
                batch: list[bytes] = []
                if select.select([self.sock], [], [], 0.25)[0]:
                    for _ in range(MAX_BATCH):  # what already waits, without blocking
                        try:
                            batch += self._lines(self._receive())
                        except (BlockingIOError, InterruptedError):
                            break
                yield batch, self.clock()
        finally:
            self.close()

    def close(self) -> None:
        self.sock.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors


class UnixStreamSource:
    """A Unix stream socket at ``path``: newline-terminated records from any number of writers.

    Suricata connects and reconnects on its own; each connection is read by its own thread.
    """

    def __init__(self, path: Path, *, name: str, clock: Clock = utc_now) -> None:
        self.name, self.clock, self.path = name, clock, Path(path)
        self.sock = _bound_unix(socket.SOCK_STREAM, self.path)
        self.sock.listen(16)
        self.sock.settimeout(0.25)
        self.address = str(self.path)
        self.lines: queue.Queue[bytes] = queue.Queue(maxsize=100_000)
        self.errors: list[str] = []
        self.connections = 0
        self.connected = False
        self.live = True
        self._stop = threading.Event()
        self._accepter = threading.Thread(target=self._accept, name=f"{name}-unix", daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.connected = True
            threading.Thread(target=self._serve, args=(conn,), name=f"{self.name}-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        framer = LineFramer()
        conn.settimeout(0.5)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(1 << 16)
                except TimeoutError:
                    continue
                except OSError as exc:
                    self.errors.append(f"{self.path}: {exc}")
                    break
                if not data:
                    break
                for line in framer.feed(data):
                    self.lines.put(line)
            if framer.buffer.strip() and not framer.skipping:  # the writer closed mid-record
                self.lines.put(framer.buffer)

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        try:
            while not stop.is_set():
                batch: list[bytes] = []
                try:
                    batch.append(self.lines.get(timeout=0.25))
                    while len(batch) < MAX_BATCH:
                        batch.append(self.lines.get_nowait())
                except queue.Empty:
                    pass
                yield batch, self.clock()
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors
