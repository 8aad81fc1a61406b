"""An hour of every feed of the Huế configuration, made by the feeds' own sources, parsers and workers.

Each feed's records end in the same hour ``[start, start + 1 h)`` and begin where the Huế demo
starts that feed, with the history its rules judge against, so that every feed with rules trips
some (the demo's own numbers):

* environment: the recorded sample (``sample_streams/environment/readings.csv``, real readings
  recorded elsewhere) through the CSV replay source, re-timed to the hour at the demo's cadence;
* vessels: the SIMULATED fleet's scenario (real NMEA through the AIS decoder) from 5 h before the
  hour (the demo's backfill is 4.6 h), with its storm warning, whose ban begins in the hour;
* cameras: frame statistics and detections of the two configured cameras as the camera worker
  publishes them (as ``tests/night_in_hue.py`` builds them): a covered lens, a camera that stops
  sending for two minutes, a crowd on the Ngọ Môn path, someone on its lawn, a jam at the bridge;
* security: the labelled attack simulator's scripts, round after round, through the security
  workers of the configuration's ``security-simulator`` feeds (their parsers); the gateway (an
  expected host) stops logging for the last 25 minutes;
* press: the SIMULATED outlets over HTTP, polled every five minutes of the hour by the
  configuration's ``press-simulator`` worker (a day of everyday news before it, the bursts' baseline);
* services: the sample export of one-stop-shop dossiers (``sample_streams/services/dossiers.csv``,
  SIMULATED, two weeks ending in the hour) through the CSV import;
* reports: the SIMULATED week of field reports the demo puts on the bus, up to the end of the hour,
  with a cluster of six reports of blocked drains in one ward in it (the demo's afternoon downpour).

Nothing reads the wall clock: the same ``start`` gives the same records.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.environment.base import ReadingChecks
from ingest.environment.csv_replay import CsvReplaySource
from ingest.press.worker import SimulatedPressWorker
from ingest.press.worker import feed_options as press_options
from ingest.reports.simulator import simulate
from ingest.security import build_worker as security_worker
from ingest.security.simulator import HOSTS, SCRIPT_SECONDS, attack_lines
from ingest.services import feed_options as services_options
from ingest.services.csv_import import read_csv_file
from ioc.bus.memory import MemoryBus
from ioc.config import Settings
from ioc.events import Event, decode
from ioc.feeds import feed
from ioc.feeds.cameras.records import Box, CameraDetection, CameraFrameStats, LaneOccupancy
from ioc.feeds.reports.settings import ReportsFeed
from ioc.topics import DEAD_LETTERS
from tests.test_replay import fleet_records

HOUR = timedelta(hours=1)
GATEWAY = HOSTS["gw"]  # an expected host of the Huế configuration's security rules
NGOMON, TRUONGTIEN = "hue-cam-ngomon", "hue-cam-truongtien"
# the fleet from a little before the demo's backfill (4.6 h): its storm ban begins inside the hour
FLEET_BACKFILL = timedelta(hours=5.0)
PRESS_BACKFILL = timedelta(hours=26)  # the demo's: a day of baseline before the hour, for the burst rule


def _published(feed_name: str, publish: Callable[[MemoryBus], None]) -> list[Event]:
    """What a worker publishes on a bus of its own: its feed's records (a dead letter fails)."""
    bus = MemoryBus(partitions=1)
    sub = bus.subscribe([*sorted(set(feed(feed_name).topics.values())), DEAD_LETTERS], "collect")
    publish(bus)
    out: list[Event] = []
    while batch := sub.poll(max_records=10_000, timeout=0.0):
        for message in batch:
            assert message.topic != DEAD_LETTERS, message.value[:500]
            out.append(decode(message.value))
    return out


def environment(settings: Settings, start: datetime) -> list[Event]:
    """The recorded sample re-timed to start at ``start``, a step every 2 s (the demo's cadence)."""
    source = CsvReplaySource(settings.samples_dir / "environment" / "readings.csv", cadence_seconds=2.0,
                             loop=False, now=lambda: start, checks=ReadingChecks.from_settings(settings))
    try:
        readings = source.due(start + HOUR - timedelta(microseconds=1))
        assert source.take_rejects() == [] and source.exhausted
    finally:
        source.close()
    return list(readings)


def vessels(start: datetime) -> list[Event]:
    """The SIMULATED fleet from the demo's backfill before ``start`` to the end of the hour."""
    hours = (FLEET_BACKFILL + HOUR).total_seconds() / 3600
    return [r for r in fleet_records(start - FLEET_BACKFILL, hours) if r.time < start + HOUR]


def _frame_stats(camera: str, at: datetime, *, covered: bool = False) -> CameraFrameStats:
    return CameraFrameStats(time=at, source_id=camera, brightness=3.0 if covered else 118.0,
                            sharpness=40.0 if covered else 850.0, change=0.4 if covered else 3.2,
                            motion=0.03, analysed=True, fps_in=25.0, frame_width=480, frame_height=270)


def _seen(camera: str, at: datetime, label: str, track: int, x: float, foot: float) -> CameraDetection:
    """One object at ``x`` (px) with its feet at ``foot`` (px) of a 480x270 frame."""
    return CameraDetection(time=at, source_id=camera, label=label, score=0.8, track_id=track,
                           box=Box(x1=x, y1=foot - 60, x2=x + 30, y2=foot), frame_width=480, frame_height=270)


