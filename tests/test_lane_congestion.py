"""Lanes and counting lines driven by the camera worker, and the lane congestion rule on their minutes.

The tracks are the ones yolo11n + ByteTrack really produced on bikes.mp4
(``tests/fixtures/bikes_tracks.json``), played in a loop as the worker plays the sample file.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import pytest
from test_camera_counting import CAM, recorded
from test_camera_detectors import person, run

from detectors.cameras.lane_congestion import LaneCongestionDetector, LaneCongestionRule
from detectors.cameras.wrong_way import WrongWayDetector
from ingest.cameras.capture import CapturedFrame
from ingest.cameras.traffic import TrafficMeter
from ingest.cameras.worker import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.camera_settings import CameraConfigError, CameraSettings, cameras_from_data
from ioc.config import RuleSettings, Settings, load_settings
from ioc.events import AlertSignal, Event, decode
from ioc.feeds.cameras.records import LaneOccupancy, TrafficCount
from ioc.topics import TOPIC_BY_KIND

SOUTH = [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
LOOP_S = 9.0  # the recorded stretch lasts 8.6 s; the worker plays the clip again and again
BIKES = Path(__file__).resolve().parent.parent / "sample_streams" / "cameras" / "bikes.mp4"


def bridge_camera(**kw: object) -> CameraSettings:
    base: dict[str, object] = {
        "id": CAM, "url": str(BIKES),
        "lanes": [{"name": "south", "polygon": SOUTH, "one_way": [1, 0], "no_stopping": True}],
        "lines": [{"name": "bridge", "a": [0.6, 0.0], "b": [0.6, 1.0], "directions": ["east", "west"]}],
    }
    base.update(kw)
    return CameraSettings.model_validate(base)


def looped_minutes(busy_s: float, empty_s: float = 0.0) -> list[Event]:
    """The camera's minute records for ``busy_s`` seconds of the looped recorded tracks, then
    ``empty_s`` seconds of analysed frames (2 a second) with nothing on the road."""
    meter = TrafficMeter(bridge_camera())
    events = recorded()
    out: list[Event] = []
    end = events[0].time
    for loop in range(int(busy_s // LOOP_S)):
        by_frame: dict[datetime, list] = defaultdict(list)
        for e in events:
            t = e.time + timedelta(seconds=LOOP_S * loop)
            track = None if e.track_id is None else e.track_id + 1000 * loop  # a new id after the cut
            by_frame[t].append(e.model_copy(update={"time": t, "track_id": track}))
        for t in sorted(by_frame):
            out += meter.frame(t, by_frame[t], analysed=True)
            end = t
    for i in range(1, int(empty_s * 2) + 1):
        out += meter.frame(end + timedelta(seconds=i / 2), [], analysed=True)
    return out + meter.flush()


def judge(rule: LaneCongestionRule, records: list) -> list[AlertSignal]:
    """Feed the lane records as the detector runner does: off the bus, the camera's clock one
    minute past each record's start when it arrives (the worker publishes a minute once it is over)."""
    detector = LaneCongestionDetector([rule], {CAM: {"south": SOUTH}}, {CAM: "Trường Tiền"})
    out: list[AlertSignal] = []
    for record in records:
        if isinstance(record, LaneOccupancy):
            out += detector.observe(decode(record.to_wire()))
            out += detector.advance(record.time + timedelta(minutes=1))
    return out


def test_the_worker_meter_gives_a_record_per_minute_of_the_looped_real_tracks() -> None:
    records = looped_minutes(300)
    lanes = [r for r in records if isinstance(r, LaneOccupancy)]
    counts = [r for r in records if isinstance(r, TrafficCount)]
    minutes = [r.time for r in lanes]
    assert minutes == sorted(set(minutes)) and len(minutes) == 6  # 07:59 (a few seconds) .. 08:04
    full = lanes[1:-1]
    assert all(r.occupancy > 0.9 and r.speed_px_s is not None for r in full)
    assert {r.direction for r in counts} == {"east", "west"} and sum(r.count for r in counts) >= 40


def test_congestion_fires_when_the_lane_is_full_and_slow_and_resolves_when_it_empties() -> None:
    records = looped_minutes(300, empty_s=180)
    lanes = [r for r in records if isinstance(r, LaneOccupancy)]
    speeds = [r.speed_px_s for r in lanes[1:5]]
    assert all(s is not None for s in speeds)
    slow = max(s for s in speeds if s is not None) + 1  # every full minute is "slow" for this rule
    rule = LaneCongestionRule(name="bridge-jam", lane="south", occupancy_at_least=0.9, speed_below=slow,
                              for_minutes=3, clear_minutes=2)
    signals = judge(rule, records)
    assert [s.status for s in signals] == ["firing", "resolved"]
    firing, resolved = signals
    first_full = lanes[1].time  # 07:59 holds only a few seconds of traffic, faster than `slow`
    assert lanes[0].speed_px_s is not None and lanes[0].speed_px_s >= slow
    assert firing.started_at == first_full and firing.time == first_full + timedelta(minutes=2)
    assert firing.fingerprint == f"lane_congestion:bridge-jam:{CAM}"
    assert firing.details["lane"] == "south" and firing.details["occupancy"] > 0.9
    assert "Congestion in south at Trường Tiền" in firing.title
    empty = [r.time for r in lanes if r.occupancy == 0]
    assert resolved.time == empty[1]  # the second empty minute in a row
    assert judge(rule, records) and [s.model_dump() for s in judge(rule, records)] == [
        s.model_dump() for s in signals]  # the same stream, the same alerts


