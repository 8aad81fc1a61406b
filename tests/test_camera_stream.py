"""A live HTTP MJPEG camera (real footage, served on 127.0.0.1) that drops and comes back."""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.cameras.capture import CameraCapture, open_video
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
