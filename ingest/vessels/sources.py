"""Where AIS lines come from: a recorded file, a TCP stream, UDP datagrams.

Every source is iterated with :meth:`read` until a stop event is set (or, for a file, the end
of the file) and yields :data:`Batch` es: the lines of one read (one TCP chunk, one UDP
datagram, up to ``batch_lines`` of a file) with the time they were received. An empty batch
is an idle tick (nothing arrived within ``read_timeout``), so the worker can time out
incomplete multi-part messages and flush while the feed is quiet.

Lines are split on ``\\n`` (a trailing ``\\r`` is removed) by :class:`LineSplitter`, which never
holds more than ``max_line_bytes`` of one line: a longer one is passed on as a
:class:`~ingest.vessels.nmea.TooLong` (its start and size), so a hostile peer cannot make the
reader grow without bound. The partial line left when a TCP connection drops is passed on as
a line too (the decoder dead-letters it): nothing is lost silently.

Sources never raise for network trouble: they record it (:meth:`take_errors`), set
``connected`` and retry (TCP: exponential backoff from ``backoff_initial`` to
``backoff_max``). Clocks and sleeps are injected; nothing else here reads the wall clock.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from ingest.compressed import STREAM_ERRORS, CompressedFileError, cut_short, open_decompressed
from ingest.vessels.archives import row_stamp
from ingest.vessels.loggers import LOG_PREFIX, PREFIX_STARTS, BadLogTime, log_time
from ingest.vessels.nmea import TooLong

Clock = Callable[[], datetime]
Line = bytes | TooLong
Batch = tuple[list[Line], datetime]

DEFAULT_MAX_LINE_BYTES = 64 * 1024
TOO_LONG_PREFIX = 4096
_TAG_TIME = re.compile(rb"^\\[^\\]*?\bc:(\d{9,13})")
_NAIS_TIME = re.compile(rb"\*[0-9A-Fa-f]{2},(?:.*,)?(\d{9,13})(?:\.\d*)?$")  # NAIS metadata's last field


def line_stamp(line: bytes, near: float | None = None) -> float | None:
    """The UNIX time a recorded line carries, for pacing a replay: its tag block's ``c:``, else
    its NAIS metadata's time, else the time a logger wrote before it, else a CSV archive row's (a
    time without a zone read as UTC: only the differences between lines matter here; one without a
    year in the year nearest ``near``, the stamp of the line before); ``None`` without one."""
    logged: float | None = None
    if line[:1] and line[0] in PREFIX_STARTS and (prefix := LOG_PREFIX.match(line)) is not None:
        try:
            before = None if near is None else datetime.fromtimestamp(near, UTC)
            logged = log_time(prefix, near=before).timestamp()
        except BadLogTime:
            return None
        line = line[prefix.end() :]
    match = _TAG_TIME.match(line) or _NAIS_TIME.search(line)
    if match is None:
        return logged if logged is not None else row_stamp(line)
    stamp = int(match.group(1))
    return stamp / 1000 if stamp > 10**11 else stamp


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class LineSplitter:
    """Cuts a byte stream into lines of at most ``max_line_bytes``."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._dropping = 0  # > 0: inside an over-long line, this many bytes seen so far
        self._prefix = b""

    def feed(self, chunk: bytes) -> list[Line]:
        """The lines completed by ``chunk``."""
        out: list[Line] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if self._dropping:
                self._dropping += len(piece)
            elif len(self._buffer) + len(piece) > self.max_line_bytes:
                whole = bytes(self._buffer) + piece
                self._prefix = whole[:TOO_LONG_PREFIX]
                self._dropping = len(whole)
                self._buffer.clear()
            else:
                self._buffer += piece
            if end < 0:
                return out
            out.append(self._take())
            start = end + 1

    def _take(self) -> Line:
        if self._dropping:
            line: Line = TooLong(self._prefix, self._dropping)
            self._dropping, self._prefix = 0, b""
            return line
        data = bytes(self._buffer)
        self._buffer.clear()
        return data[:-1] if data.endswith(b"\r") else data

    def rest(self) -> Line | None:
        """What is left without a final newline (end of file, dropped connection), if anything."""
        if not self._buffer and not self._dropping:
            return None
        return self._take()


@runtime_checkable
class LineSource(Protocol):
    """What :class:`ingest.vessels.worker.VesselWorker` drives."""

    name: str
    connected: bool

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        """Batches of received lines until ``stop`` is set (or the input ends)."""
        ...

    def take_errors(self) -> list[str]:
        """Problems reaching the source since the last call (and forget them)."""
        ...


class _Base:
    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self.connected = False
        self._errors: list[str] = []

    def error(self, message: str) -> None:
        """Keep one problem reaching the source."""
        self._errors.append(message)

    def take_errors(self) -> list[str]:
        out, self._errors = self._errors, []
        return out


