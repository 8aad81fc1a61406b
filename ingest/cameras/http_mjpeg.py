"""An ``http://`` MJPEG camera read by our own parser, in the shape of a raw-mode ``VideoCapture``:
FFmpeg's MJPEG demuxer buffers a whole part however large its ``Content-Length`` says it is (or until
a boundary that may never come), and OpenCV offers no bound but the read timeout; this reader refuses
a part over its limit before reading it."""

from __future__ import annotations

import base64
import http.client
import socket
import time
from urllib.parse import unquote, urljoin, urlsplit

import cv2
import numpy as np

from ingest.cameras.jpeg import JPEG_SOI, MAX_FRAME_BYTES


class _StreamError(Exception):
    """Why an MJPEG stream failed; ``bad_part``: a part was refused (it is counted as a bad frame)."""

    def __init__(self, reason: str, bad_part: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bad_part = bad_part


class HttpMjpegStream:
    """An ``http://`` MJPEG camera (``multipart/x-mixed-replace`` of JPEG parts) in the shape of a
    ``VideoCapture`` in raw mode: :meth:`grab` reads the next part, :meth:`retrieve` gives its bytes.

    What it holds is bounded: a part whose ``Content-Length`` is over ``max_part_bytes`` is refused
    before a byte of it is read, one without ``Content-Length`` as soon as it grows past that
    without a boundary; either way the stream fails (``part_error`` and ``error`` say why), as it
    does when a part is not complete within ``read_timeout_s`` (bytes trickling in do not keep it
    alive) or the camera closes the connection. A part that is not a JPEG (a PNG, text, nothing)
    is handed out with ``part_error`` naming its type: the stream goes on.

    The constructor connects (following up to five ``http://`` redirects, with Basic
    authentication from the URL's user info when the camera asks for it) and reads the first part
    within ``open_timeout_s``; :meth:`isOpened` says whether it got one, ``error`` why not.
    ``not_mjpeg``: the server answered with something else, or wants Digest authentication:
    FFmpeg's to read. :meth:`interrupt` (any thread) ends a read under way at once.
    """

    CHUNK = 65536
    MAX_LINE = 8192
    MAX_HEADERS = 32
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
        self._conn: http.client.HTTPConnection | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._sock: socket.socket | None = None
        self._boundary: bytes | None = None
        self._buf = bytearray()
        self._part: bytes | None = None
        self._first = False  # the part read by the open: the first grab hands it out
        self._timeout_s = open_timeout_s
        deadline = time.monotonic() + open_timeout_s
        try:
            self._connect(deadline)
            if not self.not_mjpeg:
                self._read_part(deadline)
                self._first = True
        except _StreamError as exc:
            self.error, self.part_error = exc.reason, None
            self.release()
        self._timeout_s = read_timeout_s

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
            headers = {"User-Agent": self.USER_AGENT, "Accept": "*/*", "Connection": "close"}
            if auth:
                headers["Authorization"] = auth
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn = http.client.HTTPConnection(host, port, timeout=max(0.001, deadline - time.monotonic()))
            try:
                conn.request("GET", path, headers=headers)
                sock = conn.sock
                resp = conn.getresponse()
            except TimeoutError:
                conn.close()
                raise _StreamError(f"no answer in {self._timeout_s:g} s") from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                conn.close()
                raise _StreamError(f"{type(exc).__name__}: {exc}") from None
            status, challenge = resp.status, (resp.getheader("WWW-Authenticate") or "").lower()
            location = resp.getheader("Location")
            basic = challenge.startswith("basic")
            if status == 401 and parts.username is not None and auth is None and basic:
                user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                auth = "Basic " + base64.b64encode(user.encode()).decode("ascii")
                resp.close()
                conn.close()
                continue
            if status in (301, 302, 303, 307, 308) and location:
                target, auth = urljoin(target, location), None
                resp.close()
                conn.close()
                continue
            if status == 401 and parts.username is not None and auth is None:
                self.not_mjpeg = True  # Digest: FFmpeg speaks it
                resp.close()
                conn.close()
                return
            if status != 200:
                resp.close()
                conn.close()
                raise _StreamError(f"HTTP {status} {resp.reason}".strip())
            if not (resp.getheader("Content-Type") or "").lower().lstrip().startswith("multipart/"):
                self.not_mjpeg = True
                resp.close()
                conn.close()
                return
            boundary = resp.msg.get_param("boundary")  # an MJPEG stream: ours
            token = boundary.strip().lstrip("-") if isinstance(boundary, str) else ""
            self._boundary = token.encode("latin-1", "replace") if token else None
            self._conn, self._resp, self._sock = conn, resp, sock
            return
        raise _StreamError(f"more than {self.MAX_REDIRECTS} redirects")

    # -- reading ---------------------------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        """Read what the camera has sent (at least a byte) into the buffer, by ``deadline``."""
        if self._resp is None or self._sock is None:
            raise _StreamError(self.error or "stream closed")
        wait = deadline - time.monotonic()
        if wait <= 0:
            raise _StreamError(f"no complete MJPEG part in {self._timeout_s:g} s")
        try:
            self._sock.settimeout(wait)
            chunk = self._resp.read1(self.CHUNK)
        except TimeoutError:
            raise _StreamError(f"no complete MJPEG part in {self._timeout_s:g} s") from None
        except (OSError, ValueError, AttributeError, http.client.HTTPException) as exc:
            raise _StreamError(f"read failed: {type(exc).__name__}: {exc}") from None
        if not chunk:
            raise _StreamError("the camera closed the stream")
        self._buf += chunk

    def _line(self, deadline: float) -> bytes:
        """The next line (with its line feed), or ``MAX_LINE`` bytes of a longer one."""
        while True:
            end = self._buf.find(b"\n", 0, self.MAX_LINE)
            if end >= 0 or len(self._buf) >= self.MAX_LINE:
                n = end + 1 if end >= 0 else self.MAX_LINE
                line = bytes(self._buf[:n])
                del self._buf[:n]
                return line
            self._fill(deadline)

    def _is_boundary(self, line: bytes) -> bool:
        text = line.strip()
        return text.startswith(b"--") and (self._boundary is None or self._boundary in text)

    def _read_part(self, deadline: float) -> None:
        """Read the next part into ``_part`` (``part_error`` when it is no JPEG); :class:`_StreamError`."""
        self._part, self.part_error = None, None
        skipped = 0
        while True:  # to the next boundary line (past the CR LF after a part, a preamble)
            line = self._line(deadline)
            if self._is_boundary(line):
                if self._boundary is not None and line.strip().endswith(self._boundary + b"--"):
                    raise _StreamError("the camera ended the stream (closing boundary)")
                break
            skipped += len(line)
            if skipped > self.max_part_bytes:
                raise _StreamError(f"no MJPEG boundary in {skipped} bytes")
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
        length = int(declared) if declared.isascii() and declared.isdigit() else 0
        if length > self.max_part_bytes:
            raise _StreamError(f"MJPEG part of {length} bytes (Content-Length), over the "
                               f"{self.max_part_bytes}-byte limit: not read", bad_part=True)
        if length:
            while len(self._buf) < length:
                self._fill(deadline)
            body = bytes(self._buf[:length])
            del self._buf[:length]
        else:  # no length (or 0, as FFmpeg reads it): up to the next boundary line
            body = self._until_boundary(deadline)
        if not body.startswith(JPEG_SOI):
            kind = f"of type {ctype}" if ctype else "without a type"
            self.part_error = (f"MJPEG part {kind} ({len(body)} bytes), not a JPEG" if body
                               else f"empty MJPEG part ({kind})")
        self._part = body

    def _until_boundary(self, deadline: float) -> bytes:
        """The bytes before the next boundary line (left in the buffer), at most ``max_part_bytes``."""
        marker = b"--" + self._boundary if self._boundary is not None else b"\n--"
        start = 0
        while True:
            at = self._buf.find(marker, start)
            while at >= 0:
                line_start = at + 1 if self._boundary is None else self._buf.rfind(b"\n", 0, at) + 1
                if self._boundary is None or not self._buf[line_start:at].strip(b"-"):
                    body = bytes(self._buf[:line_start])
                    del self._buf[:line_start]
                    return body.removesuffix(b"\n").removesuffix(b"\r")  # the line break before it
                at = self._buf.find(marker, at + 1)
            if len(self._buf) > self.max_part_bytes:
                raise _StreamError(f"MJPEG part over the {self.max_part_bytes}-byte limit without a "
                                   "Content-Length or a boundary", bad_part=True)
            start = max(0, len(self._buf) - len(marker))
            self._fill(deadline)

    # -- the VideoCapture shape ------------------------------------------------------------
    def isOpened(self) -> bool:  # noqa: N802 - VideoCapture's name
        return self._resp is not None

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
        """End a read under way in another thread now (it fails: the stream is closed)."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def release(self) -> None:
        conn, resp, sock = self._conn, self._resp, self._sock
        self._conn, self._resp, self._sock = None, None, None
        self._buf = bytearray()
        for thing in (resp, conn, sock):
            if thing is not None:
                thing.close()