def test_a_full_lane_that_flows_or_a_slow_one_that_is_not_full_is_not_congestion() -> None:
    records = looped_minutes(300)
    lanes = [r for r in records if isinstance(r, LaneOccupancy)]
    slowest = min(r.speed_px_s for r in lanes if r.speed_px_s is not None)
    flowing = LaneCongestionRule(name="j", lane="south", occupancy_at_least=0.9, speed_below=slowest,
                                 for_minutes=1)
    assert judge(flowing, records) == []
    full_minutes = lanes[1:]  # the first holds a few seconds, all busy (occupancy 1.0)
    assert max(r.occupancy for r in full_minutes) < 0.99
    not_full = LaneCongestionRule(name="j", lane="south", occupancy_at_least=0.99, speed_below=10_000,
                                  for_minutes=1)
    assert judge(not_full, full_minutes) == [] and judge(not_full, lanes[:1])  # the rule can fire
    other_lane = LaneCongestionRule(name="j", lane="north", speed_below=10_000, for_minutes=1)
    assert judge(other_lane, records) == []


def minute(t: datetime, occupancy: float, speed: float | None) -> LaneOccupancy:
    return LaneOccupancy(time=t, source_id=CAM, lane="south", frames=120, occupancy=occupancy,
                         queue_max=3, queue_mean=2.0, speed_px_s=speed)


def test_one_missing_minute_is_bridged_two_end_the_run_and_redelivery_changes_nothing() -> None:
    t0 = recorded()[0].time.replace(second=0, microsecond=0)
    rule = LaneCongestionRule(name="j", lane="south", speed_below=20, for_minutes=3)
    jam = [minute(t0 + timedelta(minutes=m), 0.8, 5.0) for m in (0, 1, 3)]  # minute 2 not measured
    assert [s.status for s in judge(rule, jam)] == ["firing"]
    assert judge(rule, jam)[0].started_at == t0
    broken = [minute(t0 + timedelta(minutes=m), 0.8, 5.0) for m in (0, 1, 4, 5)]  # two missing
    assert judge(rule, broken) == []
    redelivered = [jam[0], jam[1], jam[0], jam[1], jam[2], jam[2]]
    assert [s.model_dump() for s in judge(rule, redelivered)] == [s.model_dump() for s in judge(rule, jam)]
    unknown_speed = [minute(t0 + timedelta(minutes=m), 1.0, None) for m in range(5)]
    assert judge(rule, unknown_speed) == []


def test_lanes_lines_and_the_rule_are_settings_with_clear_errors() -> None:
    cam = bridge_camera()
    assert [a.name for a in cam.areas()] == ["south"] and cam.lines[0].directions == ("east", "west")
    with pytest.raises(CameraConfigError, match="lanes are zones"):
        cameras_from_data([{"id": "c", "url": "x", "zones": [{"name": "south", "polygon": SOUTH}],
                            "lanes": [{"name": "south", "polygon": SOUTH}]}])
    with pytest.raises(CameraConfigError, match="cameras.c.lines.0"):
        cameras_from_data([{"id": "c", "url": "x", "lines": [{"name": "l", "a": [0, 0], "b": [1, 1],
                                                              "speed": 3}]}])
    with pytest.raises(CameraConfigError, match="must differ"):
        cameras_from_data([{"id": "c", "url": "x", "lines": [{"name": "l", "a": [0.5, 0], "b": [0.5, 0]}]}])
    with pytest.raises(CameraConfigError, match="zero"):
        cameras_from_data([{"id": "c", "url": "x", "lanes": [{"name": "l", "polygon": SOUTH,
                                                              "one_way": [0, 0]}]}])
    with pytest.raises(ValueError, match="for_minutes"):
        LaneCongestionRule(name="j", lane="south", speed_below=5, clear_seconds=10)
    hue = load_settings()
    lanes = RuleSettings(lane_congestion=[{"name": "j", "lane": "nowhere", "speed_below": 5}])
    with pytest.raises(CameraConfigError, match="no watched camera has a lane 'nowhere'"):
        LaneCongestionDetector.from_settings(Settings(cameras=hue.cameras, vision=hue.vision, rules=lanes,
                                                      samples_dir=hue.samples_dir))


