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
from ioc.events import decode
from ioc.feeds.cameras.records import CameraDetection, CameraFrameStats, CameraKeyFrame
from tests.publishers import DownPublisher
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



def test_camera_records_are_kept_through_a_bus_outage_and_sent_in_order(tmp_path: Path) -> None:
    bus = MemoryBus()
    sub = bus.subscribe(["ioc.cameras.frame_stats"], "t")
    cam = camera(url=str(BIKES), realtime=False, analysed_fps=5, keyframe_every_s=0)
    worker = CameraWorker(cam, DownPublisher(bus, failures=3),
                          vision=VisionSettings(keyframes_dir=tmp_path))
    for _ in range(3):
        worker.step()
    assert worker.health["publish_errors"] == 3 and worker.health["pending"] >= 3
    assert "broker not reachable" in worker.health["last_error"]
    assert worker.feed_health().state == "retrying" and worker.feed_health().pending >= 3
    assert sub.poll(100, 0.05) == []
    for _ in range(2):
        worker.step()
    assert worker.health["pending"] == 0 and worker.health["dropped"] == 0
    times = [decode(m.value).time for m in sub.poll(100, 0.1)]
    assert len(times) == 5 and times == sorted(times)  # the three kept frames first, none lost
    health = worker.feed_health()
    assert health.state == "live" and health.published == worker.health["published"]
    assert health.worker == "camera" and health.feed == f"camera:{cam.id}" and health.received >= 5
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
    configured = {"crowd", "congestion", "intrusion", "camera_fault", "no_stopping", "lane_congestion"}
    assert {name for name, d in built.items() if d.kinds} == configured
    assert set(built["intrusion"].zones["hue-cam-ngomon"]) == {"path", "lawn"}


# -- bad frames, warm-up, key frame size ----------------------------------------------------
def test_an_empty_frame_is_a_clear_error_and_a_bad_frame_not_a_crash(vtest: list[np.ndarray]) -> None:
    from ingest.cameras.analysis import small_gray

    for shape in [(0, 0, 3), (480, 0, 3), (0, 640)]:
        with pytest.raises(ValueError, match="empty frame"):
            small_gray(np.zeros(shape, np.uint8), 160)
    worker = CameraWorker(camera(keyframe_every_s=0), MemoryBus().publisher())
    result = worker.process(CapturedFrame(image=np.zeros((0, 0, 3), np.uint8), time=T0, index=0, fps_in=10))
    assert result.records == [] and not result.analysed
    assert worker.health["bad_frames"] == 1 and "empty frame" in worker.health["last_error"]
    records = feed(worker, vtest[:2])  # the camera goes on with good frames
    assert sum(isinstance(r, CameraFrameStats) for r in records) == 2


def test_detect_ms_leaves_out_the_first_run(vtest: list[np.ndarray]) -> None:
    worker = CameraWorker(camera(motion_gating=False, keyframe_every_s=0), MemoryBus().publisher())
    feed(worker, vtest[:1])
    assert worker.health["detect_warmup_ms"] is not None and worker.health["detect_ms"] is None
    feed(worker, vtest[1:4])
    assert worker.health["frames_detected"] == 4 and worker.health["detect_ms"] is not None


def test_key_frames_of_an_8k_camera_are_scaled_down(tmp_path: Path, vtest: list[np.ndarray]) -> None:
    eight_k = [cv2.resize(f, (7680, 4320), interpolation=cv2.INTER_CUBIC) for f in vtest[:2]]
    worker = CameraWorker(camera(keyframe_every_s=1), MemoryBus().publisher(),
                          vision=VisionSettings(keyframes_dir=tmp_path))
    records = feed(worker, eight_k, step_s=1)
    keyframes = [r for r in records if isinstance(r, CameraKeyFrame)]
    assert len(keyframes) == 2
    for k in keyframes:
        assert (k.width, k.height) == (1280, 720)
        image = cv2.imread(str(tmp_path / k.path))
        assert image.shape == (720, 1280, 3)
        assert k.size_bytes == (tmp_path / k.path).stat().st_size < 400_000
    small_cam = camera(id="cam-small", keyframe_every_s=1, keyframe_max_dim=320, keyframe_quality=60)
    small = CameraWorker(small_cam, MemoryBus().publisher(), vision=VisionSettings(keyframes_dir=tmp_path))
    k = next(r for r in feed(small, eight_k[:1]) if isinstance(r, CameraKeyFrame))
    assert (k.width, k.height) == (320, 180) and k.size_bytes < 40_000


