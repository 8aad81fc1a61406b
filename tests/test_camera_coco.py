"""The COCO model a traffic camera needs: installed offline and hash-checked, tells cars from bikes."""

from __future__ import annotations

import hashlib
import importlib.util
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from ingest.cameras.backends.opencv import OpenCVDetector
from ingest.cameras.capture import CapturedFrame
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraSettings, ModelSettings
from ioc.config import load_settings
from ioc.feeds.cameras.records import CameraDetection

MISSING = [m for m in ("torch", "ultralytics", "onnxruntime") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"scripts/setup_vision not run: {MISSING}")

BIKES = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras" / "bikes.mp4"
YOLO11N_SHA256 = "0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1"
T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def sampled_frames(every: int = 25) -> list:
    """One frame a second of the real street clip (cars in traffic, parked bicycles, a pedestrian)."""
    cap = cv2.VideoCapture(str(BIKES))
    frames, n = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if n % every == 0:
            frames.append(frame)
        n += 1
    cap.release()
    assert len(frames) == 250 // every
    return frames


def test_the_installed_coco_model_is_the_official_yolo11n() -> None:
    model = ModelSettings(path="venv:share/ioc-models/yolo11n.pt")
    path = model.resolved_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == YOLO11N_SHA256
    assert path.with_suffix(".onnx").is_file() and (path.parent / "NOTICE.md").is_file()


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_a_traffic_camera_tells_cars_from_bicycles_with_either_runtime(suffix: str) -> None:
    cam = CameraSettings(id="hue-cam-test", url=str(BIKES), detector="ultralytics", device="cpu",
                         model_path=f"venv:share/ioc-models/yolo11n{suffix}", motion_gating=False,
                         keyframe_every_s=0)
    worker = CameraWorker(cam, MemoryBus().publisher())
    labels: Counter[str] = Counter()
    for i, frame in enumerate(sampled_frames()):
        out = worker.process(CapturedFrame(image=frame, time=T0 + timedelta(seconds=i), index=i, fps_in=25))
        labels.update(r.label for r in out.records if isinstance(r, CameraDetection))
    assert labels["car"] >= 5 and labels["bicycle"] >= 1, labels
    assert set(labels) <= {"person", "bicycle", "car", "motorcycle", "bus", "truck"}  # city classes only


def test_the_opencv_backend_calls_a_moving_blob_motion_never_vehicle() -> None:
    detector = OpenCVDetector()
    labels = Counter(d.label for frame in sampled_frames(5) for d in detector.detect(frame))
    assert labels["motion"] > 0 and "vehicle" not in labels


def test_the_hue_traffic_camera_runs_the_coco_model() -> None:
    settings = load_settings()
    cam = next(c for c in settings.cameras if c.id == "hue-cam-truongtien")
    assert cam.detector == "ultralytics" and cam.model == "coco"
    worker = CameraWorker(cam, MemoryBus().publisher(), vision=settings.vision,
                          samples_dir=settings.samples_dir)
    assert worker.health["detector"] == "ultralytics"
