"""Frames from one camera through OpenCV ``VideoCapture``: RTSP, HTTP MJPEG or a video file.

:class:`CameraCapture` reads every frame the source delivers (a live stream must be drained or
it lags) and hands out one every ``1 / analysed_fps`` seconds. Files play at their own frame
rate (``realtime``) and start again at the end (``loop``), so a sample stands in for a live
camera. When a stream drops or cannot be opened it retries with exponential backoff
(``backoff_initial`` doubling up to ``backoff_max``); :attr:`CameraCapture.health` tells the
story: ``connected``, ``fps_in``, ``fps_analysed``, ``last_frame_time``, ``reconnects``,
``errors``, ``bad_frames``, ``last_error``, ``retry_at``.

A camera that accepts the connection and then says nothing must not hold the worker: every
open and read runs with FFmpeg's ``open_timeout_s`` / ``read_timeout_s`` (network streams are
opened through FFmpeg only, never through a default backend without timeouts), and an open
runs in a helper thread, so :meth:`CameraCapture.next_frame` returns at its own deadline (the
worker then sends its ``connected=false`` heartbeat) and at once on ``stop``.

MJPEG sources are read in FFmpeg's raw mode: each packet is the camera's JPEG, checked for
its end-of-image marker before it is decoded (a decoder fills a truncated JPEG silently, e.g.
its bottom part solid green). Truncated, undecodable or empty frames are ``bad_frames``.
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

log = logging.getLogger(__name__)

WallClock = Callable[[], datetime]
Opener = Callable[[str], Any]


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


JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
MJPEG_FOURCCS = {"MJPG", "mjpg", "JPEG", "jpeg"}


def is_stream_url(url: str) -> bool:
    """True for a network source (``rtsp://``, ``http://``...), False for a local file."""
    return "://" in url and not url.startswith("file://")


def open_video(url: str, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0) -> Any:
    """``cv2.VideoCapture`` through FFmpeg with open/read timeouts (a hung camera must not block).

    A local file FFmpeg cannot open is tried once more through OpenCV's other backends (some
    builds open files only there), with the same timeouts; a network stream never is: the
    default backend would wait for OpenCV's built-in 30 s.
    """
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000),
    ]
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    if not cap.isOpened() and not is_stream_url(url):
        cap.release()
        cap = cv2.VideoCapture(url, cv2.CAP_ANY, params)
    return cap


def complete_jpeg(data: bytes) -> bool:
    """True when ``data`` starts like a JPEG and holds its end-of-image marker (``FFD9``) at the end.

    Trailing padding a camera adds after the marker (CR LF, zero bytes) is allowed. In the
    entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so a
    truncated JPEG has no ``FFD9`` near its end.
    """
    return data.startswith(JPEG_SOI) and JPEG_EOI in data[-32:]


def fourcc_of(cap: Any) -> str:
    """The source's codec as four characters (``MJPG``, ``h264``...), '' when unknown."""
    try:
        code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    except (TypeError, ValueError, OverflowError):
        return ""
    text = code.to_bytes(4, "little", signed=False).decode("latin-1") if 0 < code < 2**32 else ""
    return text if text.isprintable() else ""


class _PendingOpen:
    """An open running in a helper thread, so a silent camera never blocks the caller."""

    def __init__(self, opener: Opener, url: str) -> None:
        self.done = threading.Event()
        self.cap: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, args=(opener, url), name="camera-open", daemon=True)
        self._thread.start()

    def _run(self, opener: Opener, url: str) -> None:
        try:
            cap = opener(url)
        except Exception as exc:  # reported to the caller, not raised in this thread
            cap, self.error = None, exc
        with self._lock:
            self.cap = cap
            abandoned = self._abandoned
            self.done.set()
        if abandoned and cap is not None:
            cap.release()

    def abandon(self) -> None:
        """Nobody waits for this open any more: release what it opens when it returns."""
        with self._lock:
            self._abandoned = True
            cap = self.cap if self.done.is_set() else None
        if cap is not None:
            cap.release()


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
    """Opens, reads, samples and reconnects one camera source."""

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
        self.opener = opener or (lambda u: open_video(u, open_timeout_s, read_timeout_s))
        self.clock = clock
        self.monotonic = monotonic
        self._cap: Any = None
        self._pending: _PendingOpen | None = None
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
        (file restarts), ``errors``, ``bad_frames`` (truncated, undecodable or empty frames,
        skipped), ``last_error``, ``retry_at`` (UTC, while backing off)."""

    # -- connection ------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._cap is not None

    def _fail(self, reason: str) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
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
            self._pending = _PendingOpen(self.opener, self.url)
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
            exc = pending.error
            self._fail(f"cannot open {self.url}: {type(exc).__name__}: {exc}")
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
            self._fail(f"cannot open {self.url}: {what}")
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
        log.info("camera %s: opened %s", self.camera_id, self.url)
        return True

    def _restart_file(self) -> bool:
        """Back to the first frame of a file (seek, or reopen when seeking fails)."""
        self.health["loops"] += 1
        if self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0) and self._cap.grab():
            return True
        self._cap.release()
        self._cap = None
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
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.health["connected"] = False

    # -- frames ----------------------------------------------------------------------------
    def next_frame(self, stop: threading.Event | None = None, timeout: float = 1.0) -> CapturedFrame | None:
        """The next frame to analyse; ``None`` after ``timeout`` s without one (or on ``stop``).

        Never raises for source trouble: it is counted, and the source reopened after backoff.
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
            frame = self._read_one()
            if frame is not None:
                return frame
            if self.monotonic() >= deadline:
                return None
        return None

    def _read_one(self) -> CapturedFrame | None:
        """Read one frame from the open source; return it when it is due for analysis."""
        assert self._cap is not None
        if self.realtime and self._file_fps:
            due = self._play_start + self._played / self._file_fps
            wait = due - self.monotonic()
            if wait > 0:
                time.sleep(min(wait, 1.0))
        try:
            ok = self._cap.grab()
            if not ok and self.is_file and self.loop:
                ok = self._restart_file()
        except cv2.error as exc:
            self._fail(f"read failed: {exc}")
            return None
        if not ok:
            if self._cap is not None and self.is_file and not self.loop:
                self.close()
                self.finished = True
                self.health["last_error"] = "end of file"
            elif self._cap is not None:
                self._fail("end of file" if self.is_file else "stream dropped (no frame)")
            return None
        self._failures = 0
        self._played += 1
        now = self.monotonic()
        self._in.tick(now)
        self.health["frames_in"] += 1
        self.health["fps_in"] = round(self._in.rate(now), 2)
        packet: bytes | None = None
        if self._raw_jpeg:  # every packet is checked, picked or not: a bad one is not analysed
            got, raw = self._cap.retrieve()
            packet = raw.tobytes() if got and raw is not None else b""
            if not complete_jpeg(packet):
                self.bad_frame(f"truncated JPEG ({len(packet)} bytes, no end-of-image marker)")
                return None
        # Files are sampled on their own timeline (so realtime=False keeps the cadence), streams
        # on the wall clock.
        media = self._media_base + self._played / self._file_fps if self._file_fps else now
        if media + 1e-6 < self._next_pick:  # tolerance: float steps of 1/fps must not skip a frame
            return None
        if packet is not None:
            image = cv2.imdecode(np.frombuffer(packet, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                self.bad_frame(f"JPEG could not be decoded ({len(packet)} bytes)")
                return None
        else:
            ok, image = self._cap.retrieve()
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
