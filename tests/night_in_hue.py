"""Something on every page of the Huế configuration: cameras, vessels, dossiers and open alerts.

Written through the real writer and the real alerts service into a migrated store, so the page
tests in both languages see what a duty officer sees on a busy night (not empty tiles):

* the two configured cameras report (key frames, counts in their zones), the Trường Tiền one with
  a covered lens, judged by the real camera-fault rule, and keep reporting once a second
  (:func:`keep_cameras_reporting`) so that the pages go on seeing them live;
* a few vessels at sea off Thuận An, two of them close together, one SIMULATED;
* forty days of SIMULATED one-stop-shop dossiers;
* open alerts of the camera and vessel rules, titled by their templates (so each reads in the
  screen's language), among them the real fault alert.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.service import AlertService
from detectors.cameras.crowd import CROWD_TITLES
from detectors.cameras.faults import CameraFaultDetector
from detectors.cameras.wrong_way import WRONG_WAY_TITLES
from detectors.vessels.encounter import ENCOUNTER_TITLE
from detectors.vessels.storm_ban import STORM_BAN_TITLE
from detectors.vessels.zone_dwell import DWELL_TITLES
from ingest.services.simulator import dossier_rows
from ioc.config import Settings
from ioc.events import AlertSignal
from ioc.feeds.cameras.records import Box, CameraDetection, CameraFrameStats, CameraKeyFrame
from ioc.feeds.services.records import DossierEvent
from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.i18n import render
from ioc.store.writer import StoreWriter

NGOMON, TRUONGTIEN = "hue-cam-ngomon", "hue-cam-truongtien"
ENCOUNTER = (574001230, 574001231)
STORM_BOAT = 574001234


def with_keyframes(settings: Settings, folder: Path) -> Settings:
    """``settings`` with its key frames kept in ``folder``."""
    vision = settings.vision.model_copy(update={"keyframes_dir": folder})
    return settings.model_copy(update={"vision": vision})


def _stats(camera: str, at: datetime) -> CameraFrameStats:
    covered = camera == TRUONGTIEN
    return CameraFrameStats(time=at, source_id=camera, brightness=3.0 if covered else 118.0,
                            sharpness=40.0 if covered else 850.0, change=0.4 if covered else 3.2,
                            motion=0.03, analysed=True, fps_in=25.0)


def _jpeg(path: Path, colour: tuple[int, int, int]) -> int:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 270), colour)
    ImageDraw.Draw(img).rectangle((180, 120, 230, 250), outline=(60, 200, 60), width=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG")
    return path.stat().st_size


def _cameras(settings: Settings, now: datetime) -> list[Any]:
    events: list[Any] = []
    for camera, colour, objects in ((NGOMON, (90, 110, 60), 5), (TRUONGTIEN, (12, 12, 12), 2)):
        name = f"{now:%Y%m%dT%H%M%S}.000Z.jpg"
        size = _jpeg(Path(settings.vision.keyframes_dir) / camera / name, colour)
        events.append(CameraKeyFrame(time=now, source_id=camera, path=f"{camera}/{name}", width=480,
                                     height=270, detections=objects, size_bytes=size))
        zone = "path" if camera == NGOMON else "road"
        for k in range(objects):
            events.append(CameraDetection(
                time=now, source_id=camera, label="person" if camera == NGOMON else "car", score=0.8,
                box=Box(x1=10 + 40 * k, y1=150, x2=40 + 40 * k, y2=260), track_id=k, zone=zone,
                frame_width=480, frame_height=270))
    return events


def _vessels(now: datetime) -> list[Any]:
    fleet = [  # mmsi, lat, lon, knots, course, name, simulated
        (ENCOUNTER[0], 16.700, 107.700, 1.2, 40.0, "QNg 90417 TS", False),
        (ENCOUNTER[1], 16.701, 107.701, 1.0, 220.0, "QNg 90355 TS", False),
        (STORM_BOAT, 16.760, 107.620, 6.5, 350.0, "TTH 95012 TS", False),
        (574009001, 16.640, 107.780, 8.4, 120.0, "SIM TTH 1", True),
        (574009002, 16.585, 107.640, 0.0, 0.0, None, False),
    ]
    out: list[Any] = []
    for mmsi, lat, lon, sog, cog, name, sim in fleet:
        for minutes in (20, 10, 0):
            out.append(VesselPosition(time=now - timedelta(minutes=minutes), source_id=str(mmsi), mmsi=mmsi,
                                      lat=lat - minutes * 0.0004, lon=lon, sog=sog, cog=cog,
                                      nav_status=0 if sog else 5, simulated=sim))
        if name:
            out.append(VesselStatic(time=now - timedelta(hours=1), source_id=str(mmsi), mmsi=mmsi, name=name,
                                    callsign="XVN" + str(mmsi)[-4:], ship_type=30, length_m=14.5, beam_m=4.2,
                                    destination="THUAN AN", simulated=sim))
    return out


def _signal(detector: str, source: str, template: str, params: dict[str, Any], severity: str,
            started: datetime, area: str | None, details: dict[str, Any]) -> AlertSignal:
    """A firing signal titled as the rule titles it: its template, its fields, the English filled in."""
    return AlertSignal(time=started, source_id=source, detector=detector, rule=detector,
                       fingerprint=f"{detector}:{source}", status="firing", severity=severity,  # type: ignore[arg-type]
                       title=render("alerts", template, params, "en", template), title_template=template,
                       title_params=params, area=area, started_at=started, details=details)


def _alerts(settings: Settings, now: datetime) -> list[AlertSignal]:
    names = {cam.id: cam.name for cam in settings.cameras}
    faults = CameraFaultDetector.from_settings(settings)  # the real rule on the covered lens
    fired: list[AlertSignal] = []
    for i in range(60):
        fired += faults.observe(_stats(TRUONGTIEN, now - timedelta(seconds=30 - i / 2)))
    fired = [s for s in fired if s.status == "firing"]
    assert fired, "the covered lens raised no camera-fault alert"
    a, b = ENCOUNTER
    return [
        *fired,
        _signal("crowd", NGOMON, CROWD_TITLES[(True, True)],
                {"camera": names[NGOMON], "zone": "path", "labels": "person", "count": 5, "peak": 5,
                 "above": 3, "seconds": 10.0}, "warning", now - timedelta(minutes=4), names[NGOMON],
                {"camera": NGOMON}),
        _signal("wrong_way", TRUONGTIEN, WRONG_WAY_TITLES[True],
                {"camera": names[TRUONGTIEN], "zone": "road", "count": 2}, "critical",
                now - timedelta(minutes=2), names[TRUONGTIEN], {"camera": TRUONGTIEN}),
        _signal("encounter", str(a), ENCOUNTER_TITLE, {"a": a, "b": b, "meters": 200.0, "hours": 1.5},
                "warning", now - timedelta(minutes=95), None, {"mmsi": a, "mmsis": [a, b]}),
        _signal("storm_ban", str(STORM_BOAT), STORM_BAN_TITLE, {"mmsi": STORM_BOAT, "area": "Thuận An"},
                "critical", now - timedelta(minutes=12), "Thuận An", {"mmsi": STORM_BOAT}),
        _signal("zone_dwell", "574009001", DWELL_TITLES["no_fishing"][0],
                {"mmsi": 574009001, "zone": "Cồn Cỏ", "kind": "no fishing", "minutes": 30.0}, "warning",
                now - timedelta(minutes=40), "Cồn Cỏ", {"mmsi": 574009001}),
    ]


def seed(store: Any, settings: Settings) -> None:
    """Write the night's data and raise its alerts."""
    now = datetime.now(UTC).replace(microsecond=0)
    writer = StoreWriter(store.pool, store.caps)
    events: list[Any] = [_stats(cam, now - timedelta(seconds=1)) for cam in (NGOMON, TRUONGTIEN)]
    events += _cameras(settings, now - timedelta(seconds=1))
    events += _vessels(now)
    events += [DossierEvent(source_id="motcua", **r) for r in dossier_rows(now - timedelta(days=40), now,
                                                                          per_day=40)]
    writer.write(events)
    service = AlertService(store.pool)
    for signal in _alerts(settings, now):
        service.apply(signal)


@contextmanager
def keep_cameras_reporting(store: Any) -> Iterator[None]:
    """The cameras go on sending frame statistics once a second while the block runs, as live ones do
    (the pages judge "live" against the database's clock)."""
    stop = threading.Event()

    def report() -> None:
        writer = StoreWriter(store.pool, store.caps)
        while not stop.wait(1.0):
            writer.write([_stats(cam, datetime.now(UTC)) for cam in (NGOMON, TRUONGTIEN)])

    thread = threading.Thread(target=report, name="hue-cameras", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
