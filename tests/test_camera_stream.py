"""A live HTTP MJPEG camera (real footage, served on 127.0.0.1) that drops and comes back."""

from __future__ import annotations

import base64
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ingest.cameras.capture import CameraCapture, CapturedFrame, jpeg_size, open_video
from ingest.cameras.http_mjpeg import HttpMjpegStream
from ingest.cameras.mjpeg import BOUNDARY, MjpegServer, file_frames
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraSettings, VisionSettings
from ioc.events import decode
from tests.waiting import wait_for

VTEST = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras" / "vtest.mp4"


def gathering(capture: CameraCapture, frames: list[CapturedFrame], n: int,
              timeout: float = 1.0) -> Callable[[], bool]:
    """A condition for :func:`wait_for`: reads a frame into ``frames`` each time; true once ``n`` are in."""

    def enough() -> bool:
        frame = capture.next_frame(timeout=timeout)
        if frame is not None:
            frames.append(frame)
        return len(frames) >= n

    return enough


@pytest.fixture
def server() -> Any:
    srv = MjpegServer(file_frames(VTEST), fps=10).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_worker_reconnects_with_backoff_when_the_stream_drops(
        server: MjpegServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ingest.cameras.capture")
    attempts: list[tuple[float, bool]] = []

    def recording_opener(url: str) -> Any:  # the real opener, with the time of each try noted
        cap = open_video(url, open_timeout_s=2, read_timeout_s=2)
        attempts.append((time.monotonic(), cap.isOpened()))
        return cap

    cam = CameraSettings(
        id="hue-cam-mjpeg", url=server.url, analysed_fps=5, heartbeat_s=0.3, keyframe_every_s=0
    )
    capture = CameraCapture(
        cam.id, server.url, analysed_fps=5, backoff_initial=0.2, backoff_max=0.8, opener=recording_opener
    )
    bus = MemoryBus()
    sub = bus.subscribe(["ioc.cameras.detections", "ioc.cameras.frame_stats"], "t")
    worker = CameraWorker(
        cam, bus.publisher(), capture=capture, vision=VisionSettings(keyframes_dir=tmp_path)
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: capture.health["frames_analysed"] >= 5, "frames from the MJPEG stream")
        assert capture.health["connected"] and capture.health["reconnects"] == 0
        # frames read per second: measured, so above zero; how many depends on the machine's load
        health = capture.health
        assert health["fps_in"] > 0 and health["frames_in"] >= health["frames_analysed"]
        before = capture.health["frames_analysed"]

        caplog.clear()
        server.stop()  # the camera drops off the network
        wait_for(lambda: capture.health["errors"] >= 4, "failed reconnect attempts")
        assert not capture.health["connected"] and capture.health["retry_at"] is not None
        # the backoff doubles from 0.2 s up to the 0.8 s cap: 0.2 after the drop, then 0.4, 0.8, 0.8...
        delays = [float(m) for m in re.findall(r"retry in ([\d.]+) s", caplog.text)]
        assert delays[:4] == [0.2, 0.4, 0.8, 0.8], delays
        # and no retry comes before its delay is over (a busy machine can only make it later)
        down = [t for t, ok in attempts if not ok]
        gaps = [b - a for a, b in zip(down, down[1:], strict=False)]
        assert gaps[0] >= 0.4 - 0.01 and gaps[1] >= 0.8 - 0.01, gaps
        wait_for(lambda: worker.health["published"] > 0 and not worker.health["connected"], "health")

        server.start()  # same port: the camera is back
        wait_for(
            lambda: capture.health["connected"] and capture.health["frames_analysed"] > before + 3,
            "frames after the stream came back",
        )
        assert capture.health["reconnects"] == 1
        assert capture.health["last_frame_time"] is not None
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert server.clients_served >= 2

    messages = sub.poll(100_000, 0.1)
    stats = [decode(m.value) for m in messages if m.topic == "ioc.cameras.frame_stats"]
    connected = [s.connected for s in stats]
    assert connected[0] is True and False in connected and connected[-1] is True  # heartbeats while down
    i = connected.index(False)
    assert True in connected[i:]
    detections = [decode(m.value) for m in messages if m.topic == "ioc.cameras.detections"]
    assert detections and {m.key for m in messages} == {"hue-cam-mjpeg"}
    assert {d.frame_width for d in detections} == {640}


# -- cameras that accept the connection and say nothing --------------------------------------
class TcpCamera:
    """A real TCP listener on 127.0.0.1 whose :meth:`answer` runs for each connection accepted, on a
    thread of its own; :meth:`close` ends the listener and every connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.accepted = 0
        self.closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.answer, args=(conn, self.accepted), daemon=True).start()
            self.accepted += 1

    def answer(self, conn: socket.socket, n: int) -> None:
        """Connection ``n`` (from 0): say nothing."""

    def close(self) -> None:
        self.closing.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept
        except OSError:
            pass
        self.sock.close()
        for conn in self.conns:
            conn.close()
        self._thread.join(timeout=5)


class SilentCamera(TcpCamera):
    """Accepts and then never answers (a hung RTSP camera), or, with ``http_headers``, reads the
    request, sends the MJPEG response headers and stalls."""

    def __init__(self, http_headers: bool = False) -> None:
        self.http_headers = http_headers
        super().__init__()

    def answer(self, conn: socket.socket, n: int) -> None:
        if self.http_headers:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; "
                             b"boundary=ioc-mjpeg-frame\r\nCache-Control: no-cache\r\n\r\n")
            except OSError:
                pass

    @property
    def url(self) -> str:
        if self.http_headers:
            return f"http://127.0.0.1:{self.port}/stream.mjpg"
        return f"rtsp://127.0.0.1:{self.port}/stream1"


@pytest.fixture(params=["rtsp-silent", "http-stalls-after-headers"])
def silent(request: pytest.FixtureRequest) -> Any:
    cam = SilentCamera(http_headers=request.param.startswith("http"))
    try:
        yield cam
    finally:
        cam.close()


def test_open_of_a_silent_camera_gives_up_after_the_open_timeout(silent: SilentCamera) -> None:
    started = time.monotonic()
    cap = open_video(silent.url, open_timeout_s=1, read_timeout_s=1)
    elapsed = time.monotonic() - started
    assert not cap.isOpened()
    cap.release()
    assert silent.accepted >= 1
    # FFmpeg gives up after 1 s; the old fallback to a VideoCapture without timeouts waited 30 s more.
    assert elapsed < 15, f"open took {elapsed:.1f} s with open_timeout_s = 1"


def test_worker_on_a_silent_camera_sends_heartbeats_retries_and_stops_at_once(
    silent: SilentCamera, tmp_path: Path
) -> None:
    cam = CameraSettings(id="hue-cam-silent", url=silent.url, heartbeat_s=0.3, keyframe_every_s=0)
    # A long open timeout: the worker must stay responsive while an open is under way.
    vision = VisionSettings(keyframes_dir=tmp_path, open_timeout_s=30, read_timeout_s=30,
                            backoff_initial=0.2, backoff_max=0.4)
    bus = MemoryBus()
    sub = bus.subscribe(["ioc.cameras.frame_stats"], "t")
    worker = CameraWorker(cam, bus.publisher(), vision=vision)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    beats: list[Any] = []
    try:
        def two_heartbeats() -> bool:
            beats.extend(decode(m.value) for m in sub.poll(1000, 0.05))
            return sum(not b.connected for b in beats) >= 2

        wait_for(two_heartbeats, "connected=false heartbeats while the open hangs")
        assert silent.accepted >= 1 and not worker.health["connected"]
    finally:
        stopped_at = time.monotonic()
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 5  # stop is not held up by the hanging open


def test_worker_on_a_silent_camera_fails_each_open_after_its_timeout_and_retries(
    silent: SilentCamera, tmp_path: Path
) -> None:
    capture = CameraCapture("hue-cam-silent", silent.url, backoff_initial=0.1, backoff_max=0.2,
                            open_timeout_s=0.5, read_timeout_s=0.5)
    stop = threading.Event()
    try:
        wait_for(lambda: capture.next_frame(stop, timeout=0.5) is None and capture.health["errors"] >= 2,
                 "two failed opens")
    finally:
        capture.close()
    assert "stream unreachable" in capture.health["last_error"]
    assert silent.accepted >= 2


# -- a camera that sends truncated JPEGs -----------------------------------------------------
def test_truncated_jpegs_from_an_mjpeg_camera_are_bad_frames_not_analysed() -> None:
    # Every third part is a real vtest frame cut to 60 % of its bytes: a decoder fills the rest
    # (the bottom 40 % one flat colour) without an error.
    def cut(index: int, jpeg: bytes) -> bytes:
        return jpeg[: int(len(jpeg) * 0.6)] if index % 3 == 1 else jpeg

    with MjpegServer(file_frames(VTEST), fps=20, parts=cut) as server:
        capture = CameraCapture("hue-cam-mjpeg", server.url, analysed_fps=20, open_timeout_s=5,
                                read_timeout_s=5)
        frames: list[CapturedFrame] = []
        try:
            wait_for(gathering(capture, frames, 12), "12 good frames")
        finally:
            capture.close()
    assert capture.health["bad_frames"] >= 4
    assert "truncated JPEG" in capture.health["last_error"]
    assert capture.health["frames_in"] >= len(frames) + capture.health["bad_frames"]
    for frame in frames:  # real footage to the last row: no flat band from a filled-in truncation
        bottom = frame.image[int(frame.image.shape[0] * 0.6):]
        assert float(bottom.std()) > 10


def test_a_sample_played_in_real_time_is_stamped_like_a_live_camera_when_decoding_falls_behind() -> None:
    """A loaded machine decodes a real-time sample slower than its timeline: its frames must still
    carry the time they were taken, or the camera drifts behind the wall clock and looks offline."""
    from datetime import UTC, datetime, timedelta

    wall = [datetime(2026, 12, 4, 12, 0, tzinfo=UTC)]

    def clock() -> datetime:
        wall[0] += timedelta(seconds=5)  # every frame costs the machine 5 s of wall time
        return wall[0]

    capture = CameraCapture("hue-cam-slow", str(VTEST), analysed_fps=2, realtime=True, clock=clock)
    stop = threading.Event()
    try:
        frames = [f for f in (capture.next_frame(stop, timeout=30) for _ in range(6)) if f is not None]
    finally:
        capture.close()
    assert len(frames) >= 3
    # A file timeline would have put them 0.5 s apart, minutes behind the wall clock by now.
    assert wall[0] - frames[-1].time <= timedelta(seconds=10)
    assert frames[-1].time - frames[0].time >= timedelta(seconds=5 * (len(frames) - 1))


# -- hostile MJPEG cameras: huge dimensions, huge parts, stalls, parts that are no JPEG --------
def small_frame(index: int) -> np.ndarray:
    """A 160x120 frame with a moving block: a few kB as JPEG."""
    image = np.full((120, 160, 3), 70, np.uint8)
    x = 10 + index * 7 % 120
    cv2.rectangle(image, (x, 30), (x + 25, 90), (230, 230, 230), -1)
    return image


def small_jpeg(index: int = 0) -> bytes:
    ok, data = cv2.imencode(".jpg", small_frame(index), [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return data.tobytes()


def claim_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOFn) patched to claim ``width`` x ``height`` pixels."""
    data = bytearray(jpeg)
    i = 2
    while data[i + 1] not in (0xC0, 0xC1, 0xC2):
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    data[i + 5:i + 7] = height.to_bytes(2, "big")
    data[i + 7:i + 9] = width.to_bytes(2, "big")
    return bytes(data)


def mjpeg_part(data: bytes, content_type: str = "image/jpeg", length: int | None = -1) -> bytes:
    """One multipart part (``length`` -1: the real one, None: no Content-Length header)."""
    head = f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\n"
    if length is not None:
        head += f"Content-Length: {len(data) if length == -1 else length}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


Script = Callable[[int], Iterator[bytes | float | None]]


MJPEG_HEAD = (b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY.encode()
              + b"\r\n\r\n")


class ScriptedCamera(TcpCamera):
    """A real HTTP MJPEG camera on 127.0.0.1: connection ``n`` (from 0) sends ``head`` (an MJPEG
    answer's status line and headers by default), then what ``script(n)`` yields, bytes as they
    come, a float: a pause of that many seconds, None: silence until closed."""

    def __init__(self, script: Script, head: bytes = MJPEG_HEAD) -> None:
        self.script = script
        self.head = head
        self.sent: dict[int, int] = {}  # bytes of the script sent, per connection
        self.finished: set[int] = set()  # connections whose script was sent to the end
        self.stalled = threading.Event()
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"

    @property
    def connections(self) -> int:
        return self.accepted

    def answer(self, conn: socket.socket, n: int) -> None:
        self.sent[n] = 0
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            conn.sendall(self.head)
            for item in self.script(n):
                if self.closing.is_set():
                    return
                if item is None:
                    self.stalled.set()
                    self.closing.wait()
                    return
                if isinstance(item, float):
                    self.closing.wait(item)
                    continue
                conn.sendall(item)
                self.sent[n] += len(item)
            self.finished.add(n)
        except OSError:
            return


def good_parts(count: int, fps: float = 20.0) -> Iterator[bytes | float | None]:
    for i in range(count):
        yield mjpeg_part(small_jpeg(i))
        yield 1.0 / fps


def test_jpeg_size_reads_the_frame_header_of_baseline_and_progressive_jpegs() -> None:
    assert jpeg_size(small_jpeg()) == (160, 120)
    ok, progressive = cv2.imencode(".jpg", small_frame(0), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and jpeg_size(progressive.tobytes()) == (160, 120)
    assert jpeg_size(claim_size(small_jpeg(), 60000, 60000)) == (60000, 60000)
    assert jpeg_size(b"\x89PNG\r\n\x1a\n") is None
    assert jpeg_size(small_jpeg()[:10]) is None  # cut before its frame header


def test_jpegs_claiming_huge_dimensions_are_bad_frames_never_decoded() -> None:
    # Every other part is the same 160x120 JPEG claiming 60000x60000 pixels (the decoder raised
    # cv2.error out of next_frame) or 5000x4000 (it decoded a 60 MB frame of garbage).
    def claim(index: int, jpeg: bytes) -> bytes:
        if index % 2 == 0:
            return jpeg
        return claim_size(jpeg, 60000, 60000) if index % 4 == 1 else claim_size(jpeg, 5000, 4000)

    with MjpegServer(small_frame, fps=20, parts=claim) as server:
        capture = CameraCapture("hue-cam-bomb", server.url, analysed_fps=20, open_timeout_s=5,
                                read_timeout_s=5)
        frames: list[CapturedFrame] = []

        def frames_and_bad_ones() -> bool:
            frame = capture.next_frame(timeout=1)
            if frame is not None:
                frames.append(frame)
            return len(frames) >= 6 and capture.health["bad_frames"] >= 4

        try:
            wait_for(frames_and_bad_ones, "good frames and refused ones")
        finally:
            capture.close()
    assert {frame.image.shape for frame in frames} == {(120, 160, 3)}
    assert "pixels, over the 16588800-pixel limit" in capture.health["last_error"]
    assert capture.health["errors"] == 0 and capture.health["reconnects"] == 0


def test_a_jpeg_the_decoder_refuses_is_a_bad_frame_and_the_worker_goes_on(tmp_path: Path) -> None:
    # With the header check set above OpenCV's own limit, imdecode raises: a bad frame, no exception.
    def claim(index: int, jpeg: bytes) -> bytes:
        return claim_size(jpeg, 60000, 60000) if index % 2 else jpeg

    with MjpegServer(small_frame, fps=20, parts=claim) as server:
        capture = CameraCapture("hue-cam-bomb", server.url, analysed_fps=20, open_timeout_s=5,
                                read_timeout_s=5, max_frame_pixels=2**40)
        cam = CameraSettings(id="hue-cam-bomb", url=server.url, analysed_fps=20, heartbeat_s=0.5,
                             keyframe_every_s=0)
        bus = MemoryBus()
        worker = CameraWorker(cam, bus.publisher(), capture=capture,
                              vision=VisionSettings(keyframes_dir=tmp_path))
        try:
            def analysed_and_refused() -> bool:
                worker.step()  # raised cv2.error (pixels <= CV_IO_MAX_IMAGE_PIXELS)
                return worker.health["frames_analysed"] >= 3 and worker.health["bad_frames"] >= 3

            wait_for(analysed_and_refused, "frames analysed and undecodable ones counted")
        finally:
            capture.close()
    assert "JPEG could not be decoded" in capture.health["last_error"]
    assert "CV_IO_MAX_IMAGE_PIXELS" in capture.health["last_error"]
    assert capture.health["errors"] == 0


BIG_PART_SENT = 32 * 1024 * 1024  # what the camera tries to send of its oversized part


@pytest.mark.parametrize("declared", [True, False], ids=["content-length-200MB", "no-length-no-boundary"])
def test_an_mjpeg_part_over_the_size_limit_is_refused_unread_and_the_stream_reconnects(
        declared: bool, tmp_path: Path) -> None:
    zeros = bytes(256 * 1024)

    def script(n: int) -> Iterator[bytes | float | None]:
        if n == 0:  # three frames, then a part of 200 MB (or without length or end) and silence
            yield from good_parts(3)
            head = mjpeg_part(b"", length=200_000_000 if declared else None)[:-2]
            yield head + b"\xff\xd8"
            for _ in range(BIG_PART_SENT // len(zeros)):
                yield zeros
            yield None
        yield from good_parts(100_000)

    camera = ScriptedCamera(script)
    vision = VisionSettings.model_validate({  # as [vision] in the config file sets them
        "open_timeout_s": 5, "read_timeout_s": 60, "backoff_initial": 0.1, "max_frame_bytes": 1_000_000,
        "keyframes_dir": str(tmp_path)})
    capture = CameraWorker(CameraSettings(id="hue-cam-big", url=camera.url, analysed_fps=20),
                           MemoryBus().publisher(), vision=vision).capture
    try:
        def refused() -> bool:
            capture.next_frame(timeout=0.5)
            return capture.health["bad_frames"] >= 1
        wait_for(refused, "the oversized part refused")
        reason = capture.health["last_error"]
        assert "over the 1000000-byte limit" in reason, reason
        assert ("200000000 bytes (Content-Length)" in reason) is declared
        assert capture.health["errors"] == 1  # the stream was dropped, not read for a minute
        wait_for(lambda: capture.next_frame(timeout=0.5) is not None and capture.health["reconnects"] == 1,
                 "frames after the reconnect")
    finally:
        capture.close()
        camera.close()
    assert 0 not in camera.finished  # the reader let go of the part: the camera could not send it all
    assert camera.sent[0] < BIG_PART_SENT


def test_a_stalled_camera_holds_next_frame_neither_past_its_deadline_nor_past_stop() -> None:
    def script(n: int) -> Iterator[bytes | float | None]:
        yield from good_parts(3)
        jpeg = small_jpeg()
        yield mjpeg_part(jpeg)[: 60 + len(jpeg) // 2]  # half a part, then silence
        yield None

    camera = ScriptedCamera(script)
    # A read timeout of a minute: the old reads blocked that long whatever the caller's deadline.
    capture = CameraCapture("hue-cam-stall", camera.url, analysed_fps=20, open_timeout_s=5,
                            read_timeout_s=60)
    stop = threading.Event()
    try:
        wait_for(lambda: capture.next_frame(timeout=0.5) is None and camera.stalled.is_set(), "the stall")
        started = time.monotonic()
        assert capture.next_frame(timeout=0.2) is None
        assert time.monotonic() - started < 30  # its own deadline, not the 60 s read timeout
        assert capture.health["connected"]  # not dropped before read_timeout_s

        returned = threading.Event()
        waiter = threading.Thread(target=lambda: (capture.next_frame(stop, timeout=600), returned.set()),
                                  daemon=True)
        waiter.start()
        stop.set()
        waiter.join(timeout=30)
        assert returned.is_set()  # at once on stop, not after the read timeout
    finally:
        capture.close()
        camera.close()


def test_a_part_that_is_no_jpeg_is_a_bad_frame_named_by_its_type_and_the_stream_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest.cameras.capture")
    png = cv2.imencode(".png", small_frame(0))[1].tobytes()

    def script(n: int) -> Iterator[bytes | float | None]:
        for i in range(100_000):
            yield mjpeg_part(small_jpeg(i))
            yield [mjpeg_part(png, "image/png"), mjpeg_part(b"hello\r\n", "text/plain"),
                   mjpeg_part(b"")][i % 3]
            yield 0.05

    camera = ScriptedCamera(script)
    capture = CameraCapture("hue-cam-png", camera.url, analysed_fps=20, open_timeout_s=5, read_timeout_s=5)
    frames = 0

    def frames_and_bad_parts() -> bool:
        nonlocal frames
        frames += capture.next_frame(timeout=0.5) is not None
        return frames >= 6 and capture.health["bad_frames"] >= 6

    try:
        wait_for(frames_and_bad_parts, "frames between the parts that are no JPEG")
    finally:
        capture.close()
        camera.close()
    # FFmpeg gave up on the stream at the first PNG part: "stream dropped (no frame)", a reconnect.
    assert capture.health["errors"] == 0 and capture.health["reconnects"] == 0 and camera.connections == 1
    assert "MJPEG part of type image/png (" in caplog.text and "), not a JPEG" in caplog.text
    assert "MJPEG part of type text/plain (7 bytes), not a JPEG" in caplog.text
    assert "empty MJPEG part" in caplog.text


def test_our_mjpeg_reader_follows_a_redirect_answers_basic_auth_and_reads_chunked_parts() -> None:
    """What FFmpeg did for an HTTP camera, ours does too: a redirect, Basic authentication from the
    URL, chunked transfer encoding, a boundary declared with dashes, parts without a length."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    wanted = "Basic " + base64.b64encode(b"op erator:p@ss").decode()

    class Camera(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            if self.path == "/video":
                self.send_response(302)
                self.send_header("Location", "/cgi/mjpeg?ch=1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("Authorization") != wanted:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", 'multipart/x-mixed-replace; boundary="--myboundary"')
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(100_000):
                    part = b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\n" + small_jpeg(i) + b"\r\n"
                    for at in range(0, len(part), 700):  # chunks that cut headers and JPEGs anywhere
                        piece = part[at:at + 700]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                    time.sleep(0.02)
            except OSError:
                return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://op%20erator:p%40ss@127.0.0.1:{server.server_address[1]}/video"
    capture = CameraCapture("hue-cam-cgi", url, analysed_fps=50, open_timeout_s=5, read_timeout_s=5)
    frames: list[CapturedFrame] = []
    try:
        wait_for(gathering(capture, frames, 5, timeout=0.5),
                 "frames through the redirect, the login and the chunks")
    finally:
        capture.close()
        server.shutdown()
        server.server_close()
    assert {frame.image.shape for frame in frames} == {(120, 160, 3)}
    assert capture.health["bad_frames"] == 0 and capture.health["errors"] == 0


# -- cameras that dodge the bounds: no multipart type, trickled heads and chunks, tricky parts ---
def test_a_multipart_body_under_another_type_or_none_stays_with_our_reader_and_its_limit() -> None:
    """FFmpeg recognises a multipart body by its first bytes, whatever the Content-Type: an answer
    without one went to it, and it buffered a part of any size (300 MB declared: 963 MB held)."""
    for content_type in (None, "application/octet-stream", "image/jpeg"):
        head = b"HTTP/1.1 200 OK\r\n" + (b"Content-Type: %s\r\n" % content_type.encode()
                                          if content_type else b"") + b"\r\n"

        def script(n: int) -> Iterator[bytes | float | None]:
            yield from good_parts(3)
            yield mjpeg_part(b"", length=200_000_000)[:-2] + b"\xff\xd8"
            yield None

        camera = ScriptedCamera(script, head=head)
        cap = open_video(camera.url, open_timeout_s=5, read_timeout_s=5, max_frame_bytes=1_000_000)
        try:
            assert isinstance(cap, HttpMjpegStream) and cap.isOpened(), (content_type, type(cap))
            assert [cap.grab() for _ in range(3)] == [True] * 3
            assert cap.retrieve()[1].tobytes() == small_jpeg(2)
            assert not cap.grab()
            assert "200000000 bytes (Content-Length), over the 1000000-byte limit" in cap.part_error
        finally:
            cap.release()
            camera.close()


def test_an_answer_that_is_no_multipart_stream_is_left_to_ffmpeg() -> None:
    def script(n: int) -> Iterator[bytes | float | None]:
        yield b"\x47" + bytes(187)  # an MPEG-TS packet
        yield None

    camera = ScriptedCamera(script, head=b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
    try:
        stream = HttpMjpegStream(camera.url, open_timeout_s=5)
        assert stream.not_mjpeg and not stream.isOpened() and stream.error is None
    finally:
        camera.close()


def interim_answers(n: int) -> Iterator[bytes | float | None]:
    for _ in range(100):  # 20 s of "100 Continue", each within a second of the last
        yield b"HTTP/1.1 100 Continue\r\n\r\n"
        yield 0.2
    yield None


def trickled_head(n: int) -> Iterator[bytes | float | None]:
    for byte in b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 80:  # 20 s, a byte every 0.2 s
        yield bytes([byte])
        yield 0.2
    yield None


@pytest.mark.parametrize("script", [interim_answers, trickled_head], ids=["100-continue-flood", "trickled"])
def test_an_open_fails_at_its_timeout_however_the_camera_trickles_its_answer(script: Script) -> None:
    camera = ScriptedCamera(script, head=b"")
    capture = CameraCapture("hue-cam-trickle", camera.url, open_timeout_s=1, read_timeout_s=1,
                            backoff_initial=0.1, backoff_max=0.2)
    try:
        wait_for(lambda: capture.next_frame(timeout=0.5) is None and capture.health["errors"] >= 1,
                 "the open given up")
        trickling = not camera.stalled.is_set()
    finally:
        capture.close()
        camera.close()
    assert "no answer in 1 s" in capture.health["last_error"]
    # given up while the camera still trickled (each byte came within the 1 s), not once it fell silent
    assert trickling


def test_closing_a_capture_ends_an_open_under_way_and_its_thread() -> None:
    def script(n: int) -> Iterator[bytes | float | None]:
        while True:
            yield b"HTTP/1.1 100 Continue\r\n\r\n"
            yield 0.2

    camera = ScriptedCamera(script, head=b"")
    before = set(threading.enumerate())
    capture = CameraCapture("hue-cam-trickle", camera.url, open_timeout_s=60, read_timeout_s=60)
    try:
        assert capture.next_frame(timeout=0.2) is None
        opening = [t for t in threading.enumerate() if t.name == "camera-open" and t not in before]
        assert opening
        wait_for(lambda: camera.sent.get(0, 0) > 0, "the camera answering")
        capture.close()
        # at once, not at the 60 s open timeout (nor never, as each socket read waited 60 s)
        wait_for(lambda: not any(t.is_alive() for t in opening), "the open's thread to end", timeout=30)
    finally:
        capture.close()
        camera.close()


def test_a_chunked_stream_whose_chunk_size_trickles_in_drops_at_the_read_timeout() -> None:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n")

    def script(n: int) -> Iterator[bytes | float | None]:
        part = mjpeg_part(small_jpeg())
        yield b"%x\r\n%s\r\n" % (len(part), part)
        for byte in b"5;" + b"x" * 100:  # a chunk-size line, a byte every 0.2 s
            yield bytes([byte])
            yield 0.2
        yield None

    camera = ScriptedCamera(script, head=head)
    stream = HttpMjpegStream(camera.url, open_timeout_s=5, read_timeout_s=1)
    try:
        assert stream.isOpened() and stream.grab() and stream.part_error is None
        assert not stream.grab()
        trickling = not camera.stalled.is_set()
    finally:
        stream.release()
        camera.close()
    assert stream.error == "no complete MJPEG part in 1 s"
    assert trickling  # dropped while the size line still trickled in, not once the camera fell silent


@pytest.mark.parametrize("end", ["boundary", "read-timeout", "interrupt"])
def test_a_part_full_of_boundary_lookalikes_is_scanned_once_and_ends_on_time(end: str) -> None:
    """Boundary ``x``, a part without length whose body is ``--x`` over and over without a line
    break: each lookalike was checked back to the start of the part (512 kB: 6 s of CPU)."""
    jpeg = small_jpeg()
    lookalikes = b"\xff\xd8" + b"--x" * 175_000
    good = b"--x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(jpeg), jpeg)

    def script(n: int) -> Iterator[bytes | float | None]:
        yield good
        yield b"--x\r\nContent-Type: image/jpeg\r\n\r\n" + lookalikes
        if end == "boundary":
            yield b"\r\n" + good
        yield None

    camera = ScriptedCamera(
        script, head=b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=x\r\n\r\n")
    stream = HttpMjpegStream(camera.url, open_timeout_s=5, read_timeout_s=1 if end == "read-timeout" else 600)
    result: dict[str, Any] = {}

    def grab() -> None:
        cpu = time.thread_time()
        result["ok"] = stream.grab()
        result["cpu"] = time.thread_time() - cpu

    try:
        assert stream.grab() and stream.part_error is None
        reader = threading.Thread(target=grab, daemon=True)
        reader.start()
        if end == "interrupt":
            wait_for(camera.stalled.is_set, "the whole part sent")
            stream.interrupt()
        reader.join(timeout=60)
        assert not reader.is_alive()
        assert result["cpu"] < 0.5, result
        if end == "boundary":
            assert result["ok"] and stream.retrieve()[1].tobytes() == lookalikes
            assert stream.grab() and stream.retrieve()[1].tobytes() == jpeg
    finally:
        stream.release()
        camera.close()
    if end != "boundary":
        assert result["ok"] is False
        assert stream.error == ("no complete MJPEG part in 1 s" if end == "read-timeout" else "interrupted")


@pytest.mark.parametrize("digits", ["1" * 5001, "0" * 4990 + "1234"], ids=["5001-digits", "zero-padded"])
def test_a_content_length_of_thousands_of_digits_is_a_refused_part_never_an_exception(digits: str) -> None:
    def script(n: int) -> Iterator[bytes | float | None]:
        yield from good_parts(1)
        yield f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {digits}\r\n\r\n".encode()
        yield b"\xff\xd8"
        yield None

    camera = ScriptedCamera(script)
    stream = HttpMjpegStream(camera.url, open_timeout_s=5, read_timeout_s=5)
    try:
        assert stream.grab() and stream.part_error is None
        assert not stream.grab()  # int() raised ValueError (over 4300 digits) out of grab
    finally:
        stream.release()
        camera.close()
    assert stream.part_error == (f"MJPEG part with a Content-Length of {len(digits)} digits, over the "
                                 "16777216-byte limit: not read")


def test_jpeg_size_walks_a_few_markers_not_the_whole_jpeg() -> None:
    rest = small_jpeg()[2:]  # after its SOI: APP0, tables, the frame header, the scan
    app1 = b"\xff\xe1\xff\xff" + bytes(65533)  # an EXIF segment as large as they come
    # a camera's JPEG with EXIF and an ICC profile before its frame header is still read
    assert jpeg_size(b"\xff\xd8" + app1 + b"\xff\xe2\x80\x00" + bytes(0x7FFE) + rest) == (160, 120)
    # fill bytes, empty segments, a frame header past 256 kB: given up, not walked to the end
    assert jpeg_size(b"\xff\xd8" + b"\xff" * 1000 + rest) is None
    assert jpeg_size(b"\xff\xd8" + b"\xff\xe0\x00\x02" * 1000 + rest) is None
    assert jpeg_size(b"\xff\xd8" + app1 * 5 + rest) is None
    huge = [b"\xff\xd8" + b"\xff" * (16 << 20), b"\xff\xd8" + b"\xff\x01" * (8 << 20),
            b"\xff\xd8" + b"\xff\xe0\x00\x02" * (4 << 20)]
    cpu = time.thread_time()
    assert [jpeg_size(data) for data in huge] == [None] * 3
    assert time.thread_time() - cpu < 0.2  # each took 0.9 s


def test_a_camera_password_shows_neither_in_health_nor_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ingest.cameras.capture")

    def script(n: int) -> Iterator[bytes | float | None]:
        if n == 0:
            yield b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            yield None
        yield MJPEG_HEAD
        yield from good_parts(100_000)

    camera = ScriptedCamera(script, head=b"")
    url = camera.url.replace("http://", "http://operator:s3cret-pw@")
    capture = CameraCapture("hue-cam-login", url, analysed_fps=20, open_timeout_s=5, read_timeout_s=5,
                            backoff_initial=0.1)
    try:
        wait_for(lambda: capture.next_frame(timeout=0.5) is not None, "a frame after the refused open")
    finally:
        capture.close()
        camera.close()
    assert capture.health["errors"] == 1
    assert capture.health["last_error"] == (f"cannot open http://***@127.0.0.1:{camera.port}/stream.mjpg: "
                                            "stream unreachable (HTTP 404 Not Found)")
    assert "s3cret" not in caplog.text and f"opened http://***@127.0.0.1:{camera.port}/" in caplog.text