def test_a_wrong_way_rule_takes_the_lanes_one_way_direction() -> None:
    coco = {"detector": "ultralytics", "model_path": "venv:share/ioc-models/yolo11n.pt"}
    settings = Settings(cameras=[bridge_camera(**coco)], rules=RuleSettings(
        wrong_way=[{"name": "w", "zone": "south"}]))
    detector = WrongWayDetector.from_settings(settings)
    assert detector.direction(detector.rules[0], CAM) == (1.0, 0.0)
    t0 = recorded()[0].time
    against = [person(i / 2, 600 - 20 * i, 400, 9, label="car", cam=CAM, at=t0) for i in range(12)]
    along = [person(i / 2, 100 + 20 * i, 400, 8, label="car", cam=CAM, at=t0) for i in range(12)]
    assert [s.status for s in run(WrongWayDetector.from_settings(settings), along)] == []
    assert [s.status for s in run(WrongWayDetector.from_settings(settings), against)] == ["firing"]
    plain = Settings(cameras=[bridge_camera(lanes=[{"name": "south", "polygon": SOUTH}], **coco)],
                     rules=RuleSettings(wrong_way=[{"name": "w", "zone": "south"}]))
    with pytest.raises(CameraConfigError, match="one_way"):
        WrongWayDetector.from_settings(plain)


def test_the_hue_bridge_camera_measures_its_lanes_and_the_rules_judge_them() -> None:
    hue = load_settings()
    cam = next(c for c in hue.cameras if c.id == "hue-cam-truongtien")
    assert cam.lanes and cam.lines
    detector = LaneCongestionDetector.from_settings(hue)
    assert detector.kinds == frozenset({"camera.lane_occupancy"})
    assert detector.rules[0].lane == "near-lane" and any(lane.no_stopping for lane in cam.lanes)


MISSING = [m for m in ("torch", "ultralytics") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"scripts/setup_vision not run: {MISSING}")
def test_the_camera_worker_publishes_counts_and_occupancy_of_each_finished_minute() -> None:
    cam = bridge_camera(detector="ultralytics", device="cpu", model_path="venv:share/ioc-models/yolo11n.pt",
                        motion_gating=False, keyframe_every_s=0)
    bus = MemoryBus()
    reader = bus.subscribe([TOPIC_BY_KIND["camera.traffic_count"], TOPIC_BY_KIND["camera.lane_occupancy"]],
                           "test")
    worker = CameraWorker(cam, bus.publisher())
    cap = cv2.VideoCapture(str(BIKES))
    start = recorded()[0].time  # 4 s before a minute boundary
    frames = []
    for n in range(250):
        ok, image = cap.read()
        assert ok
        if n % 5 == 0:  # 5 analysed frames a second, as the fixture was recorded
            at = start + timedelta(seconds=n / 25)
            frames.append(CapturedFrame(image=image, time=at, index=n, fps_in=25))
    cap.release()
    early: list[Event] = []
    for frame in frames:
        result = worker.process(frame)
        early += [r for r in result.records if r.kind in ("camera.traffic_count", "camera.lane_occupancy")]
        if frame.time.second < 10:  # the next minute has begun: the first one came out at its first frame
            assert any(isinstance(r, LaneOccupancy) for r in early)
    first_minute = start.replace(second=0, microsecond=0)
    assert {r.time for r in early} == {first_minute}
    occupancy = next(r for r in early if isinstance(r, LaneOccupancy))
    assert occupancy.frames == sum(1 for f in frames if f.time < first_minute + timedelta(minutes=1))
    worker.finish()  # the end of the file: the open minute is published too
    published = [decode(m.value) for m in reader.poll(100, timeout=0)]
    assert {r.time for r in published} == {first_minute + timedelta(minutes=1)}
    assert any(isinstance(r, LaneOccupancy) and r.occupancy > 0.3 for r in published)
    assert json.loads(published[0].to_wire())["source_id"] == CAM


def test_lane_congestion_continues_identically_after_a_snapshot() -> None:
    records = [r for r in looped_minutes(300, empty_s=180) if isinstance(r, LaneOccupancy)]
    slow = max(r.speed_px_s or 0 for r in records) + 1
    rule = LaneCongestionRule(name="bridge-jam", lane="south", occupancy_at_least=0.9, speed_below=slow,
                              for_minutes=3, clear_minutes=2)
    whole = [s.model_dump() for s in judge(rule, records)]
    zones = {CAM: {"south": SOUTH}}
    for cut in range(1, len(records)):
        first = LaneCongestionDetector([rule], zones, {CAM: "Trường Tiền"})
        out: list[AlertSignal] = []
        for record in records[:cut]:
            out += first.observe(record) + first.advance(record.time + timedelta(minutes=1))
        second = LaneCongestionDetector([rule], zones, {CAM: "Trường Tiền"})
        second.restore(json.loads(json.dumps(first.state())))
        for record in records[cut:]:
            out += second.observe(record) + second.advance(record.time + timedelta(minutes=1))
        assert [s.model_dump() for s in out] == whole, cut
