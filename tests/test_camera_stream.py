"""A live HTTP MJPEG camera (real footage, served on 127.0.0.1) that drops and comes back."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.cameras.capture import CameraCapture, CapturedFrame, open_video
from ingest.cameras.mjpeg import MjpegServer, file_frames
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraSettings, VisionSettings
from ioc.events import decode
from tests.waiting import wait_for

VTEST = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras" / "vtest.mp4"


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
class SilentCamera:
    """A real TCP listener on 127.0.0.1 that accepts and then never answers (a hung RTSP camera),
    or, with ``http_headers``, reads the request, sends the MJPEG response headers and stalls."""

    def __init__(self, http_headers: bool = False) -> None:
        self.http_headers = http_headers
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
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

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()
        self._thread.join(timeout=5)


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

        def twelve_frames() -> bool:
            frame = capture.next_frame(timeout=1)
            if frame is not None:
                frames.append(frame)
            return len(frames) >= 12

        try:
            wait_for(twelve_frames, "12 good frames")
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
