"""A live HTTP MJPEG camera (real footage, served on 127.0.0.1) that drops and comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.cameras.capture import CameraCapture, open_video
from ingest.cameras.mjpeg import MjpegServer, file_frames
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraSettings, VisionSettings
from ioc.events import decode

VTEST = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras" / "vtest.mp4"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server() -> Any:
    srv = MjpegServer(file_frames(VTEST), fps=10).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_worker_reconnects_with_backoff_when_the_stream_drops(server: MjpegServer, tmp_path: Path) -> None:
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
        wait_for(lambda: capture.health["frames_analysed"] >= 5, 15, "frames from the MJPEG stream")
        assert capture.health["connected"] and capture.health["reconnects"] == 0
        assert 3 < capture.health["fps_in"] <= 13  # the server sends 10 a second
        before = capture.health["frames_analysed"]

        server.stop()  # the camera drops off the network
        wait_for(lambda: capture.health["errors"] >= 4, 10, "failed reconnect attempts")
        assert not capture.health["connected"] and capture.health["retry_at"] is not None
        down = [t for t, ok in attempts if not ok]
        gaps = [b - a for a, b in zip(down, down[1:], strict=False)]
        assert gaps[0] == pytest.approx(0.4, abs=0.15)  # 0.2 after the drop, then 0.4, 0.8, 0.8...
        assert gaps[1] == pytest.approx(0.8, abs=0.2) and gaps[1] > gaps[0]
        wait_for(lambda: worker.health["published"] > 0 and not worker.health["connected"], 5, "health")

        server.start()  # same port: the camera is back
        wait_for(
            lambda: capture.health["connected"] and capture.health["frames_analysed"] > before + 3,
            15,
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
