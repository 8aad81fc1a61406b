"""Frames from one camera: RTSP, HTTP MJPEG or a video file.

:class:`CameraCapture` reads every frame the source delivers (a live stream must be drained or
it lags) and hands out one every ``1 / analysed_fps`` seconds. Files play at their own frame
rate (``realtime``) and start again at the end (``loop``), so a sample stands in for a live
camera. When a stream drops or cannot be opened it retries with exponential backoff
(``backoff_initial`` doubling up to ``backoff_max``); :attr:`CameraCapture.health` tells the
story: ``connected``, ``fps_in``, ``fps_analysed``, ``last_frame_time``, ``reconnects``,
``errors``, ``bad_frames``, ``last_error``, ``retry_at``.

``http://`` MJPEG cameras (a multipart answer, by its type or its first bytes) are read by our own
:class:`HttpMjpegStream`; everything else (RTSP, ``https://``, other HTTP content, a camera asking
for Digest authentication) through OpenCV's FFmpeg ``VideoCapture``, and files through FFmpeg or,
failing that, OpenCV's other backends. FFmpeg's MJPEG demuxer buffers a whole part, however large
its ``Content-Length`` says (or until a boundary that may never come), and OpenCV offers no bound
but the read timeout: our reader refuses a part over ``max_frame_bytes`` (16 MB) unread, drops the
stream and counts a bad frame. Health and logs show a URL's ``user:password@`` as ``***@``.

A camera that accepts the connection and then says nothing must not hold the worker: every
open and read runs with ``open_timeout_s`` / ``read_timeout_s`` (network streams are opened
through our reader or FFmpeg only, never through a default backend without timeouts; a read
that has not delivered a whole frame within ``read_timeout_s`` drops the stream, even if bytes
trickle in). Opens and stream reads run in a helper thread, so :meth:`CameraCapture.next_frame`
returns at its own deadline and at once on ``stop``; a stalled stream counts as dropped (the
worker's ``connected=false`` heartbeat) once ``read_timeout_s`` has passed.

MJPEG sources are read as raw packets (FFmpeg's raw mode, or our reader's parts): each is the
camera's JPEG, checked before it is decoded: for its end-of-image marker (a decoder fills a
truncated JPEG silently, e.g. its bottom part solid green), its size (``max_frame_bytes``) and
the dimensions its frame header (SOF) claims (``max_frame_pixels``, twice 4K UHD by default: a
few bytes can claim 60000x60000 pixels, gigabytes decoded). Truncated, oversized, undecodable,
empty or non-JPEG parts are ``bad_frames``: counted, skipped, never an exception.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np

from ingest.cameras.blocking import BlockingReads, Opener, PendingOpen
from ingest.cameras.http_mjpeg import HttpMjpegStream, shown_url
from ingest.cameras.jpeg import MAX_FRAME_BYTES, MAX_FRAME_PIXELS, complete_jpeg, jpeg_size

log = logging.getLogger(__name__)

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """A frame picked for analysis: the image (BGR), when it was read, and its place in the source."""

    image: np.ndarray
    time: datetime
    index: int
    fps_in: float


MJPEG_FOURCCS = {"MJPG", "mjpg", "JPEG", "jpeg"}


def is_stream_url(url: str) -> bool:
    """True for a network source (``rtsp://``, ``http://``...), False for a local file."""
    return "://" in url and not url.startswith("file://")


def open_video(url: str, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0,
               max_frame_bytes: int = MAX_FRAME_BYTES) -> Any:
    """An open source in ``VideoCapture``'s shape, with open/read timeouts (a hung camera must not block).

    An ``http://`` MJPEG camera (a multipart answer, whatever its ``Content-Type``) is read by
    :class:`HttpMjpegStream` (parts over ``max_frame_bytes`` refused unread), anything else
    through FFmpeg. A local file FFmpeg cannot open is tried once more through OpenCV's other
    backends (some builds open files only there), with the same timeouts; a network stream never
    is: the default backend would wait for OpenCV's built-in 30 s.
    """
    if url[:7].lower() == "http://":
        stream = HttpMjpegStream(url, open_timeout_s, read_timeout_s, max_frame_bytes)
        if not stream.not_mjpeg:
            return stream
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000),
    ]
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    if not cap.isOpened() and not is_stream_url(url):
        cap.release()
        cap = cv2.VideoCapture(url, cv2.CAP_ANY, params)
    return cap