class FileSource(_Base):
    """Reads a recorded AIS log (``.nmea``, ``.nm4``, ``.log``...), once or in a loop; a compressed
    one (a rotated ``.gz``, an archive's ``.zip`` of one file...) through its decompressor
    (:mod:`ingest.compressed`): one cut short gives its lines up to the cut, and an error.

    With ``speed`` set, lines are paced by the times they carry (:func:`line_stamp`): a line
    stamped ``s`` seconds after the first stamped line is released ``s / speed`` seconds after it
    (lines without a stamp follow their predecessor at once). Without ``speed`` the file is read
    as fast as it is consumed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        speed: float | None = None,
        loop: bool = False,
        batch_lines: int = 500,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name or f"file:{Path(path).name}", clock)
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.path = Path(path)
        self.speed = speed
        self.loop = loop
        self.batch_lines = batch_lines
        self.max_line_bytes = max_line_bytes
        self.monotonic = monotonic
        self.passes = 0

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        while not stop.is_set():
            try:
                handle, _ = open_decompressed(self.path)
            except (OSError, CompressedFileError) as exc:
                self.connected = False
                self.error(f"cannot open {self.path}: {exc}")
                return
            self.connected = True
            with handle:
                yield from self._one_pass(handle, stop)
            self.passes += 1
            if not self.loop:
                break
        self.connected = False

    def _one_pass(self, handle: BinaryIO, stop: threading.Event) -> Iterator[Batch]:
        splitter = LineSplitter(self.max_line_bytes)
        first_stamp: float | None = None
        last_stamp: float | None = None
        first_wall = 0.0
        batch: list[Line] = []
        while not stop.is_set():
            try:
                chunk = handle.read1(65536)  # what one read gives: a cut file's end loses no earlier line
            except STREAM_ERRORS as exc:  # a compressed file cut short: its lines so far are read
                self.error(cut_short(self.path, exc))
                chunk = b""
            lines = splitter.feed(chunk) if chunk else []
            if not chunk:
                rest = splitter.rest()
                if rest is not None:
                    lines.append(rest)
            for line in lines:
                if self.speed is not None and isinstance(line, bytes):
                    stamp = line_stamp(line, near=last_stamp)
                    if stamp is not None:
                        last_stamp = stamp
                        if first_stamp is None:
                            first_stamp, first_wall = stamp, self.monotonic()
                        wait = first_wall + (stamp - first_stamp) / self.speed - self.monotonic()
                        if wait > 0:
                            if batch:
                                yield batch, self.clock()
                                batch = []
                            if stop.wait(wait):
                                return
                batch.append(line)
                if len(batch) >= self.batch_lines:
                    yield batch, self.clock()
                    batch = []
            if not chunk:
                break
        if batch:
            yield batch, self.clock()


class TcpSource(_Base):
    """A TCP client reading NMEA lines from ``host:port`` (an AIS receiver or aggregator).

    Reconnects after a refused or dropped connection, waiting ``backoff_initial`` seconds,
    doubling up to ``backoff_max``; the wait is reset once a connection delivers data.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 1.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(name or f"tcp:{host}:{port}", clock)
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_line_bytes = max_line_bytes
        self.connects = 0
        self.disconnects = 0

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        backoff = self.backoff_initial
        while not stop.is_set():
            try:
                conn = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            except OSError as exc:
                self.connected = False
                self.error(f"connect to {self.host}:{self.port} failed: {exc}")
                yield [], self.clock()
                if stop.wait(backoff):
                    return
                backoff = min(self.backoff_max, backoff * 2)
                continue
            self.connects += 1
            self.connected = True
            splitter = LineSplitter(self.max_line_bytes)
            try:
                conn.settimeout(self.read_timeout)
                while not stop.is_set():
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        yield [], self.clock()
                        continue
                    except OSError as exc:
                        self.error(f"read from {self.host}:{self.port} failed: {exc}")
                        break
                    if not chunk:
                        self.error(f"{self.host}:{self.port} closed the connection")
                        break
                    backoff = self.backoff_initial
                    lines = splitter.feed(chunk)
                    if lines:
                        yield lines, self.clock()
            finally:
                conn.close()
                self.connected = False
            self.disconnects += 1
            rest = splitter.rest()
            if rest is not None:
                yield [rest], self.clock()
            if stop.wait(backoff):
                return
            backoff = min(self.backoff_max, backoff * 2)


class UdpSource(_Base):
    """A UDP listener: one or more NMEA sentences per datagram (AIS receivers' usual output)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str | None = None,
        read_timeout: float = 1.0,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(name or f"udp:{host}:{port}", clock)
        self.host = host
        self.port = port
        self.read_timeout = read_timeout
        self.max_line_bytes = max_line_bytes
        self.datagrams = 0
        self._sock: socket.socket | None = None

    def open(self) -> tuple[str, int]:
        """Bind the socket (if not yet bound); the address bound (port 0 picks a free one)."""
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                sock.close()
                raise
            sock.settimeout(self.read_timeout)
            self._sock = sock
            self.connected = True
        address = self._sock.getsockname()
        return address[0], address[1]

    def close(self) -> None:
        """Release the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.connected = False

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        while not stop.is_set():
            if self._sock is None:
                try:
                    self.open()
                except OSError as exc:
                    self.error(f"bind {self.host}:{self.port} failed: {exc}")
                    yield [], self.clock()
                    if stop.wait(self.read_timeout):
                        break
                    continue
            assert self._sock is not None
            try:
                datagram = self._sock.recv(65536)
            except TimeoutError:
                yield [], self.clock()
                continue
            except OSError as exc:
                self.error(f"receive on {self.host}:{self.port} failed: {exc}")
                self.close()
                continue
            self.datagrams += 1
            splitter = LineSplitter(self.max_line_bytes)
            lines = splitter.feed(datagram)
            rest = splitter.rest()
            if rest is not None:
                lines.append(rest)
            yield lines, self.clock()
        self.close()
