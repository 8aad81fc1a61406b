"""Frames of several cameras run through one shared yolo11n in batches, each camera keeping its tracks."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import cv2
import pytest

from ingest.cameras.backends.yolo import UltralyticsDetector
from ingest.cameras.batch import BatchedDetector, BatchRunner
from ioc.camera_settings import ModelSettings

SAMPLES = Path(__file__).resolve().parents[1] / "sample_streams" / "cameras"


def frames(name: str, n: int, step: int) -> list:
    cap = cv2.VideoCapture(str(SAMPLES / name))
    out, i = [], 0
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            out.append(frame)
        i += 1
    return out


@pytest.fixture(scope="module", params=[".pt", ".onnx"])
def model_path(request: pytest.FixtureRequest) -> Path:
    """yolo11n on torch, and its ONNX export (dynamic axes: a batch of frames of several sizes)."""
    path = ModelSettings(path=f"venv:share/ioc-models/yolo11n{request.param}").resolved_path()
    if not path.is_file():
        pytest.fail(f"{path} missing: run scripts/setup_vision")
    return path


def test_batched_cameras_see_what_each_sees_alone(model_path: Path) -> None:
    clips = {"road-a": frames("bikes.mp4", 6, 12), "road-b": frames("bikes.mp4", 6, 12)[::-1],
             "square": frames("vtest.mp4", 6, 5)}
    alone = {}
    for cam, fs in clips.items():
        det = UltralyticsDetector(model_path, device="cpu", share_model=False)
        alone[cam] = [sorted((d.label, round(d.box[0])) for d in det.detect(f)) for f in fs]
    shared = UltralyticsDetector(model_path, device="cpu", share_model=False)
    runner = BatchRunner(shared.model, device="cpu", max_batch=3, max_wait_s=0.5)
    got: dict[str, list] = {}

    def camera(cam: str) -> None:
        det = BatchedDetector(UltralyticsDetector(model_path, device="cpu"), runner)
        got[cam] = [det.detect(f) for f in clips[cam]]

    threads = [threading.Thread(target=camera, args=(c,)) for c in clips]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(runner.batches) > 1  # frames of different cameras really shared a model call
    assert sum(runner.batches) == sum(len(f) for f in clips.values())
    for cam in clips:
        # A batch of frames of different sizes is letterboxed to one shape: a weak object may
        # come or go, but the camera sees about what it sees alone.
        b = Counter(d.label for ds in got[cam] for d in ds)
        a = Counter(lbl for f in alone[cam] for lbl, _ in f)
        assert set(b) == set(a) and sum(((a - b) + (b - a)).values()) <= max(2, sum(a.values()) // 5), (a, b)
        assert any(d.track_id is not None for ds in got[cam][2:] for d in ds)  # tracks per camera
    assert {d.label for ds in got["road-a"] for d in ds} >= {"car"}
