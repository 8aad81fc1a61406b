"""Absence rules are judged against their own feed's clock, never another feed's (runner, real bus).

The demo's feeds run on different clocks: the environment replay is re-timed, the simulated
fleet announces a storm warning issued minutes ahead, each camera stamps frames on its own
timeline. A camera that sends frames must never look offline because another feed's event
time ran ahead, and a camera that really stops must raise one alert, not a storm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from detectors.cameras.faults import CameraFaultDetector, CameraFaultRule
from detectors.runner import DetectorRunner, clock_of_kind, clock_of_topic
from detectors.stale import StaleSensorDetector
from ioc.bus.memory import MemoryBus, MemorySubscription
from ioc.config import StaleRule
from ioc.events import AlertSignal, Event, decode
from ioc.feeds.cameras.records import CameraFrameStats
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.vessels.records import StormWarning
from ioc.topics import ALERT_SIGNALS, TOPIC_BY_KIND, topic_for

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CAMERAS = ("hue-cam-ngomon", "hue-cam-truongtien")
OFFLINE = "camera_fault:camera-faults:{}:offline"


def frame(camera: str, when: datetime) -> CameraFrameStats:
    return CameraFrameStats(time=when, source_id=camera, brightness=120.0, sharpness=400.0, change=2.0)


def air(station: str, when: datetime) -> EnvironmentReading:
    return EnvironmentReading(time=when, source_id=station, metric="pm25", value=20.0, unit="µg/m³")


def storm(issued: datetime) -> StormWarning:
    return StormWarning(time=issued, source_id="sim-weather", warning_id="w1", zone_id="storm-ban-offshore",
                        valid_from=issued + timedelta(hours=1), valid_to=issued + timedelta(hours=3))


@dataclass
class Feeds:
    """Two cameras at the wall clock (0.5 s apart), a replay ahead of it, the signals seen."""

    bus: MemoryBus
    runner: DetectorRunner
    wall: MemorySubscription
    now: list[datetime]
    replay_ahead: timedelta
    signals: list[AlertSignal] = field(default_factory=list)

    def play(self, seconds: float, cameras: tuple[str, ...] = CAMERAS) -> None:
        publisher = self.bus.publisher()
        for _ in range(int(seconds * 2)):
            self.now[0] += timedelta(seconds=0.5)
            t = self.now[0]
            events: list[Event] = [frame(c, t) for c in cameras]
            if t.microsecond == 0 and t.second % 2 == 0:
                events += [air(s, t + self.replay_ahead) for s in ("hue-air-dongba", "hue-air-dainoi")]
            for event in events:
                publisher.publish(topic_for(event), event.source_id, event.to_wire())
            publisher.flush()
            while self.runner.run_once(timeout=0.001):
                pass
            self.runner.run_once(timeout=0.001)  # nothing new: the wall clock alone moves on
            while batch := self.wall.poll(timeout=0.001):
                self.signals.extend(s for m in batch if isinstance(s := decode(m.value), AlertSignal))

    def take(self) -> list[tuple[str, str, datetime]]:
        out = sorted((s.fingerprint, s.status, s.time) for s in self.signals)
        self.signals.clear()
        return out


def feeds(live: bool, replay_ahead: timedelta) -> Feeds:
    bus = MemoryBus(partitions=3)
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    now = [T0]
    detectors = [CameraFaultDetector([CameraFaultRule(name="camera-faults", offline_seconds=30)]),
                 StaleSensorDetector([StaleRule(name="air-silent", after_minutes=15)])]
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    # The storm warnings' topic too, as in the demo (where the storm-ban rule reads it).
    topics = [TOPIC_BY_KIND[k] for k in ("camera.frame_stats", "environment.reading", "storm.warning")]
    runner = DetectorRunner(bus, detectors, topics=topics, use_wall_clock=live, clock=clock)
    return Feeds(bus, runner, wall, now, replay_ahead)


def test_clock_domains_are_the_feeds_of_the_topics() -> None:
    assert clock_of_kind("camera.frame_stats") == clock_of_kind("camera.detection") == "cameras"
    assert clock_of_kind("environment.reading") == "environment"
    assert clock_of_kind("vessel.position") == "vessels" != clock_of_kind("storm.warning")
    assert clock_of_topic("replay.analyst-1.ioc.cameras.frame_stats") == "cameras"
    assert clock_of_topic("custom") == "custom"


@pytest.mark.parametrize("live", [True, False], ids=["live", "replay"])
def test_cameras_sending_are_never_offline_while_other_feeds_run_ahead(live: bool) -> None:
    # The environment replay runs 4 min ahead of the cameras, and a storm warning issued
    # 226 s ahead arrives (as the simulated fleet announces it): both inside max_future_skew.
    f = feeds(live, replay_ahead=timedelta(minutes=4))
    warning = storm(T0 + timedelta(seconds=226))
    f.bus.publisher().publish(topic_for(warning), warning.source_id, warning.to_wire())
    f.play(120)
    assert f.take() == []  # no offline camera, no silent station
    # Warnings are broadcast to every detector and move no feed's clock, the cameras' least.
    assert f.runner.clocks.get("weather") in (None, warning.time)
    assert f.runner.clocks["cameras"] < warning.time
    assert f.runner.clocks["environment"] - f.runner.clocks["cameras"] >= timedelta(minutes=3)

    # One camera really stops: one alert, 30 s after its last frame, judged on the cameras' clock.
    last = f.now[0]
    f.play(90, cameras=CAMERAS[:1])
    assert f.take() == [(OFFLINE.format(CAMERAS[1]), "firing", last + timedelta(seconds=30))]
    f.play(20)  # it comes back: one resolution
    assert f.take() == [(OFFLINE.format(CAMERAS[1]), "resolved", last + timedelta(seconds=90.5))]
    f.play(60)
    assert f.take() == []


def test_stations_are_not_stale_while_the_cameras_run_ahead() -> None:
    # The other way round: the camera clock is 20 min ahead of the (replayed) readings.
    f = feeds(False, replay_ahead=timedelta(minutes=-20))
    f.play(120)
    assert f.take() == []
    assert f.runner.clocks["cameras"] - f.runner.clocks["environment"] >= timedelta(minutes=19)
