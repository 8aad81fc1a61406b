"""The camera path on real footage (sample_streams/cameras): OpenCV backend, gating, faults, key frames."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.cameras import CameraFaultDetector, CameraFaultRule
from ingest.cameras.analysis import FrameStatsMeter
from ingest.cameras.backends import BackendError, Detection, ObjectDetector, build_detector
from ingest.cameras.backends.opencv import OpenCVDetector
from ingest.cameras.capture import CameraCapture, CapturedFrame
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraConfigError, CameraSettings, VisionSettings, cameras_from_data
from ioc.events import CameraDetection, CameraFrameStats, CameraKeyFrame, decode
from tests.waiting import HANG_GUARD_S, wait_for

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras"
VTEST = SAMPLES / "vtest.mp4"
BIKES = SAMPLES / "bikes.mp4"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def read_frames(path: Path, count: int, start: int = 0) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    index = 0
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        if index >= start:
            out.append(frame)
        index += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def vtest() -> list[np.ndarray]:
    frames = read_frames(VTEST, 150)
    assert len(frames) == 150 and frames[0].shape == (480, 640, 3)
    return frames


class CountingDetector:
    """A real backend, counting the frames it was asked about."""

    def __init__(self, inner: ObjectDetector) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    def detect(self, frame: np.ndarray) -> list[Detection]:
        self.calls += 1
        return self.inner.detect(frame)


def camera(**kw: object) -> CameraSettings:
    base: dict[str, object] = {"id": "hue-cam-ngomon", "name": "Ngọ Môn gate", "url": str(VTEST)}
    base.update(kw)
    return CameraSettings.model_validate(base)


def feed(worker: CameraWorker, images: list[np.ndarray], step_s: float = 0.5) -> list[object]:
    records: list[object] = []
    for i, image in enumerate(images):
        result = worker.process(
            CapturedFrame(image=image, time=T0 + timedelta(seconds=i * step_s), index=i, fps_in=10.0)
        )
        records.extend(result.records)
    return records


# -- OpenCV backend ------------------------------------------------------------------------
def test_opencv_backend_finds_people_and_motion_with_track_ids(vtest: list[np.ndarray]) -> None:
    detector = OpenCVDetector()
    per_frame = [detector.detect(frame) for frame in vtest[:40]]
    late = per_frame[10:]  # once MOG2 has learned the background
    people = [sum(d.label == "person" for d in dets) for dets in late]
    assert np.mean(people) >= 3, people  # 5-9 people walk through this stretch
    assert sum(d.label == "motion" for dets in late for d in dets) > 0
    for dets in late:
        for d in dets:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480 and 0 <= d.score <= 1
            if d.label == "person":
                assert 1.5 < (y2 - y1) / (x2 - x1) < 5  # upright people
    # the same walker keeps an id over consecutive frames
    runs = Counter(d.track_id for dets in late for d in dets if d.label == "person")
    assert max(runs.values()) >= 10


def test_backend_registry_and_labels_filter(vtest: list[np.ndarray]) -> None:
    cam = camera(classes=["walker"], labels={"person": "walker"})
    detector = build_detector(cam)
    assert detector.name == "opencv"
    dets = [d for frame in vtest[:20] for d in detector.detect(frame)]
    assert dets and {d.label for d in dets} == {"walker"}
    with pytest.raises(BackendError, match=r"cameras\.hue-cam-ngomon\.detector: unknown detector 'frigate'"):
        build_detector(camera(detector="frigate"))


# -- motion gating -------------------------------------------------------------------------
def test_motion_gate_skips_static_frames_and_runs_on_motion(vtest: list[np.ndarray]) -> None:
    counting = CountingDetector(OpenCVDetector())
    worker = CameraWorker(
        camera(max_gated_seconds=1000, keyframe_every_s=0), MemoryBus().publisher(), detector=counting
    )
    static = [vtest[0]] * 12
    records = feed(worker, static + vtest[1:11])
    analysed = [r.analysed for r in records if isinstance(r, CameraFrameStats)]
    assert analysed[:12] == [True] + [False] * 11  # the first frame, then nothing moves
    assert sum(analysed[12:]) >= 8  # people walk again
    assert counting.calls == sum(analysed)
    assert worker.health["frames_gated"] == analysed.count(False)
    stats = [r for r in records if isinstance(r, CameraFrameStats)]
    assert all(s.motion == 0 for s in stats[1:12]) and max(s.motion for s in stats[12:]) > 0.002


def test_motion_gate_still_runs_every_max_gated_seconds_and_can_be_off(vtest: list[np.ndarray]) -> None:
    counting = CountingDetector(OpenCVDetector())
    worker = CameraWorker(
        camera(max_gated_seconds=2, keyframe_every_s=0), MemoryBus().publisher(), detector=counting
    )
    feed(worker, [vtest[0]] * 12)  # 6 s of a still picture
    assert counting.calls == 3  # at 0, 2 and 4 s
    counting = CountingDetector(OpenCVDetector())
    worker = CameraWorker(
        camera(motion_gating=False, keyframe_every_s=0), MemoryBus().publisher(), detector=counting
    )
    feed(worker, [vtest[0]] * 6)
    assert counting.calls == 6


# -- camera faults on real footage gone wrong -----------------------------------------------
def test_faults_from_black_frozen_and_blurred_footage(vtest: list[np.ndarray]) -> None:
    good = vtest[20:30]
    black = [(f * 0.03).astype(np.uint8) for f in vtest[30:55]]  # lens covered
    frozen = [vtest[60]] * 25  # the picture stops
    blurred = [cv2.GaussianBlur(f, (0, 0), 6) for f in vtest[90:115]]  # defocused
    sequence = good + black + vtest[55:60] + frozen + vtest[65:75] + blurred + vtest[120:130]
    worker = CameraWorker(camera(keyframe_every_s=0), MemoryBus().publisher())
    stats = [r for r in feed(worker, sequence) if isinstance(r, CameraFrameStats)]
    assert len(stats) == len(sequence)
    detector = CameraFaultDetector(
        [CameraFaultRule(name="faults", dark_seconds=5, frozen_seconds=5, blur_seconds=5, clear_seconds=1)]
    )
    signals = []
    for record in stats:
        signals.extend(detector.observe(record))
    got = [(s.status, s.fingerprint.rsplit(":", 1)[1]) for s in signals]
    assert got == [
        ("firing", "dark"),
        ("resolved", "dark"),
        ("firing", "frozen"),
        ("resolved", "frozen"),
        ("firing", "blurred"),
        ("resolved", "blurred"),
    ]
    dark = signals[0]
    assert dark.started_at == T0 + timedelta(seconds=5)  # the first black frame
    assert dark.time == T0 + timedelta(seconds=10)


def test_frame_stats_numbers_on_real_frames(vtest: list[np.ndarray]) -> None:
    meter = FrameStatsMeter()
    first = meter.measure(vtest[0])
    live = meter.measure(vtest[1])
    frozen = meter.measure(vtest[1])
    assert first.change is None and 100 < first.brightness < 140 and first.sharpness > 500
    assert 0.3 < live.change < 10 and frozen.change == 0.0
    assert meter.measure(cv2.GaussianBlur(vtest[2], (0, 0), 6)).sharpness < 80
    assert meter.measure(np.zeros_like(vtest[0])).brightness == 0


# -- key frames and records ----------------------------------------------------------------
def test_keyframes_written_with_boxes_bounded_and_published(tmp_path: Path, vtest: list[np.ndarray]) -> None:
    cam = camera(
        keyframe_every_s=1,
        keyframes_keep=3,
        analysed_fps=2,
        zones=[{"name": "lawn", "polygon": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]], "restricted": True}],
    )
    worker = CameraWorker(cam, MemoryBus().publisher(), vision=VisionSettings(keyframes_dir=tmp_path))
    records = feed(worker, vtest[:20])
    keyframes = [r for r in records if isinstance(r, CameraKeyFrame)]
    assert len(keyframes) == 10
    folder = tmp_path / cam.id
    kept = sorted(p.name for p in folder.glob("*Z.jpg"))
    assert kept == [Path(k.path).name for k in keyframes[-3:]]
    latest = cv2.imread(str(folder / "latest.jpg"))
    assert latest.shape == (480, 640, 3)
    assert (folder / "latest.jpg").read_bytes() == (tmp_path / keyframes[-1].path).read_bytes()
    # boxes are drawn: the key frame differs from the raw frame
    assert float(np.abs(latest.astype(int) - vtest[18].astype(int)).mean()) > 1

    wire = [r.to_wire() for r in records]  # what step() publishes
    detections = [decode(w) for w in wire if b'"camera.detection"' in w]
    assert detections and all(isinstance(d, CameraDetection) and d.source_id == cam.id for d in detections)
    assert {d.zone for d in detections} <= {"lawn", None} and "lawn" in {d.zone for d in detections}
    others = [decode(w) for w in wire if b'"camera.detection"' not in w]
    assert {type(o) for o in others} == {CameraFrameStats, CameraKeyFrame}


def test_worker_step_reads_a_looping_file_and_publishes(tmp_path: Path) -> None:
    bus = MemoryBus()
    sub = bus.subscribe(["ioc.cameras.detections", "ioc.cameras.frame_stats"], "t")
    cam = camera(url=str(BIKES), realtime=False, analysed_fps=5, keyframe_every_s=0)
    worker = CameraWorker(cam, bus.publisher(), vision=VisionSettings(keyframes_dir=tmp_path))
    for _ in range(60):  # bikes.mp4 has 10 s at 25 fps: 50 analysed frames, then it loops
        worker.step()
    health = worker.health
    assert health["connected"] and health["loops"] == 1 and health["frames_analysed"] == 60
    assert health["errors"] == 0 and health["published"] > 60
    stats = [decode(m.value) for m in sub.poll(10_000, 0.1) if m.topic.endswith("frame_stats")]
    times = [s.time for s in stats]
    assert len(stats) == 60 and times == sorted(times)
    assert {round((b - a).total_seconds(), 3) for a, b in zip(times, times[1:], strict=False)} == {0.2}
    worker.capture.close()


def test_missing_file_is_retried_with_backoff_not_raised() -> None:
    cap = CameraCapture("nowhere", "/nonexistent/clip.mp4", backoff_initial=0.05, backoff_max=0.1)
    # each call gives up after 0.3 s without a frame; how many opens fit in it depends on the load
    wait_for(lambda: cap.next_frame(timeout=0.3) is None and cap.health["errors"] >= 2, "two failed opens")
    assert not cap.health["connected"]
    assert "cannot open /nonexistent/clip.mp4: file not found" in cap.health["last_error"]


def test_camera_settings_validation_names_the_setting() -> None:
    triangle = [[0, 0], [1, 0], [1, 1]]
    cams = cameras_from_data([{"id": "a", "url": "x.mp4", "zones": [{"name": "z", "polygon": triangle}]}])
    assert cams[0].zone_of(0.9, 0.5) == "z" and cams[0].zone_of(0.1, 0.9) is None
    with pytest.raises(CameraConfigError, match=r"cameras\.b\.analysed_fps"):
        cameras_from_data([{"id": "b", "url": "x", "analysed_fps": 0}])
    with pytest.raises(CameraConfigError, match=r"cameras\.c: .*model_path"):
        cameras_from_data([{"id": "c", "url": "x", "detector": "ultralytics"}])
    with pytest.raises(CameraConfigError, match="duplicate camera id"):
        cameras_from_data([{"id": "d", "url": "x"}, {"id": "d", "url": "y"}])
    with pytest.raises(CameraConfigError, match=r"cameras\.e\.zones\.0\.polygon"):
        outside = [[0, 0], [2, 0], [1, 1]]  # x = 2 is off the image
        cameras_from_data([{"id": "e", "url": "x", "zones": [{"name": "z", "polygon": outside}]}])


def test_sample_camera_configuration_builds_workers_and_rules(tmp_path: Path) -> None:
    from detectors.cameras import CAMERA_DETECTORS
    from ioc.config import load_settings

    settings = load_settings()  # the Huế sample configuration carries the two sample cameras
    cams = settings.cameras
    assert [c.id for c in cams] == ["hue-cam-ngomon", "hue-cam-truongtien"]
    vision = settings.vision.model_copy(update={"keyframes_dir": tmp_path})
    for cam in cams:
        worker = CameraWorker(cam, MemoryBus().publisher(), vision=vision, samples_dir=SAMPLES.parent)
        assert Path(worker.capture.url).is_file()
        frame = worker.capture.next_frame(timeout=HANG_GUARD_S)
        assert frame is not None and worker.process(frame).records
        worker.capture.close()
    built = {name: factory(settings) for name, factory in CAMERA_DETECTORS.items()}
    assert all(d.kinds for d in built.values())
    assert set(built["intrusion"].zones["hue-cam-ngomon"]) == {"path", "lawn"}
