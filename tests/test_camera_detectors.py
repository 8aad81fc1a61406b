"""Camera rules as pure functions on constructed event lists: crowd, congestion, intrusion, faults."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from detectors.base import Detector
from detectors.cameras import (
    CAMERA_DETECTORS,
    CameraFaultDetector,
    CameraFaultRule,
    CongestionDetector,
    CongestionRule,
    CrowdDetector,
    CrowdRule,
    IntrusionDetector,
    IntrusionRule,
)
from ioc.camera_settings import point_in_polygon
from ioc.events import AlertSignal, Event
from ioc.feeds.cameras.records import Box, CameraDetection, CameraFrameStats

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 15:00 in Huế
CAM = "hue-cam-ngomon"
W, H = 640, 480
# "gate": the lower half of the image; "lawn": bottom-left quarter (restricted)
ZONES = {
    CAM: {
        "gate": [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)],
        "lawn": [(0.0, 0.75), (0.5, 0.75), (0.5, 1.0), (0.0, 1.0)],
    }
}


def person(
    t: float,
    x: float,
    y: float,
    track: int | None,
    label: str = "person",
    score: float = 0.8,
    cam: str = CAM,
    at: datetime = T0,
) -> CameraDetection:
    """A detection whose box stands (bottom centre) at pixel (x, y)."""
    return CameraDetection(
        time=at + timedelta(seconds=t),
        source_id=cam,
        label=label,
        score=score,
        box=Box(x1=x - 10, y1=y - 60, x2=x + 10, y2=y),
        track_id=track,
        frame_width=W,
        frame_height=H,
    )


def frames(
    seconds: Iterable[float], people_in: int, people_out: int = 0, fps: float = 2.0, label: str = "person"
) -> list[CameraDetection]:
    """Detections for frames at ``fps``: ``people_in`` in the gate zone, ``people_out`` above it."""
    out = []
    for t in seconds:
        for i in range(people_in):
            out.append(person(t, 50 + 40 * i, 400, track=i + 1, label=label))
        for i in range(people_out):
            out.append(person(t, 50 + 40 * i, 100, track=100 + i, label=label))
    return out


def span(start: float, stop: float, fps: float = 2.0) -> list[float]:
    n = int(round((stop - start) * fps))
    return [start + i / fps for i in range(n)]


def run(detector: Detector, events: Iterable[Event], watermark: datetime | None = None) -> list[AlertSignal]:
    out: list[AlertSignal] = []
    for event in events:
        out.extend(detector.observe(event))
    if watermark is not None:
        out.extend(detector.advance(watermark))
    return out


def brief(signals: list[AlertSignal]) -> list[tuple[str, float, str]]:
    return [(s.status, (s.time - T0).total_seconds(), s.fingerprint) for s in signals]


# -- geometry ------------------------------------------------------------------------------
def test_point_in_polygon() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert point_in_polygon(0.5, 0.5, square)
    assert not point_in_polygon(1.5, 0.5, square)
    concave = [(0, 0), (1, 0), (1, 1), (0.5, 0.4), (0, 1)]
    assert point_in_polygon(0.1, 0.8, concave) and not point_in_polygon(0.5, 0.8, concave)


# -- crowd ---------------------------------------------------------------------------------
def crowd(**kw: object) -> CrowdDetector:
    rule = CrowdRule(name="gate-crowd", zone="gate", above=3, for_seconds=10, clear_seconds=4, **kw)
    return CrowdDetector([rule], ZONES, {CAM: "Ngọ Môn gate"})


def test_crowd_fires_after_for_seconds_in_zone_and_resolves() -> None:
    events = (
        frames(span(0, 20), people_in=2, people_out=5)  # 7 people, only 2 in the zone
        + frames(span(20, 40), people_in=5)  # 5 in the zone from t=20
        + frames(span(40, 50), people_in=1, people_out=3)
    )
    signals = run(crowd(), events)
    assert brief(signals) == [
        ("firing", 30.0, f"crowd:gate-crowd:{CAM}"),
        ("resolved", 44.0, f"crowd:gate-crowd:{CAM}"),
    ]
    firing = signals[0]
    assert firing.started_at == T0 + timedelta(seconds=20)
    assert firing.details["count"] == 5 and firing.severity == "warning"
    assert "5 person in gate at Ngọ Môn gate" in firing.title
    assert firing.area == "Ngọ Môn gate"


def test_crowd_short_burst_does_not_fire_and_gap_breaks_run() -> None:
    events = frames(span(0, 8), people_in=5) + frames(span(8, 10), people_in=1) + frames(span(10, 18), 5)
    assert run(crowd(), events) == []
    # nothing detected for longer than max_gap (10 s) counts as an empty zone
    events = frames(span(0, 6), people_in=5) + frames(span(20, 26), people_in=5)
    assert run(crowd(), events) == []


def test_crowd_resolves_when_camera_reports_nothing() -> None:
    det = crowd()
    signals = run(det, frames(span(0, 15), people_in=6), watermark=T0 + timedelta(seconds=16))
    assert [s.status for s in signals] == ["firing"]
    later = det.advance(T0 + timedelta(seconds=40))
    assert brief(later) == [("resolved", 24.5, f"crowd:gate-crowd:{CAM}")]
    assert later[0].details["ended_by_gap"] is True


def test_crowd_counts_duplicates_once_and_ignores_other_labels_and_low_scores() -> None:
    events = frames(span(0, 15), people_in=2)
    events = events + events  # redelivered
    events += [person(t, 300, 400, track=None, label="car") for t in span(0, 15)]
    events += [person(t, 350, 400, track=50, score=0.1) for t in span(0, 15)]
    det = CrowdDetector([CrowdRule(name="c", zone="gate", above=2, for_seconds=5, min_score=0.5)], ZONES)
    assert run(det, sorted(events, key=lambda e: e.time)) == []


def test_crowd_out_of_order_within_settle_gives_the_signals_of_sorted_input() -> None:
    events = (
        frames(span(0, 20), people_in=2)
        + frames(span(20, 40), people_in=5)
        + frames(span(40, 52), people_in=1)
    )
    expected = brief(run(crowd(), events, T0 + timedelta(seconds=60)))
    assert [s[0] for s in expected] == ["firing", "resolved"]
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(events)
        # shuffle within windows of 1 s (settle): frames up to 0.5 s apart swap places
        keyed = sorted(shuffled, key=lambda e: ((e.time - T0).total_seconds() // 1, rng.random()))
        assert brief(run(crowd(), keyed, T0 + timedelta(seconds=60))) == expected


def test_crowd_too_late_records_are_dropped_and_counted() -> None:
    det = crowd()
    run(det, frames(span(0, 10), people_in=1))
    assert det.late == 0
    run(det, frames([1.0], people_in=9))
    assert det.late == 9


def test_crowd_snapshot_restore_continues_identically() -> None:
    events = frames(span(0, 20), people_in=2) + frames(span(20, 40), people_in=5) + frames(span(40, 50), 1)
    whole = brief(run(crowd(), events))
    first = crowd()
    part = brief(run(first, events[:60]))
    state = json.loads(json.dumps(first.state()))
    second = crowd()
    second.restore(state)
    assert part + brief(run(second, events[60:])) == whole


def test_crowd_rule_without_zone_counts_the_whole_frame_and_other_cameras_apart() -> None:
    det = CrowdDetector([CrowdRule(name="any", above=4, for_seconds=5)], ZONES)
    events = frames(span(0, 10), people_in=2, people_out=3)
    events += [person(t, 100, 400, track=1, cam="other") for t in span(0, 10)]
    signals = run(det, sorted(events, key=lambda e: e.time))
    assert [(s.status, s.source_id) for s in signals] == [("firing", CAM)]


def test_crowd_rule_zone_missing_on_camera_does_not_apply() -> None:
    det = CrowdDetector([CrowdRule(name="c", zone="gate", above=0, for_seconds=0)], ZONES)
    events = [person(t, 100, 400, track=1, cam="other") for t in span(0, 5)]
    assert run(det, events) == []


# -- congestion ----------------------------------------------------------------------------
def vehicle(t: float, x: float, y: float, track: int | None, label: str = "car") -> CameraDetection:
    return person(t, x, y, track, label=label)


def test_congestion_fires_on_vehicle_count() -> None:
    rule = CongestionRule(name="jam", zone="gate", above=3, for_seconds=10, clear_seconds=2)
    det = CongestionDetector([rule], ZONES)
    events = [vehicle(t, 20 + 30 * i + 5 * t, 420, i) for t in span(0, 15) for i in range(4)]
    events += [vehicle(t, 20, 420, 1) for t in span(15, 20)]
    events += [person(t, 300, 420, 9) for t in span(0, 20)]  # people are not traffic
    signals = run(det, sorted(events, key=lambda e: e.time))
    fp = f"congestion:jam:{CAM}"
    assert brief(signals) == [("firing", 10.0, fp), ("resolved", 17.0, fp)]
    assert "4 vehicles" in signals[0].title


def test_congestion_fires_on_stopped_vehicles_with_started_at_when_they_stopped() -> None:
    rule = CongestionRule(name="stopped", zone="gate", stopped_px=8, for_seconds=20, min_stopped=2)
    det = CongestionDetector([rule], ZONES)
    events = []
    for t in span(0, 40):
        events.append(vehicle(t, 100 + 20 * t, 400, 1))  # moving all along
        x2 = 200 + 10 * t if t < 5 else 250 + (0.5 if int(t * 2) % 2 else -0.5)  # stops at t=5, jitters
        events.append(vehicle(t, x2, 430, 2, label="bus"))
        if t >= 8:
            events.append(vehicle(t, 400, 460 + (1 if int(t * 2) % 2 else 0), 3, label="truck"))  # parked
    signals = run(det, events)
    # track 2 stopped since 5 s, track 3 seen from 8 s: both stopped for 20 s at 28 s
    assert brief(signals) == [("firing", 28.0, f"congestion:stopped:{CAM}")]
    assert signals[0].started_at == T0 + timedelta(seconds=8)
    assert signals[0].details["stopped"] == 2
    assert "2 vehicle(s) stopped" in signals[0].title


def test_congestion_untracked_vehicles_never_count_as_stopped() -> None:
    rule = CongestionRule(name="stopped", stopped_px=8, for_seconds=5)
    det = CongestionDetector([rule], ZONES)
    assert run(det, [vehicle(t, 300, 400, None) for t in span(0, 20)]) == []


def test_congestion_rule_needs_a_condition() -> None:
    with pytest.raises(ValueError, match="above"):
        CongestionRule(name="x")


def test_congestion_out_of_order_and_snapshot() -> None:
    rule = CongestionRule(name="stopped", stopped_px=5, for_seconds=6, clear_seconds=0)
    events = [vehicle(t, 300, 400, 7) for t in span(0, 12)] + [
        vehicle(t, 300 + 50 * t, 400, 7) for t in span(12, 16)
    ]
    expected = brief(run(CongestionDetector([rule], ZONES), events))
    assert [s[0] for s in expected] == ["firing", "resolved"]
    swapped = list(events)
    for i in range(0, len(swapped) - 1, 2):
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    assert brief(run(CongestionDetector([rule], ZONES), swapped)) == expected
    first = CongestionDetector([rule], ZONES)
    part = brief(run(first, events[:10]))
    second = CongestionDetector([rule], ZONES)
    second.restore(json.loads(json.dumps(first.state())))
    assert part + brief(run(second, events[10:])) == expected


# -- intrusion -----------------------------------------------------------------------------
def test_intrusion_fires_on_first_person_in_restricted_zone() -> None:
    det = IntrusionDetector(
        [IntrusionRule(name="lawn", zones=["lawn"], clear_seconds=3)], ZONES, {CAM: "Ngọ Môn gate"}
    )
    events = [person(t, 500, 400, 1) for t in span(0, 5)]  # in the gate, not on the lawn
    events += [person(t, 100, 440, 2) for t in span(5, 8)]  # on the lawn
    events += [person(t, 500, 400, 1) for t in span(8, 14)]
    signals = run(det, sorted(events, key=lambda e: e.time))
    fp = f"intrusion:lawn:{CAM}"
    assert brief(signals) == [("firing", 5.0, fp), ("resolved", 11.0, fp)]
    assert signals[0].severity == "critical" and signals[0].details["zones"] == ["lawn"]
    assert "restricted lawn at Ngọ Môn gate" in signals[0].title


def test_intrusion_only_in_its_local_time_window() -> None:
    # 22:00-05:00 in Huế (UTC+7): 14:30 UTC is 21:30 local, 15:30 UTC is 22:30 local
    rule = IntrusionRule(
        name="night", zones=["lawn"], active_from="22:00", active_until="05:00", clear_seconds=0
    )
    evening = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    night = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    det = IntrusionDetector([rule], ZONES, timezone="Asia/Ho_Chi_Minh")
    day = [person(t, 100, 440, 2, at=evening) for t in span(0, 5)]
    assert run(det, day, watermark=evening + timedelta(seconds=30)) == []
    det = IntrusionDetector([rule], ZONES, timezone="Asia/Ho_Chi_Minh")
    late = [person(t, 100, 440, 2, at=night) for t in span(0, 5)]
    signals = run(det, late, watermark=night + timedelta(seconds=30))
    assert [s.status for s in signals] == ["firing", "resolved"]
    assert signals[0].time == night
    assert rule.active(datetime(2026, 1, 1, 4, 59).time())
    assert not rule.active(datetime(2026, 1, 1, 5, 0).time())


def test_intrusion_out_of_order_and_duplicates() -> None:
    rule = IntrusionRule(name="lawn", zones=["lawn"], for_seconds=2, clear_seconds=2)
    events = [person(t, 100, 440, 2) for t in span(0, 6)] + [person(t, 500, 400, 1) for t in span(6, 12)]
    expected = brief(run(IntrusionDetector([rule], ZONES), events))
    assert [s[0] for s in expected] == ["firing", "resolved"]
    messy = list(events) + events[3:6]
    messy[2], messy[3] = messy[3], messy[2]
    assert brief(run(IntrusionDetector([rule], ZONES), messy)) == expected


# -- camera faults -------------------------------------------------------------------------
def stats(
    t: float,
    brightness: float = 117.0,
    sharpness: float = 1800.0,
    change: float | None = 1.5,
    connected: bool = True,
    cam: str = CAM,
) -> CameraFrameStats:
    if not connected:
        return CameraFrameStats(time=T0 + timedelta(seconds=t), source_id=cam, connected=False)
    return CameraFrameStats(
        time=T0 + timedelta(seconds=t),
        source_id=cam,
        brightness=brightness,
        sharpness=sharpness,
        change=change,
    )


def faults() -> CameraFaultDetector:
    return CameraFaultDetector(
        [CameraFaultRule(name="faults", offline_seconds=30, clear_seconds=2)], None, {CAM: "Ngọ Môn gate"}
    )


def test_fault_dark_frozen_blurred_each_fire_and_resolve() -> None:
    events = [stats(t) for t in span(0, 5)]
    events += [stats(t, brightness=3, sharpness=5, change=0.0) for t in span(5, 20)]  # covered lens
    events += [stats(t) for t in span(20, 25)]
    events += [stats(t, change=0.0) for t in span(25, 40)]  # frozen
    events += [stats(t) for t in span(40, 45)]
    events += [stats(t, sharpness=30) for t in span(45, 60)]  # blurred
    events += [stats(t) for t in span(60, 65)]
    signals = run(faults(), events)
    got = [(s.status, (s.time - T0).total_seconds(), s.fingerprint.rsplit(":", 1)[1]) for s in signals]
    assert got == [
        ("firing", 15.0, "dark"),
        ("resolved", 22.0, "dark"),
        ("firing", 35.0, "frozen"),
        ("resolved", 42.0, "frozen"),
        ("firing", 55.0, "blurred"),
        ("resolved", 62.0, "blurred"),
    ]
    assert signals[0].title == "Camera dark or covered: Ngọ Môn gate"


def test_fault_offline_by_watermark_and_heartbeats() -> None:
    det = faults()
    assert run(det, [stats(t) for t in span(0, 10)], watermark=T0 + timedelta(seconds=30)) == []
    signals = det.advance(T0 + timedelta(seconds=40))
    assert brief(signals) == [("firing", 39.5, f"camera_fault:faults:{CAM}:offline")]
    assert signals[0].started_at == T0 + timedelta(seconds=9.5)
    assert det.advance(T0 + timedelta(seconds=50)) == []  # fires once
    back = det.observe(stats(60))
    assert brief(back) == [("resolved", 60.0, f"camera_fault:faults:{CAM}:offline")]

    det = faults()  # only heartbeats tell (no watermark at all)
    beats = [stats(0)] + [stats(t, connected=False) for t in range(5, 50, 5)]
    assert brief(run(det, beats)) == [("firing", 30.0, f"camera_fault:faults:{CAM}:offline")]


def test_fault_offline_gap_seen_in_replay_gives_the_pair() -> None:
    signals = run(faults(), [stats(0), stats(0.5), stats(100)])
    assert [(s.status, (s.time - T0).total_seconds()) for s in signals if "offline" in s.fingerprint] == [
        ("firing", 30.5),
        ("resolved", 100.0),
    ]


def test_fault_snapshot_roundtrip() -> None:
    events = [stats(t, brightness=2) for t in span(0, 8)]
    first = faults()
    run(first, events)
    second = faults()
    second.restore(json.loads(json.dumps(first.state())))
    more = [stats(t, brightness=2) for t in span(8, 14)]
    assert brief(run(second, more)) == brief(run(first, more))
    assert [s[0] for s in brief(run(faults(), events + more))] == ["firing"]


def test_registry_factories_build_from_settings_like_objects() -> None:
    class Rules:
        crowd = [{"name": "c", "zone": "gate", "above": 1}]
        congestion = [{"name": "j", "above": 2}]
        intrusion = [{"name": "i", "zones": ["lawn"]}]
        camera_faults = [{"name": "f"}]
        wrong_way = [{"name": "w", "zone": "gate", "direction": [1, 0]}]
        no_stopping = [{"name": "n", "zone": "gate", "stopped_seconds": 30}]
        lane_congestion = [{"name": "l", "lane": "gate-lane", "speed_below": 10}]

    class FakeSettings:  # the shape ioc.config.Settings takes once cameras and rules move there
        timezone = "Asia/Ho_Chi_Minh"
        rules = Rules()
        cameras = [
            {
                "id": CAM,
                "name": "Ngọ Môn gate",
                "zones": [{"name": z, "polygon": p} for z, p in ZONES[CAM].items()],
                "lanes": [{"name": "gate-lane", "polygon": ZONES[CAM]["gate"]}],
            }
        ]

    built = {name: factory(FakeSettings()) for name, factory in CAMERA_DETECTORS.items()}
    assert all(isinstance(d, Detector) and d.kinds for d in built.values())
    assert built["camera_fault"].kinds == frozenset({"camera.frame_stats"})
    assert built["crowd"].zones[CAM]["gate"][0] == (0.0, 0.5)