def test_key_frames_of_a_camera_stay_within_its_disk_cap(tmp_path: Path, vtest: list[np.ndarray]) -> None:
    cam = camera(keyframe_every_s=1, keyframes_keep=1000, keyframes_max_mb=0.3)
    folder = tmp_path / cam.id
    folder.mkdir()
    old = folder / "20200101T000000.000Z.jpg"  # left by an earlier run: counted and pruned first
    old.write_bytes(cv2.imencode(".jpg", vtest[0])[1].tobytes())
    worker = CameraWorker(cam, MemoryBus().publisher(), vision=VisionSettings(keyframes_dir=tmp_path))
    records = feed(worker, vtest[:40], step_s=1)
    keyframes = [r for r in records if isinstance(r, CameraKeyFrame)]
    assert len(keyframes) == 40
    on_disk = sum(p.stat().st_size for p in folder.glob("*.jpg"))
    assert on_disk <= 300_000
    kept = sorted(p.name for p in folder.glob("*Z.jpg"))
    assert not old.exists() and 3 <= len(kept) < 40
    assert kept == [Path(k.path).name for k in keyframes[-len(kept):]]  # the newest are kept
    assert worker.keyframes.disk_bytes() == on_disk


# -- a shaking camera ----------------------------------------------------------------------------
def jittered(frames: list[np.ndarray], pixels: int = 6, seed: int = 7) -> list[np.ndarray]:
    """Real frames moved by a random whole-pixel offset of up to +-``pixels`` each: a shaking mount."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        dx, dy = (int(v) for v in rng.integers(-pixels, pixels + 1, size=2))
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(frame, shift, (frame.shape[1], frame.shape[0]),
                                  borderMode=cv2.BORDER_REPLICATE))
    return out


def test_a_shaking_camera_is_a_fault_not_traffic() -> None:
    from detectors.cameras import CongestionDetector, CongestionRule

    frames = read_frames(VTEST, 150)[::2]  # all of vtest, every other frame, fed 2 a second
    still_before, shaken, still_after = frames[:20], jittered(frames[20:50]), frames[50:75]
    cam = camera(labels={"motion": "vehicle"}, motion_gating=False, keyframe_every_s=0)  # as on a road
    worker = CameraWorker(cam, MemoryBus().publisher())
    records = feed(worker, still_before + shaken + still_after)
    stats = [r for r in records if isinstance(r, CameraFrameStats)]
    vehicles = Counter(r.time for r in records if isinstance(r, CameraDetection) and r.label == "vehicle")
    shaken_times = [s.time for s in stats[20:50]]
    assert max(vehicles[t] for t in shaken_times) <= 1, [vehicles[t] for t in shaken_times]
    assert worker.detector.rejected >= 25  # type: ignore[attr-defined]
    assert all(s.shake is not None and s.shake < 0.05 for s in stats[1:20])
    assert sum(s.shake is not None and s.shake > 0.2 for s in stats[20:50]) >= 25

    congestion = CongestionDetector([CongestionRule(name="road", above=3, for_seconds=5, clear_seconds=2)])
    faults = CameraFaultDetector([CameraFaultRule(name="faults", shake_seconds=5, clear_seconds=2)])
    signals = []
    for record in records:
        signals += congestion.observe(record) + faults.observe(record)  # type: ignore[arg-type]
    signals += congestion.advance(stats[-1].time + timedelta(seconds=30))
    got = [(s.detector, s.status, s.fingerprint.rsplit(":", 1)[1]) for s in signals]
    assert got == [("camera_fault", "firing", "shaking"), ("camera_fault", "resolved", "shaking")]
    firing = signals[0]
    assert firing.title == "Camera shaking: hue-cam-ngomon" and firing.details["measure"] == "shake"
    assert shaken_times[0] <= firing.started_at <= shaken_times[3]


# -- one object, one detection ---------------------------------------------------------------
def test_related_labels_on_one_box_are_merged_into_one_object() -> None:
    from ingest.cameras.backends.merge import merge_overlaps
    from ingest.cameras.backends.tracking import iou
    from ioc.camera_settings import MERGE_GROUPS

    truck = ("truck", 0.50, (412.0, 188.0, 611.0, 341.0))  # YOLO's two answers for one van
    car = ("car", 0.46, (414.0, 189.0, 611.0, 341.0))
    assert iou(truck[2], car[2]) == pytest.approx(0.98, abs=0.005)
    rider = ("person", 0.81, (470.0, 120.0, 540.0, 300.0))  # a person on a motorcycle: two objects
    bike = ("motorcycle", 0.77, (455.0, 200.0, 560.0, 330.0))
    other_car = ("car", 0.70, (600.0, 190.0, 790.0, 345.0))  # the next car, touching the van
    candidates = [car, rider, truck, bike, other_car]
    kept = [candidates[i] for i in merge_overlaps(candidates, MERGE_GROUPS, 0.7)]
    assert kept == [rider, truck, bike, other_car]
    assert merge_overlaps(candidates, [], 0.7) == [0, 1, 2, 3, 4]  # car and truck unrelated: both kept


# -- what a camera publishes, and rules that must be able to match ---------------------------------
def test_a_camera_publishes_a_city_cameras_classes_by_default() -> None:
    from ingest.cameras.backends import relabel
    from ioc.camera_settings import CITY_CLASSES

    cam = camera()
    assert cam.classes == list(CITY_CLASSES)
    assert [relabel(c, {}, cam.classes) for c in ("tie", "vase", "zebra", "person", "car", "bus")] == [
        None, None, None, "person", "car", "bus"]
    assert relabel("tie", {}, camera(classes=["*"]).classes) == "tie"  # every class, when asked for
    with pytest.raises(CameraConfigError, match=r"cameras\.x\.classes"):
        cameras_from_data([{"id": "x", "url": "x.mp4", "classes": []}])


def people_settings(labels: dict[str, str] | None = None) -> object:
    """The sample configuration with the Ngọ Môn camera on the people model (as its comment suggests)."""
    from ioc.camera_settings import ModelSettings
    from ioc.config import load_settings

    settings = load_settings()
    people = settings.vision.models["people"]
    if labels is not None:
        people = ModelSettings(path=people.path, names=people.names, labels=labels)
    vision = settings.vision.model_copy(update={"models": {"people": people}})
    cams = [c.model_copy(update={"detector": "ultralytics", "model": "people", "device": "cpu"})
            if c.id == "hue-cam-ngomon" else c for c in settings.cameras]
    return settings.model_copy(update={"cameras": cams, "vision": vision})


def test_the_people_models_label_map_lives_with_the_model() -> None:
    from detectors.cameras import CrowdDetector, IntrusionDetector

    settings = people_settings()
    cam = settings.cameras[0]  # type: ignore[attr-defined]
    assert cam.label_map(settings.vision) == {"Normal": "person", "Fall": "person"}  # type: ignore[attr-defined]
    assert cam.produced_labels(settings.vision) == {"person"}  # type: ignore[attr-defined]
    assert CrowdDetector.from_settings(settings).kinds and IntrusionDetector.from_settings(settings).kinds


def test_a_rule_that_can_never_match_its_cameras_is_a_config_error_at_start() -> None:
    from detectors.cameras import CongestionDetector, CrowdDetector, IntrusionDetector
    from detectors.registry import build_detectors

    raw = people_settings(labels={})  # the model described without its label map: Normal, Fall
    with pytest.raises(CameraConfigError, match=(
            r"rules\.crowd\.ngomon-path-crowd: labels \['person'\] can never come from camera "
            r"'hue-cam-ngomon', which publishes nothing")):
        CrowdDetector.from_settings(raw)
    with pytest.raises(CameraConfigError, match=r"rules\.intrusion\.ngomon-lawn"):
        IntrusionDetector.from_settings(raw)
    with pytest.raises(CameraConfigError, match=r"rules\.crowd\.ngomon-path-crowd"):
        build_detectors(raw)  # type: ignore[arg-type]
    everything = people_settings(labels={})
    everything.cameras[0].classes = ["*"]  # type: ignore[attr-defined]
    with pytest.raises(CameraConfigError, match=r"which publishes \['Fall', 'Normal'\]"):
        CrowdDetector.from_settings(everything)

    from ioc.config import load_settings

    settings = load_settings()  # the opencv road camera publishes people and vehicles
    road = settings.cameras[1].model_copy(update={"classes": ["person"]})
    narrowed = settings.model_copy(update={"cameras": [settings.cameras[0], road]})
    road_error = r"rules\.congestion\.truongtien-traffic: .*'hue-cam-truongtien'"
    with pytest.raises(CameraConfigError, match=road_error):
        CongestionDetector.from_settings(narrowed)
    assert CongestionDetector.from_settings(settings).kinds  # the sample itself is consistent


def test_a_camera_naming_an_undefined_model_is_a_config_error(tmp_path: Path) -> None:
    from ioc.config import ConfigError, load_settings

    config = tmp_path / "city.toml"
    config.write_text('[[cameras]]\nid = "c1"\nurl = "x.mp4"\ndetector = "ultralytics"\nmodel = "coco"\n')
    with pytest.raises(ConfigError, match=r"cameras\.c1\.model: no model 'coco' in \[vision\.models\]"):
        load_settings(config)