def cameras(start: datetime) -> list[Event]:
    """The two cameras' hour: frame statistics every 2 s, the bridge lens covered for five minutes
    (10'-15'), the Ngọ Môn camera silent for two (30'-32'), five people on its path for a minute
    (20'), one on its lawn (25'), and four stopped cars at the bridge with a full, slow lane (40'-46')."""
    out: list[Event] = []
    for s in range(0, 3600, 2):
        at = start + timedelta(seconds=s)
        if not 30 * 60 <= s < 32 * 60:
            out.append(_frame_stats(NGOMON, at))
        out.append(_frame_stats(TRUONGTIEN, at, covered=10 * 60 <= s < 15 * 60))
    for half in range(120):  # two analysed frames a second
        at = start + timedelta(minutes=20, seconds=half / 2)
        out += [_seen(NGOMON, at, "person", k, 60 + 80 * k, 120) for k in range(5)]  # on the path
    for half in range(10):
        out.append(_seen(NGOMON, start + timedelta(minutes=25, seconds=half / 2), "person", 9, 200, 262))
    for half in range(40):
        at = start + timedelta(minutes=40, seconds=half / 2)
        out += [_seen(TRUONGTIEN, at, "car", 20 + k, 40 + 100 * k, 240) for k in range(4)]
    for minute in range(40, 47):
        out.append(LaneOccupancy(time=start + timedelta(minutes=minute), source_id=TRUONGTIEN,
                                 lane="near-lane",
                                 frames=120, occupancy=0.9, queue_max=5, queue_mean=3.5, speed_px_s=4.0))
    return sorted(out, key=lambda r: r.time)


def security(settings: Settings, start: datetime) -> list[Event]:
    """Each ``security-simulator`` feed's worker handed the simulator's script, round after round
    (as its source plays them: seed 13, 14, ...), each line received when it is due."""
    feeds = [f for f in settings.feeds if f.kind == "security-simulator"]
    assert feeds, "the configuration has no security-simulator feed"

    def publish(bus: MemoryBus) -> None:
        for f in feeds:
            worker = security_worker(f, bus.publisher(), settings.samples_dir)
            began = start
            for rounds in range(int(HOUR.total_seconds() // SCRIPT_SECONDS)):
                for offset, line in attack_lines(worker.log_kind, began, seed=13 + rounds):
                    worker.handle([line], began + timedelta(seconds=offset))
                began += timedelta(seconds=SCRIPT_SECONDS)
            worker.out.flush(force=True)
            assert worker.health["dead_letters"] == 0, worker.health

    quiet = start + timedelta(minutes=35)  # the gateway falls silent: longer than silent_minutes
    return [e for e in _published("security", publish) if not (e.source_id == GATEWAY and e.time >= quiet)]


def press(settings: Settings, start: datetime) -> list[Event]:
    """The configuration's ``press-simulator`` worker started at ``start``, polling its SIMULATED
    outlets over HTTP every five minutes of the hour, with :data:`PRESS_BACKFILL` of news before it."""
    entry = next(f for f in settings.feeds if f.kind == "press-simulator")
    backfill = PRESS_BACKFILL.total_seconds() / 3600
    options = press_options(entry).model_copy(update={"backfill_hours": backfill})
    now = [start]

    def publish(bus: MemoryBus) -> None:
        worker = SimulatedPressWorker(entry.name, options, bus.publisher(), clock=lambda: now[0])
        serving = threading.Thread(target=worker.server.serve_forever, daemon=True)
        serving.start()
        try:
            for minute in range(0, 60, 5):
                now[0] = start + timedelta(minutes=minute)
                worker.round(now[0])
        finally:
            worker.server.shutdown()
            worker.server.server_close()
            serving.join(timeout=10)
        assert worker.health["dead_letters"] == 0 and not worker.health["failing"], worker.health

    return sorted(_published("press", publish), key=lambda r: r.time)


def services(settings: Settings) -> list[Event]:
    """The configuration's ``services-csv`` export, through the CSV import (a bad line fails)."""
    entry = next(f for f in settings.feeds if f.kind == "services-csv")
    options = services_options(entry)
    rows = list(read_csv_file(Path(settings.samples_dir) / str(options.path), source=entry.name,
                              tz=ZoneInfo(options.timezone), simulated=options.simulated))
    assert rows and all(isinstance(r, Event) for r in rows), [r for r in rows if not isinstance(r, Event)][:3]
    return sorted(rows, key=lambda r: r.time)  # type: ignore[arg-type, return-value]


def reports(settings: Settings, start: datetime) -> list[Event]:
    """The demo's SIMULATED week of field reports (and what the day held) up to the end of the hour."""
    entry = next(f for f in settings.feeds if f.kind == "open311")
    path = Path(settings.samples_dir) / entry.options["settings_file"]
    cfg = ReportsFeed.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    days = int(entry.options.get("simulate_days", 7))
    first = start.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    cluster = [start + timedelta(minutes=5)]  # blocked drains in one ward: the burst rule's case
    return [e for e in simulate(cfg, first, days + 1, clusters=cluster) if e.time < start + HOUR]


def services_hour(settings: Settings) -> datetime:
    """The hour the services sample export ends in (the hour every feed is recorded up to)."""
    last = services(settings)[-1].time
    return last.replace(minute=0, second=0, microsecond=0)


def hour_of_every_feed(settings: Settings, start: datetime) -> dict[str, list[Event]]:
    """Every feed's records up to the end of the hour from ``start``, each in event-time order."""
    return {
        "environment": environment(settings, start),
        "vessels": vessels(start),
        "cameras": cameras(start),
        "security": security(settings, start),
        "press": press(settings, start),
        "services": [r for r in services(settings) if r.time < start + HOUR],
        "reports": reports(settings, start),
    }
