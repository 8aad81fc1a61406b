"""The detector runner on the real in-process bus: routing, signals, dead input, watermark, commit."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from detectors.base import Detector
from detectors.runner import DetectorRunner
from detectors.stale import StaleSensorDetector
from detectors.threshold import ThresholdDetector
from ioc.bus.memory import MemoryBus, MemorySubscription
from ioc.config import StaleRule
from ioc.events import AlertSignal, Event, decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.topics import ALERT_SIGNALS, TOPIC_BY_KIND, replay_topic
from tests.waiting import wait_for

READINGS = TOPIC_BY_KIND["environment.reading"]
T0 = datetime(2024, 10, 14, 8, 0, tzinfo=UTC)
# CO2 (ppm) every 2 minutes in a classroom: above 1000 from 08:08, clears by 50 ppm at 08:30.
CO2 = [812, 870, 931, 985, 1012, 1048, 1090, 1123, 1161, 1140, 1108, 1060, 1010, 985, 960, 940, 905]
CO2_RULE = ThresholdRule(name="co2-high", metric="co2", above=1000, for_minutes=10, clear_margin=50)
STALE_RULE = StaleRule(name="air-silent", after_minutes=15)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reading(minutes: float, value: float, source: str) -> EnvironmentReading:
    return EnvironmentReading(time=at(minutes), source_id=source, metric="co2", value=value, unit="ppm")


def co2(source: str, values: Iterable[float] = CO2) -> list[EnvironmentReading]:
    return [reading(2 * i, v, source) for i, v in enumerate(values)]


def publish(bus: MemoryBus, events: Iterable[Event], topic: str = READINGS) -> None:
    publisher = bus.publisher()
    for event in events:
        publisher.publish(topic, event.source_id, event.to_wire())
    publisher.flush()


def drain(runner: DetectorRunner, max_records: int = 500) -> None:
    while runner.run_once(max_records=max_records, timeout=0.01):
        pass


def read_signals(subscription: MemorySubscription) -> list[tuple[str | None, AlertSignal]]:
    out: list[tuple[str | None, AlertSignal]] = []
    while batch := subscription.poll(timeout=0.01):
        for message in batch:
            signal = decode(message.value)
            assert isinstance(signal, AlertSignal)
            out.append((message.key, signal))
    subscription.commit()
    return out


def brief(signals: Iterable[AlertSignal]) -> list[tuple[str, str, datetime, datetime | None]]:
    return sorted((s.fingerprint, s.status, s.time, s.started_at) for s in signals)


def test_runner_publishes_signals_and_skips_undecodable_records() -> None:
    bus = MemoryBus(partitions=4)
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    detector = ThresholdDetector([CO2_RULE], stations={"hue-air-dongba": "Đông Ba"})
    runner = DetectorRunner(bus, [detector])
    assert runner.topics == (READINGS,)
    publish(bus, co2("hue-air-dongba") + co2("hue-air-dainoi", [600.0] * 17))
    bus.publisher().publish(READINGS, "hue-air-dongba", b'{"kind": "environment.reading", "value": ')
    drain(runner)
    signals = read_signals(wall)
    assert [key for key, _ in signals] == ["hue-air-dongba", "hue-air-dongba"]
    assert [(s.fingerprint, s.status, s.time, s.started_at, s.area) for _, s in signals] == [
        ("threshold:co2-high:hue-air-dongba", "firing", at(18), at(8), "Đông Ba"),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(30), at(8), "Đông Ba"),
    ]
    assert runner.undecodable == 1
    assert runner.events_seen == 34 and runner.signals_published == 2
    assert runner.watermark == at(32) and runner.last_event_time is not None
    # Each batch was committed once handled: a member joining the group now finds nothing to redo.
    again = DetectorRunner(bus, [ThresholdDetector([CO2_RULE])])
    assert again.run_once(timeout=0.01) == 0
    again.close()
    runner.close()


def test_runner_signals_do_not_depend_on_batch_size() -> None:
    def run(max_records: int) -> list[tuple[str, str, datetime, datetime | None]]:
        bus = MemoryBus(partitions=4)
        wall = bus.subscribe([ALERT_SIGNALS], "wall")
        detectors: list[Detector] = [ThresholdDetector([CO2_RULE]), StaleSensorDetector([STALE_RULE])]
        runner = DetectorRunner(bus, detectors)
        # Four stations on different partitions; Đại Nội is silent from 08:04 to 08:24.
        dainoi = [e for e in co2("hue-air-dainoi", [500.0] * 17) if not at(4) < e.time < at(24)]
        publish(bus, co2("hue-air-dongba") + dainoi + co2("hue-air-truongtien", [700.0] * 17)
                + co2("hue-air-kimlong", [650.0] * 17))
        drain(runner, max_records)
        runner.close()
        return brief(s for _, s in read_signals(wall))

    expected = [
        ("stale:air-silent:hue-air-dainoi", "firing", at(19), at(4)),
        ("stale:air-silent:hue-air-dainoi", "resolved", at(24), at(4)),
        ("threshold:co2-high:hue-air-dongba", "firing", at(18), at(8)),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(30), at(8)),
    ]
    for max_records in (1, 3, 10, 500):
        assert run(max_records) == expected, f"batches of {max_records}"


def test_runner_live_mode_advances_with_the_injected_clock() -> None:
    bus = MemoryBus()
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    now = [at(12)]
    runner = DetectorRunner(
        bus, [StaleSensorDetector([STALE_RULE])], use_wall_clock=True, clock=lambda: now[0]
    )
    publish(bus, [reading(m, 500, s) for m in (0, 5, 10) for s in ("hue-air-dainoi", "hue-air-dongba")])
    drain(runner)
    assert read_signals(wall) == []
    now[0] = at(30)  # nothing arrives, but the wall clock moves on
    assert runner.run_once(timeout=0.01) == 0
    assert brief(s for _, s in read_signals(wall)) == [
        ("stale:air-silent:hue-air-dainoi", "firing", at(25), at(10)),
        ("stale:air-silent:hue-air-dongba", "firing", at(25), at(10)),
    ]
    # A reading stamped ahead of the clock does not drag the watermark along; one stamped further
    # ahead than any source's clock can be (a year) is not even observed (the sink dead-letters it).
    ahead = EnvironmentReading(time=at(90), source_id="hue-air-fast", metric="co2", value=1)
    future = EnvironmentReading(time=at(60 * 24 * 365), source_id="hue-air-broken", metric="co2", value=1)
    publish(bus, [reading(31, 500, "hue-air-dainoi"), ahead, future])
    drain(runner)
    assert runner.future_events == 1 and runner.watermark == at(31)
    assert runner.implausible_times == 1
    assert brief(s for _, s in read_signals(wall)) == [
        ("stale:air-silent:hue-air-dainoi", "resolved", at(31), at(10)),
    ]
    # In event time only, the same readings never look stale: nothing newer has happened.
    replay_bus = MemoryBus()
    replay = DetectorRunner(replay_bus, [StaleSensorDetector([STALE_RULE])])
    publish(replay_bus, [reading(m, 500, "hue-air-dainoi") for m in (0, 5, 10)])
    drain(replay)
    assert replay.signals_published == 0


class ExplodingDetector:
    """A detector with a bug: it raises on every reading of one station."""

    name = "exploding"
    kinds = frozenset({"environment.reading"})

    def observe(self, event: Event) -> list[AlertSignal]:
        if event.source_id == "hue-air-dongba":
            raise RuntimeError("bug")
        return []

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        return []

    def state(self) -> dict[str, object]:
        return {}

    def restore(self, state: dict[str, object]) -> None:
        return None


def test_runner_survives_a_failing_detector() -> None:
    bus = MemoryBus()
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    runner = DetectorRunner(bus, [ExplodingDetector(), ThresholdDetector([CO2_RULE])])
    publish(bus, co2("hue-air-dongba"))
    drain(runner)
    assert runner.detector_errors == len(CO2)
    assert [s.status for _, s in read_signals(wall)] == ["firing", "resolved"]


def test_runner_reads_and_writes_a_replay_namespace() -> None:
    bus = MemoryBus()
    live = bus.subscribe([ALERT_SIGNALS], "wall")
    replay_signals = replay_topic(ALERT_SIGNALS, "analyst-1")
    replayed = bus.subscribe([replay_signals], "analyst")
    runner = DetectorRunner(
        bus, [ThresholdDetector([CO2_RULE])], group="replay-analyst-1",
        topics=[replay_topic(READINGS, "analyst-1")], signal_topic=replay_signals,
    )
    publish(bus, co2("hue-air-dongba"), topic=replay_topic(READINGS, "analyst-1"))
    drain(runner)
    assert read_signals(live) == []
    assert [s.status for _, s in read_signals(replayed)] == ["firing", "resolved"]


def test_runner_run_loop_stops_commits_and_closes() -> None:
    bus = MemoryBus()
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    runner = DetectorRunner(bus, [ThresholdDetector([CO2_RULE])])
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    publish(bus, co2("hue-air-dongba"))
    wait_for(lambda: runner.signals_published >= 2, "the firing and the resolved signal")
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert [s.status for _, s in read_signals(wall)] == ["firing", "resolved"]
    follower = DetectorRunner(bus, [ThresholdDetector([CO2_RULE])])
    assert follower.run_once(timeout=0.01) == 0  # the stopped runner left nothing uncommitted
    follower.close()


def test_runner_needs_something_to_read() -> None:
    with pytest.raises(ValueError):
        DetectorRunner(MemoryBus(), [ThresholdDetector([])])
