"""The demo's real feeds together, on an injected clock: no camera looks offline while it sends.

The environment replay, the simulated fleet (with its storm warning issued minutes ahead) and the
two sample cameras are driven by one virtual clock, a second at a time, into the detector runner
in live mode with the demo's rules: minutes of event time in seconds of wall time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from detectors.registry import build_detectors
from detectors.runner import DetectorRunner
from ingest import environment, vessels
from ingest.cameras import CameraWorker
from ioc.bus.memory import MemoryBus
from ioc.config import load_settings
from ioc.events import AlertSignal, decode
from ioc.topics import ALERT_SIGNALS, TOPIC_BY_KIND

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_demo_feeds_together_raise_no_offline_camera_and_one_for_a_stopped_one(tmp_path: Path) -> None:
    settings = load_settings()
    now = [T0]

    def clock() -> datetime:
        return now[0]

    bus = MemoryBus(partitions=settings.bus.partitions)
    wall = bus.subscribe([ALERT_SIGNALS], "wall")
    weather = bus.subscribe([TOPIC_BY_KIND["storm.warning"]], "weather-reader")
    runner = DetectorRunner(bus, build_detectors(settings), use_wall_clock=True, clock=clock)
    env_feed = next(f for f in settings.feeds if f.kind == "csv_replay")
    env_source = environment.build_source(env_feed, settings, settings.samples_dir, clock)
    env = environment.EnvironmentWorker(env_source, bus.publisher(), feed_name=env_feed.name, clock=clock)
    fleet_feed = next(f for f in settings.feeds if f.kind == "ais_simulator")
    fleet = vessels.build_worker(fleet_feed, bus.publisher(), settings.samples_dir, clock=clock)
    fleet_lines = fleet.source.simulator.sentences(T0 + timedelta(minutes=10))  # type: ignore[attr-defined]
    pending = next(fleet_lines, None)
    vision = settings.vision.model_copy(update={"keyframes_dir": tmp_path})
    # The sample clips decoded as fast as they go (stamped on their own timeline), analysed at 1 fps.
    cameras = {c.id: CameraWorker(c.model_copy(update={"realtime": False, "analysed_fps": 1.0}),
                                  bus.publisher(), vision=vision, samples_dir=settings.samples_dir,
                                  clock=clock)
               for c in settings.cameras}
    signals: list[AlertSignal] = []

    def run(seconds: int, stopped: frozenset[str] = frozenset()) -> None:
        nonlocal pending
        for _ in range(seconds):
            now[0] += timedelta(seconds=1)
            env.step(now[0])
            lines = []
            while pending is not None and pending[0] <= now[0]:
                lines.append(pending[1].encode("ascii"))
                pending = next(fleet_lines, None)
            fleet.handle(lines, now[0])
            fleet.flush(force=True)
            for cid, worker in cameras.items():
                while cid not in stopped and (worker.capture.health["last_frame_time"] or T0) < now[0]:
                    worker.step()
            while runner.run_once(timeout=0.001):
                pass
            runner.run_once(timeout=0.001)
            while batch := wall.poll(timeout=0.001):
                signals.extend(s for m in batch if isinstance(s := decode(m.value), AlertSignal))

    def offline() -> list[tuple[str, str]]:
        return [(s.source_id, s.status) for s in signals if s.fingerprint.endswith(":offline")]

    run(120)  # two minutes of event time with every feed
    warnings = [decode(m.value) for m in weather.poll(max_records=100, timeout=0.001)]
    assert max(w.time for w in warnings) - T0 > timedelta(minutes=3)  # the storm warning, issued ahead
    assert runner.clocks["cameras"] < max(w.time for w in warnings)  # ... moves no feed's clock
    assert {"cameras", "environment", "vessels"} <= set(runner.clocks)
    assert offline() == []
    assert not [s for s in signals if s.detector == "stale"]
    assert max(w.capture.health["frames_analysed"] for w in cameras.values()) >= 100

    stopped = "hue-cam-truongtien"
    run(45, frozenset({stopped}))  # one camera really stops
    assert offline() == [(stopped, "firing")]
    run(5)  # and comes back
    assert offline() == [(stopped, "firing"), (stopped, "resolved")]
