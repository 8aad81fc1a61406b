"""Traffic rules on tracks: a wrong-way driver on a one-way lane, a vehicle stopped where it may not."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from test_camera_detectors import CAM, T0, ZONES, brief, person, run, span

from detectors.cameras.no_stopping import NoStoppingDetector, NoStoppingRule
from detectors.cameras.wrong_way import WrongWayDetector, WrongWayRule
from ioc.config import RuleSettings, Settings, load_settings


def car(t: float, x: float, y: float, track: int | None, label: str = "car"):  # noqa: ANN201
    return person(t, x, y, track, label=label)


def lane() -> WrongWayRule:
    # "gate" (the lower half) is a one-way lane whose traffic moves to the right of the picture
    return WrongWayRule(name="one-way", zone="gate", direction=(1.0, 0.0), min_px=40, over_seconds=3,
                        clear_seconds=2)


def test_wrong_way_fires_on_the_driver_against_the_flow_and_not_on_the_others() -> None:
    events = []
    for t in span(0, 20):
        events.append(car(t, 50 + 30 * t, 400, 1))  # with the flow
        events.append(car(t, 300, 420, 2, label="bus"))  # standing
        if 5 <= t < 12:
            events.append(car(t, 600 - 40 * (t - 5), 450, 3, label="motorcycle"))  # against it
        events.append(car(t, 600 - 40 * t, 100, 4))  # against it, but above the lane
        events.append(person(t, 600 - 20 * t, 460, 5))  # a pedestrian walking left: not a vehicle
    signals = run(WrongWayDetector([lane()], ZONES, {CAM: "Trường Tiền"}), events)
    fp = f"wrong_way:one-way:{CAM}"
    assert [s[0] for s in brief(signals)] == ["firing", "resolved"]
    assert {s.fingerprint for s in signals} == {fp}
    firing = signals[0]
    # 40 px/s against the flow: over 40 px after more than a second of track
    assert T0 + timedelta(seconds=6) <= firing.time <= T0 + timedelta(seconds=7)
    assert firing.details["tracks"] == [3] and firing.severity == "critical"
    assert "Wrong way: 1 vehicle(s)" in firing.title and "Trường Tiền" in firing.title


def test_wrong_way_needs_tracks_and_survives_a_snapshot() -> None:
    untracked = [car(t, 600 - 40 * t, 450, None) for t in span(0, 10)]
    assert run(WrongWayDetector([lane()], ZONES), untracked) == []
    events = [car(t, 600 - 40 * t, 450, 7) for t in span(0, 10)]
    whole = brief(run(WrongWayDetector([lane()], ZONES), events))
    first = WrongWayDetector([lane()], ZONES)
    out = run(first, events[:8])
    second = WrongWayDetector([lane()], ZONES)
    second.restore(json.loads(json.dumps(first.state())))  # as the store keeps it
    assert brief(out + run(second, events[8:])) == whole and whole
    with pytest.raises(ValueError, match="zero"):
        WrongWayRule(name="x", zone="gate", direction=(0, 0))


def test_no_stopping_fires_when_one_vehicle_stands_for_stopped_seconds() -> None:
    rule = NoStoppingRule(name="bridge-head", zone="gate", stopped_seconds=20, clear_seconds=2)
    events = []
    for t in span(0, 40):
        events.append(car(t, 100 + 20 * t, 400, 1))  # drives through
        if t >= 6:
            events.append(car(t, 300 + (0.5 if int(t * 2) % 2 else -0.5), 430, 2, label="truck"))  # parks
    signals = run(NoStoppingDetector([rule], ZONES, {CAM: "Trường Tiền"}), events)
    assert brief(signals) == [("firing", 26.0, f"no_stopping:bridge-head:{CAM}")]
    assert signals[0].started_at == T0 + timedelta(seconds=6)
    assert "no-stopping zone" in signals[0].title
    with pytest.raises(ValueError, match="stopped_seconds"):
        NoStoppingRule(name="x", zone="gate", for_seconds=5)


def test_traffic_rules_come_from_the_settings_and_unknown_options_are_refused() -> None:
    hue = load_settings()
    rules = RuleSettings(wrong_way=[{"name": "bridge", "cameras": ["hue-cam-truongtien"], "zone": "road",
                                     "direction": [1, 0]}],
                         no_stopping=[{"name": "bridge-stop", "cameras": ["hue-cam-truongtien"],
                                       "zone": "road", "stopped_seconds": 30}])
    settings = Settings(cameras=hue.cameras, vision=hue.vision, rules=rules, samples_dir=hue.samples_dir)
    assert WrongWayDetector.from_settings(settings).rules[0].direction == (1.0, 0.0)
    assert NoStoppingDetector.from_settings(settings).rules[0].for_seconds == 30
    with pytest.raises(ValueError, match="speed"):  # refused where the settings are read
        RuleSettings(wrong_way=[{"name": "b", "zone": "road", "direction": [1, 0], "speed": 3}])