def fourcc_of(cap: Any) -> str:
    """The source's codec as four characters (``MJPG``, ``h264``...), '' when unknown."""
    try:
        code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    except (TypeError, ValueError, OverflowError):
        return ""
    text = code.to_bytes(4, "little", signed=False).decode("latin-1") if 0 < code < 2**32 else ""
    return text if text.isprintable() else ""


class _Rate:
    """Events per second over a sliding window of monotonic timestamps."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._stamps: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._stamps.append(now)
        while self._stamps and now - self._stamps[0] > self.window_s:
            self._stamps.popleft()

    def rate(self, now: float) -> float:
        while self._stamps and now - self._stamps[0] > self.window_s:
            self._stamps.popleft()
        if len(self._stamps) < 2:
            return 0.0
        span = max(now, self._stamps[-1]) - self._stamps[0]
        return (len(self._stamps) - 1) / span if span > 0 else 0.0


class CameraCapture:
    """Opens, reads, samples and reconnects one camera source.

    ``max_frame_bytes`` / ``max_frame_pixels``: the largest JPEG a camera may send, in bytes and
    in the pixels its header claims (:data:`MAX_FRAME_BYTES`, :data:`MAX_FRAME_PIXELS`).
    """

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        analysed_fps: float = 2.0,
        is_file: bool | None = None,
        loop: bool = True,
        realtime: bool = True,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_frame_pixels: int = MAX_FRAME_PIXELS,
        opener: Opener | None = None,
        clock: WallClock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if analysed_fps <= 0:
            raise ValueError("analysed_fps must be positive")
        self.camera_id = camera_id
        self.url = url
        self.analysed_fps = analysed_fps
        self.is_file = ("://" not in url or url.startswith("file://")) if is_file is None else is_file
        self.loop = loop
        self.realtime = realtime
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.read_timeout_s = read_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.max_frame_pixels = max_frame_pixels
        self.opener = opener or (lambda u: open_video(u, open_timeout_s, read_timeout_s, max_frame_bytes))
        self.clock = clock
        self.monotonic = monotonic
        self._cap: Any = None
        self._pending: PendingOpen | None = None
        self._reader: BlockingReads | None = None  # a network source's reads, in a helper thread
        self._raw_jpeg = False  # MJPEG read as raw packets: JPEG bytes checked, then decoded here
        self._failures = 0
        self._retry_at: float | None = None  # monotonic
        self._ever_connected = False
        self.finished = False
        """A file without ``loop`` that reached its end: no more frames."""
        self._index = 0
        self._file_fps = 0.0
        self._play_start = 0.0
        self._played = 0
        self._media_base = 0.0  # seconds of file played before the current open
        self._epoch: datetime | None = None  # wall time of the file's first frame
        self._next_pick = 0.0
        self._in = _Rate()
        self._out = _Rate()
        self.health: dict[str, Any] = {
            "camera": camera_id,
            "connected": False,
            "fps_in": 0.0,
            "fps_analysed": 0.0,
            "last_frame_time": None,
            "frames_in": 0,
            "frames_analysed": 0,
            "reconnects": 0,
            "loops": 0,
            "errors": 0,
            "bad_frames": 0,
            "last_error": None,
            "retry_at": None,
        }
        """Live counters, updated in place: ``connected``, ``fps_in`` (frames read a second),
        ``fps_analysed`` (frames handed out a second), ``last_frame_time`` (UTC), ``frames_in``,
        ``frames_analysed``, ``reconnects`` (successful re-opens after a failure), ``loops``
        (file restarts), ``errors``, ``bad_frames`` (truncated, oversized, undecodable, empty
        or non-JPEG frames, skipped), ``last_error``, ``retry_at`` (UTC, while backing off)."""

    # -- connection ------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._cap is not None

    def _release(self) -> None:
        """Let go of the open source (a read still under way in the helper thread releases it)."""
        cap, reader = self._cap, self._reader
        self._cap = self._reader = None
        if cap is not None and (reader is None or reader.close()):
            cap.release()

    def _fail(self, reason: str) -> None:
        reason = reason.replace(self.url, shown_url(self.url))  # no password in health or logs
        self._release()
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_initial * 2 ** (self._failures - 1))
        self._retry_at = self.monotonic() + delay
        self.health["errors"] += 1
        self.health.update(
            connected=False, last_error=reason, retry_at=self.clock() + timedelta(seconds=delay),
            fps_in=0.0, fps_analysed=0.0,
        )
        log.warning("camera %s: %s (retry in %.1f s)", self.camera_id, reason, delay)

    def _open(self, stop: threading.Event | None = None, deadline: float | None = None) -> bool | None:
        """Open the source, waiting at most until ``deadline`` (monotonic) or ``stop``.

        True: opened. False: failed (backing off now). None: still opening in the helper
        thread (the next call picks it up).
        """
        if self._pending is None:
            self._pending = PendingOpen(self.opener, self.url)
        pending = self._pending
        while not pending.done.is_set():
            if stop is not None and stop.is_set():
                return None
            wait = 1.0 if deadline is None else deadline - self.monotonic()
            if wait <= 0:
                return None
            pending.done.wait(min(wait, 0.05))
        self._pending = None
        cap = pending.cap
        if pending.error is not None:
            self._fail(f"cannot open {self.url}: {type(pending.error).__name__}: {pending.error}")
            return False
        try:
            opened = bool(cap is not None and cap.isOpened())
        except Exception as exc:  # a broken URL must not stop the worker
            self._fail(f"cannot open {self.url}: {type(exc).__name__}: {exc}")
            return False
        if not opened:
            if cap is not None:
                cap.release()
            what = "file not found or unreadable" if self.is_file else "stream unreachable"
            why = getattr(cap, "error", None)  # our MJPEG reader says what went wrong
            self._fail(f"cannot open {self.url}: {what}" + (f" ({why})" if why else ""))
            return False
        self._cap = cap
        if self._ever_connected:
            self.health["reconnects"] += 1
        self._ever_connected = True
        self._retry_at = None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._file_fps = fps if self.is_file and 0 < fps <= 240 else 0.0
        # MJPEG: take the camera's JPEG bytes (raw mode) to check them before decoding.
        self._raw_jpeg = fourcc_of(cap) in MJPEG_FOURCCS and bool(cap.set(cv2.CAP_PROP_FORMAT, -1))
        self._play_start = self.monotonic()
        if self._file_fps:
            self._media_base += self._played / self._file_fps
            if self._epoch is None:
                self._epoch = self.clock()
        self._played = 0
        self.health.update(connected=True, retry_at=None)
        log.info("camera %s: opened %s", self.camera_id, shown_url(self.url))
        return True

    def _restart_file(self) -> bool:
        """Back to the first frame of a file (seek, or reopen when seeking fails)."""
        self.health["loops"] += 1
        if self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0) and self._cap.grab():
            return True
        self._release()
        if not self._open():
            return False
        return bool(self._cap.grab())

    def bad_frame(self, reason: str) -> None:
        """A frame the source delivered but that is unusable: counted, skipped, the stream kept."""
        self.health["bad_frames"] += 1
        self.health["last_error"] = reason
        log.debug("camera %s: bad frame: %s", self.camera_id, reason)

    def close(self) -> None:
        """Release the source (and give up an open still under way)."""
        if self._pending is not None:
            self._pending.abandon()
            self._pending = None
        self._release()
        self.health["connected"] = False

    # -- frames ----------------------------------------------------------------------------
    def next_frame(self, stop: threading.Event | None = None, timeout: float = 1.0) -> CapturedFrame | None:
        """The next frame to analyse; ``None`` after ``timeout`` s without one (or at once on ``stop``).

        Never raises for source trouble: it is counted, and the source reopened after backoff. A
        network read still under way at the deadline goes on in the helper thread; the next call
        takes its frame.
        """
        deadline = self.monotonic() + timeout
        while (stop is None or not stop.is_set()) and not self.finished:
            now = self.monotonic()
            if self._cap is None:
                if self._retry_at is not None and now < self._retry_at:
                    wait = min(self._retry_at, deadline) - now
                    if wait <= 0:
                        return None
                    if stop is not None:
                        stop.wait(wait)
                    else:
                        time.sleep(wait)
                    continue
                opened = self._open(stop, deadline)
                if opened is None:  # still opening: the caller gets control back (heartbeat, stop)
                    return None
                if not opened:
                    if self.monotonic() >= deadline:
                        return None
                    continue
            frame = self._read_one(stop, deadline)
            if frame is not None:
                return frame
            if self.monotonic() >= deadline:
                return None
        return None

    def _grab(self, stop: threading.Event | None, deadline: float) -> bool | None:
        """Grab the next frame: a file here, a stream in the helper thread (None: still reading)."""
        assert self._cap is not None
        if self.is_file:
            if self.realtime and self._file_fps:
                due = self._play_start + self._played / self._file_fps
                wait = due - self.monotonic()
                if wait > 0:
                    time.sleep(min(wait, 1.0))
            ok = bool(self._cap.grab())
            if not ok and self.loop:
                ok = self._restart_file()
            return ok
        if self._reader is None:
            self._reader = BlockingReads(self._cap)
        return self._reader.grab(stop, deadline, self.monotonic)

    def _drop_reason(self) -> str:
        """Why a stream read gave no frame, as far as the source tells."""
        why = getattr(self._cap, "error", None)  # our MJPEG reader knows
        if why:
            return f"stream dropped: {why}"
        took = self._reader.took if self._reader is not None else 0.0
        if took >= 0.9 * self.read_timeout_s:
            return f"stream dropped: no frame in {self.read_timeout_s:g} s (read timeout)"
        # FFmpeg does not tell (its log says "Unexpected Content-type : image/png", say; OpenCV keeps it)
        return "stream dropped (no frame; FFmpeg does not say why: closed, stalled or unreadable stream)"

    def _packet_problem(self, packet: bytes) -> str | None:
        """Why a raw packet (a JPEG) must not be decoded, None when it may."""
        part_error = getattr(self._cap, "part_error", None)  # our MJPEG reader: a PNG part, say
        if part_error:
            return str(part_error)
        if len(packet) > self.max_frame_bytes:
            return f"JPEG of {len(packet)} bytes, over the {self.max_frame_bytes}-byte limit"
        if not complete_jpeg(packet):
            return f"truncated JPEG ({len(packet)} bytes, no end-of-image marker)"
        size = jpeg_size(packet)
        if size is None or not size[0] or not size[1]:
            return f"JPEG without a frame size (no usable SOF header, {len(packet)} bytes)"
        width, height = size
        if width * height > self.max_frame_pixels:
            return (f"JPEG of {width}x{height} pixels, over the {self.max_frame_pixels}-pixel limit "
                    f"({len(packet)} bytes): not decoded")
        return None

    def _read_one(
        self, stop: threading.Event | None = None, deadline: float | None = None
    ) -> CapturedFrame | None:
        """Read one frame from the open source; return it when it is due for analysis.

        A stream read waits until ``deadline`` (monotonic; one read timeout when None) or ``stop``.
        """
        assert self._cap is not None
        if deadline is None:
            deadline = self.monotonic() + self.read_timeout_s
        try:
            ok = self._grab(stop, deadline)
        except Exception as exc:  # cv2.error, or worse: the stream is dropped, never the worker
            self._fail(f"read failed: {type(exc).__name__}: {exc}")
            return None
        if ok is None:  # still reading: the caller gets control back (heartbeat, stop)
            return None
        if not ok:
            if self._cap is not None and self.is_file and not self.loop:
                self.close()
                self.finished = True
                self.health["last_error"] = "end of file"
            elif self._cap is not None:
                refused = None if self.is_file else getattr(self._cap, "part_error", None)
                if refused:  # a part refused before it was read whole (over max_frame_bytes)
                    self.health["frames_in"] += 1
                    self.bad_frame(str(refused))
                self._fail("end of file" if self.is_file else self._drop_reason())
            return None
        self._failures = 0
        self._played += 1
        now = self.monotonic()
        self._in.tick(now)
        self.health["frames_in"] += 1
        self.health["fps_in"] = round(self._in.rate(now), 2)
        packet: bytes | None = None
        if self._raw_jpeg:  # every packet is checked, picked or not: a bad one is not analysed
            try:
                got, raw = self._cap.retrieve()
            except cv2.error as exc:
                got, raw = False, None
                log.debug("camera %s: retrieve failed: %s", self.camera_id, exc)
            packet = raw.tobytes() if got and raw is not None else b""
            problem = self._packet_problem(packet)
            if problem:
                self.bad_frame(problem)
                return None
        # Files are sampled on their own timeline (so realtime=False keeps the cadence), streams
        # on the wall clock.
        media = self._media_base + self._played / self._file_fps if self._file_fps else now
        if media + 1e-6 < self._next_pick:  # tolerance: float steps of 1/fps must not skip a frame
            return None
        if packet is not None:
            try:
                image = cv2.imdecode(np.frombuffer(packet, np.uint8), cv2.IMREAD_COLOR)
            except cv2.error as exc:  # e.g. more pixels than OpenCV's own limit
                self.bad_frame(f"JPEG could not be decoded ({len(packet)} bytes): "
                               f"{getattr(exc, 'err', None) or str(exc).strip()}")
                return None
            if image is None:
                self.bad_frame(f"JPEG could not be decoded ({len(packet)} bytes)")
                return None
        else:
            try:
                ok, image = self._cap.retrieve()
            except cv2.error as exc:
                self._fail(f"frame could not be decoded: {getattr(exc, 'err', None) or str(exc).strip()}")
                return None
            if not ok or image is None:
                self._fail("frame could not be decoded")
                return None
        if image.size == 0:
            self.bad_frame(f"empty frame {image.shape}")
            return None
        period = 1.0 / self.analysed_fps
        target = self._next_pick + period if self._next_pick else media + period
        self._next_pick = target if target > media else media + period
        self._out.tick(now)
        # A file replayed as fast as it decodes (realtime=False) is stamped on its own timeline from
        # the first open, so its spacing is exact whatever the decoding speed. A file played in real
        # time stands in for a live camera and is stamped, like a stream, when the frame is taken:
        # on a loaded machine its decoding falls behind the file's timeline, and stamps from that
        # timeline would drift behind the wall clock until the camera looked offline while sending.
        if self._epoch is not None and not self.realtime:
            when = self._epoch + timedelta(seconds=media)
        else:
            when = self.clock()
        self._index += 1
        self.health.update(
            connected=True,
            last_frame_time=when,
            frames_analysed=self.health["frames_analysed"] + 1,
            fps_analysed=round(self._out.rate(now), 2),
        )
        return CapturedFrame(image=image, time=when, index=self._index, fps_in=self.health["fps_in"])

    def frames(self, stop: threading.Event) -> Iterator[CapturedFrame | None]:
        """Yield frames to analyse until ``stop`` is set (``None`` while the source is down)."""
        while not stop.is_set():
            yield self.next_frame(stop)
