"""An ``http://`` MJPEG camera read by our own parser, in the shape of a raw-mode ``VideoCapture``:
FFmpeg's MJPEG demuxer buffers a whole part however large its ``Content-Length`` says it is (or until
a boundary that may never come), and OpenCV offers no bound but the read timeout; this reader refuses
a part over its limit before reading it.

HTTP is spoken here on the socket itself (status line, headers, chunked transfer encoding), every
read bounded by the deadline of what it belongs to: the open (``open_timeout_s``: the connection,
interim ``1xx`` answers, the headers, the first part) or one part (``read_timeout_s``, chunk-size
lines included). ``http.client`` bounds each socket read only: a camera sending a byte every few
seconds held it for ever.

Which answers are ours: a ``200`` whose ``Content-Type`` is ``multipart/...``, and one of any other
type (or none) whose body starts with ``--``, sniffed as a multipart stream (its first line names
the boundary). FFmpeg's multipart probe goes by those same two bytes whatever the type, so no
answer we hand on reaches its unbounded MJPEG demuxer as multipart. FFmpeg gets the rest: other
content (MPEG-TS, FLV, a playlist...), a redirect to ``https://``, Digest authentication. It makes
a connection of its own: a server that answers it otherwise than us, or over ``https://``, is
still read by FFmpeg without our bound.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from email.message import Message
from urllib.parse import unquote, urljoin, urlsplit

import cv2
import numpy as np

from ingest.cameras.blocking import on_abandon
from ingest.cameras.jpeg import JPEG_SOI, MAX_FRAME_BYTES

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_NOT_IN_REQUEST = re.compile(r"[^\x21-\x7e]")  # what http.client refused too: controls, spaces, non-ASCII
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
MAX_DASHES = 64
"""The most dashes before a boundary token on its line beyond those declared with the boundary."""


def shown_url(url: str) -> str:
    """``url`` as health and logs show it: its user info (``user:password@``) replaced by ``***@``."""
    return _USERINFO.sub(r"\1***@", url, count=1)


class _StreamError(Exception):
    """Why an MJPEG stream failed; ``bad_part``: a part was refused (it is counted as a bad frame)."""

    def __init__(self, reason: str, bad_part: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bad_part = bad_part


class HttpMjpegStream:
    """An ``http://`` MJPEG camera (``multipart/x-mixed-replace`` of JPEG parts) in the shape of a
    ``VideoCapture`` in raw mode: :meth:`grab` reads the next part, :meth:`retrieve` gives its bytes.

    What it holds is bounded: a part whose ``Content-Length`` is over ``max_part_bytes`` (or longer
    than 12 digits) is refused before a byte of it is read, one without ``Content-Length`` as soon
    as it grows past that without a boundary; either way the stream fails (``part_error`` and
    ``error`` say why), as it does when a part is not complete within ``read_timeout_s`` (bytes
    trickling in do not keep it alive) or the camera closes the connection. A part that is not a
    JPEG (a PNG, text, nothing) is handed out with ``part_error`` naming its type: the stream goes
    on. Boundaries are looked for in one pass over what arrives, whatever the part holds.

    The constructor connects (following up to five ``http://`` redirects, with Basic
    authentication from the URL's user info when the camera asks for it) and reads the first part
    within ``open_timeout_s``; :meth:`isOpened` says whether it got one, ``error`` why not.
    ``not_mjpeg``: the server answered with something else (see the module's notes), or wants
    Digest authentication: FFmpeg's to read. :meth:`interrupt` (any thread) ends a read under way
    at once; an open run by :class:`~ingest.cameras.blocking.PendingOpen` ends when it is abandoned.
    """

    CHUNK = 65536
    MAX_LINE = 8192
    MAX_HEADERS = 32  # a part's
    MAX_HTTP_HEADERS = 100  # the answer's
    MAX_LENGTH_DIGITS = 12
    MAX_REDIRECTS = 5
    USER_AGENT = "ioc-camera-capture"

    def __init__(self, url: str, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0,
                 max_part_bytes: int = MAX_FRAME_BYTES) -> None:
        self.url = url
        self.read_timeout_s = read_timeout_s
        self.max_part_bytes = max_part_bytes
        self.error: str | None = None
        """Why the stream failed (or could not be opened)."""
        self.part_error: str | None = None
        """Why the last part read is no usable JPEG (None: it starts like one)."""
        self.not_mjpeg = False
        self._sock: socket.socket | None = None
        self._cancelled = False
        self._raw = bytearray()  # received, not yet taken apart: the answer's head, chunk framing
        self._buf = bytearray()  # the answer's body: the multipart stream
        self._chunked = False
        self._chunk_left = 0  # bytes of the current chunk still to come
        self._chunk_read = False  # a chunk's data is in: its line break comes next
        self._body_left: int | None = None  # the answer's Content-Length, what is left of it
        self._boundary: bytes | None = None
        self._boundary_at = re.compile(rb"(?:\A|\n)--")
        self._boundary_len = 3  # the longest boundary match (line feed, dashes, token)
        self._part: bytes | None = None
        self._first = False  # the part read by the open: the first grab hands it out
        self._late = f"no answer in {open_timeout_s:g} s"  # what a missed deadline is called
        deadline = time.monotonic() + open_timeout_s
        on_abandon(self.interrupt)  # an open given up must not go on in its thread
        try:
            self._connect(deadline)
            if not self.not_mjpeg:
                self._late = f"no complete MJPEG part in {open_timeout_s:g} s"
                self._read_part(deadline)
                self._first = True
        except _StreamError as exc:
            self.error, self.part_error = exc.reason, None
            self.release()
        if self.not_mjpeg:
            self.release()
        self._late = f"no complete MJPEG part in {read_timeout_s:g} s"

    # -- connection ------------------------------------------------------------------------
    def _connect(self, deadline: float) -> None:
        target, auth = self.url, None
        for _ in range(self.MAX_REDIRECTS + 1):
            parts = urlsplit(target)
            try:
                host, port = parts.hostname, parts.port or 80
            except ValueError as exc:
                raise _StreamError(f"bad URL: {exc}") from None
            if parts.scheme.lower() != "http" or not host:
                self.not_mjpeg = True  # https after a redirect, say: FFmpeg's
                return
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            status, reason, headers = self._request(host, port, parts.netloc.rpartition("@")[2], path,
                                                    auth, deadline)
            basic = headers.get("www-authenticate", "").lower().startswith("basic")
            location = headers.get("location")
            if status == 401 and parts.username is not None and auth is None and basic:
                user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                auth = "Basic " + base64.b64encode(user.encode()).decode("ascii")
                continue
            if status in (301, 302, 303, 307, 308) and location:
                target, auth = urljoin(target, location), None
                continue
            if status == 401 and parts.username is not None and auth is None:
                self.not_mjpeg = True  # Digest: FFmpeg speaks it
                return
            if status != 200:
                raise _StreamError(f"HTTP {status} {reason}".strip())
            ctype = headers.get("content-type", "")
            if ctype.lower().lstrip().startswith("multipart/"):
                message = Message()
                message["Content-Type"] = ctype
                param = message.get_param("boundary")
                declared = param.strip() if isinstance(param, str) else ""
            else:  # no type, or another: a multipart stream still, when its body starts like one
                while len(self._buf) < 2:
                    self._fill(deadline)
                if not self._buf.startswith(b"--"):
                    self.not_mjpeg = True
                    return
                first = self._line(deadline, keep=True)
                if not first.endswith(b"\n"):
                    raise _StreamError(f"no MJPEG boundary line in the first {self.MAX_LINE} bytes")
                declared = first.decode("latin-1").strip()
            token = declared.lstrip("-")
            self._set_boundary(token.encode("latin-1", "replace") or None, len(declared) - len(token))
            return
        raise _StreamError(f"more than {self.MAX_REDIRECTS} redirects")

    def _request(self, host: str, port: int, netloc: str, path: str, auth: str | None,
                 deadline: float) -> tuple[int, str, dict[str, str]]:
        """Send a GET on a new connection; the final answer's status, reason and headers (1xx skipped)."""
        self.release()
        if _NOT_IN_REQUEST.search(path) or _NOT_IN_REQUEST.search(netloc):
            raise _StreamError("bad URL: spaces, control or non-ASCII characters in its host or path")
        try:
            wait = max(0.001, deadline - time.monotonic())
            self._sock = socket.create_connection((host, port), timeout=wait)
        except TimeoutError:
            raise _StreamError(self._late) from None
        except OSError as exc:
            raise _StreamError(f"{type(exc).__name__}: {exc}") from None
        if self._cancelled:  # abandoned while connecting (interrupt() looked before the socket was here)
            raise _StreamError("interrupted")
        request = (f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUser-Agent: {self.USER_AGENT}\r\n"
                   "Accept: */*\r\nConnection: close\r\n" + (f"Authorization: {auth}\r\n" if auth else "")
                   + "\r\n")
        try:
            self._sock.settimeout(max(0.001, deadline - time.monotonic()))
            self._sock.sendall(request.encode("ascii"))
        except TimeoutError:
            raise _StreamError(self._late) from None
        except OSError as exc:
            raise _StreamError(f"{type(exc).__name__}: {exc}") from None
        while True:
            status, reason, headers = self._read_head(deadline)
            if status == 101:
                raise _StreamError("HTTP 101: the camera switched protocols")
            if not 100 <= status < 200:  # 1xx: an interim answer (100 Continue...), the real one follows
                break
        coding = headers.get("transfer-encoding", "").lower().rsplit(",", 1)[-1].strip()
        self._chunked = coding == "chunked"
        length = headers.get("content-length", "")
        if not self._chunked and length.isascii() and length.isdigit() and len(length) <= 18:
            self._body_left = int(length)
        if not self._chunked:  # what came with the head is the body's
            self._take_body(self._raw)
            self._raw = bytearray()
        return status, reason, headers

    def _read_head(self, deadline: float) -> tuple[int, str, dict[str, str]]:
        """An answer's status line and headers (names in lower case; repeated ones joined by commas)."""
        line = self._raw_line(deadline).decode("latin-1")
        version, _, rest = line.strip().partition(" ")
        code, _, reason = rest.strip().partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isascii() or not code.isdigit():
            raise _StreamError(f"not an HTTP answer (status line {line[:60]!r})")
        headers: dict[str, str] = {}
        name = ""
        for _ in range(self.MAX_HTTP_HEADERS + 1):
            line = self._raw_line(deadline).decode("latin-1")
            if not line.strip():
                return int(code), reason.strip(), headers
            if line[0] in " \t":  # a folded line goes on with the header before it
                if name:
                    headers[name] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            name = name.strip().lower() if sep else ""
            if name:
                headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        raise _StreamError(f"HTTP answer with over {self.MAX_HTTP_HEADERS} header lines")

    def _set_boundary(self, token: bytes | None, dashes: int) -> None:
        """Boundary lines are dashes and ``token`` (any line starting ``--`` without one); ``dashes``:
        those declared with it."""
        self._boundary, most = token, MAX_DASHES + dashes
        tail = re.escape(token) if token else b""
        self._boundary_at = re.compile(rb"(?:\A|\n)-{2,%d}" % most + tail)
        self._boundary_len = 1 + most + len(token or b"")

    # -- reading ---------------------------------------------------------------------------
    def _recv(self, deadline: float) -> bytes:
        """What the socket has (at least a byte), by ``deadline``: each read waits only what is left."""
        sock = self._sock
        if sock is None:
            raise _StreamError(self.error or "stream closed")
        wait = deadline - time.monotonic()
        if wait <= 0:
            raise _StreamError(self._late)
        try:
            sock.settimeout(wait)
            data = sock.recv(self.CHUNK)
        except OSError as exc:  # an interrupt() shutting the socket can surface as any of these
            if self._cancelled:  # (a reset where unread data was left in it)
                raise _StreamError("interrupted") from None
            if isinstance(exc, TimeoutError):
                raise _StreamError(self._late) from None
            raise _StreamError(f"read failed: {type(exc).__name__}: {exc}") from None
        if not data:
            raise _StreamError("interrupted" if self._cancelled else "the camera closed the stream")
        return data

    def _raw_line(self, deadline: float) -> bytes:
        """The next line of the answer's head or chunk framing (with its line feed)."""
        while True:
            end = self._raw.find(b"\n", 0, self.MAX_LINE)
            if end >= 0:
                line = bytes(self._raw[:end + 1])
                del self._raw[:end + 1]
                return line
            if len(self._raw) >= self.MAX_LINE:
                raise _StreamError(f"HTTP line over {self.MAX_LINE} bytes")
            self._raw += self._recv(deadline)

    def _take_body(self, data: bytes | bytearray) -> None:
        if self._body_left is not None:
            data = data[:self._body_left]
            self._body_left -= len(data)
        self._buf += data

    def _fill(self, deadline: float) -> None:
        """Add what the camera has sent (at least a byte of the body) to the buffer, by ``deadline``."""
        if not self._chunked:
            if self._body_left == 0:
                raise _StreamError("the camera ended the stream (its Content-Length)")
            self._take_body(self._recv(deadline))
            return
        while not self._chunk_left:  # chunked: the next chunk's size line (after the last one's end)
            if self._chunk_read:
                if self._raw_line(deadline).strip():
                    raise _StreamError("bad chunked encoding: no line break after a chunk")
                self._chunk_read = False
            size = self._raw_line(deadline).split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size):
                raise _StreamError(f"bad chunked encoding: chunk size {size[:20]!r}")
            if not int(size, 16):
                raise _StreamError("the camera ended the stream (last chunk)")
            self._chunk_left, self._chunk_read = int(size, 16), True
        if not self._raw:
            self._raw += self._recv(deadline)
        take = min(self._chunk_left, len(self._raw))
        self._buf += self._raw[:take]
        del self._raw[:take]
        self._chunk_left -= take

    def _line(self, deadline: float, keep: bool = False) -> bytes:
        """The next line of the body (with its line feed), or ``MAX_LINE`` bytes of a longer one;
        ``keep``: left in the buffer."""
        while True:
            end = self._buf.find(b"\n", 0, self.MAX_LINE)
            if end >= 0 or len(self._buf) >= self.MAX_LINE:
                n = end + 1 if end >= 0 else self.MAX_LINE
                line = bytes(self._buf[:n])
                if not keep:
                    del self._buf[:n]
                return line
            self._fill(deadline)

    def _next_boundary(self, deadline: float, in_part: bool) -> int:
        """Where the next boundary line starts in the buffer, read on until one is there. One pass:
        each search starts where the last one could not have missed a boundary."""
        start = 0
        while True:
            found = self._boundary_at.search(self._buf, start)
            if found is not None:
                return found.start() + (self._buf[found.start()] == 0x0A)
            if len(self._buf) > self.max_part_bytes:
                if in_part:
                    raise _StreamError(f"MJPEG part over the {self.max_part_bytes}-byte limit without a "
                                       "Content-Length or a boundary", bad_part=True)
                raise _StreamError(f"no MJPEG boundary in {len(self._buf)} bytes")
            start = max(start, len(self._buf) - self._boundary_len + 1)
            self._fill(deadline)

    def _read_part(self, deadline: float) -> None:
        """Read the next part into ``_part`` (``part_error`` when it is no JPEG); :class:`_StreamError`."""
        self._part, self.part_error = None, None
        del self._buf[:self._next_boundary(deadline, in_part=False)]  # the CR LF after a part, a preamble
        line = self._line(deadline)
        if self._boundary is not None and line.strip().endswith(self._boundary + b"--"):
            raise _StreamError("the camera ended the stream (closing boundary)")
        headers: dict[str, str] = {}
        for _ in range(self.MAX_HEADERS + 1):
            line = self._line(deadline)
            if not line.endswith(b"\n"):
                raise _StreamError(f"MJPEG part header line over {self.MAX_LINE} bytes")
            if not line.strip():
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        else:
            raise _StreamError(f"MJPEG part with over {self.MAX_HEADERS} header lines")
        ctype = headers.get("content-type", "")
        declared = headers.get("content-length", "")
        length = 0
        if declared.isascii() and declared.isdigit():
            if len(declared) > self.MAX_LENGTH_DIGITS:
                raise _StreamError(f"MJPEG part with a Content-Length of {len(declared)} digits, over the "
                                   f"{self.max_part_bytes}-byte limit: not read", bad_part=True)
            length = int(declared)
        if length > self.max_part_bytes:
            raise _StreamError(f"MJPEG part of {length} bytes (Content-Length), over the "
                               f"{self.max_part_bytes}-byte limit: not read", bad_part=True)
        if length:
            while len(self._buf) < length:
                self._fill(deadline)
            body = bytes(self._buf[:length])
            del self._buf[:length]
        else:  # no length (or 0, as FFmpeg reads it): up to the next boundary line
            at = self._next_boundary(deadline, in_part=True)
            body = bytes(self._buf[:at]).removesuffix(b"\n").removesuffix(b"\r")  # the line break before it
            del self._buf[:at]
        if not body.startswith(JPEG_SOI):
            kind = f"of type {ctype}" if ctype else "without a type"
            self.part_error = (f"MJPEG part {kind} ({len(body)} bytes), not a JPEG" if body
                               else f"empty MJPEG part ({kind})")
        self._part = body

    # -- the VideoCapture shape ------------------------------------------------------------
    def isOpened(self) -> bool:  # noqa: N802 - VideoCapture's name
        return self._sock is not None

    def grab(self) -> bool:
        """Read the next part (within ``read_timeout_s``); False when the stream failed (``error``)."""
        if self._first:
            self._first = False
            return True
        try:
            self._read_part(time.monotonic() + self.read_timeout_s)
        except _StreamError as exc:
            self.error = exc.reason
            self.part_error = exc.reason if exc.bad_part else None
            self.release()
            return False
        return True

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        """The part's bytes as a ``uint8`` array (as FFmpeg's raw mode gives a packet)."""
        if self._part is None:
            return False, None
        return True, np.frombuffer(self._part, np.uint8)

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FOURCC:
            return float(cv2.VideoWriter.fourcc(*"MJPG"))
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return prop == cv2.CAP_PROP_FORMAT and value == -1  # raw parts: the only mode there is

    def interrupt(self) -> None:
        """End a read (or the open) under way in another thread now (it fails: the stream is closed)."""
        self._cancelled = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def release(self) -> None:
        sock, self._sock = self._sock, None
        self._buf, self._raw = bytearray(), bytearray()
        self._chunk_left, self._chunk_read, self._body_left = 0, False, None
        if sock is not None:
            sock.close()
