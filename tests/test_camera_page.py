"""The camera wall of a running ``ioc demo`` in a real headless Chromium, and its pure pieces.

The browser test starts the real command (the Huế sample config: two sample cameras, the
OpenCV backend at 2 analysed fps, a key frame every 5 s, key frames in the demo's temporary
folder), logs in with the account the demo prints (camera frames need a login), opens
``/cameras/``, waits for both tiles to show a loaded key frame and counts,
fetches a frame, tries to climb out of the key frame folder, opens a camera large (click and
number key), closes it with Esc, and leaves ``tests/artifacts/camera-wall.png`` (the grid) and
``camera-wall-large.png`` (one camera) for a human to judge.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from conftest import ARTIFACTS, migrated_database
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from dashboards.cameras import (
    CameraInfo,
    FaultLimits,
    camera_health,
    count_figure,
    counts_by_camera,
    fault_limits,
    frame_url,
    grid_shape,
    safe_frame_path,
)
from ioc.camera_settings import CameraSettings, CameraZone, VisionSettings
from ioc.config import RuleSettings, Settings, WebSettings
from ioc.feeds.cameras.records import (
    Box,
    CameraDetection,
    CameraFrameStats,
    CameraKeyFrame,
    LaneOccupancy,
    TrafficCount,
)
from ioc.store.camera_queries import CameraAlert, CameraStatus, CountRow, KeyFrameRow
from ioc.store.database import Store, open_store
from ioc.store.writer import StoreWriter
from tests.browser import serving_wsgi
from tests.waiting import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[1]
CAMS = {"hue-cam-ngomon": "Ngọ Môn gate square", "hue-cam-truongtien": "Trường Tiền bridge, south end"}
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- pure pieces


def test_frame_paths_stay_inside_the_key_frame_folder(tmp_path: Path) -> None:
    root = tmp_path / "keyframes"
    (root / "cam").mkdir(parents=True)
    (root / "cam" / "latest.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    (root / "cam" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    assert safe_frame_path(root, "cam", "latest.jpg") == (root / "cam" / "latest.jpg").resolve()
    for camera, name in [("cam", "../../secret.jpg"), ("..", "secret.jpg"), (".", "../secret.jpg"),
                         ("cam", "link.jpg"), ("cam", "/etc/passwd.jpg"), ("cam", "latest.png"),
                         ("cam", "x\x00.jpg"), ("", "latest.jpg")]:
        assert safe_frame_path(root, camera, name) is None, (camera, name)


def test_frame_url_carries_the_key_frame_time() -> None:
    kf = KeyFrameRow("cam 1", NOW, "cam 1/20261125T080000.000Z.jpg", 640, 480, 3, 100)
    assert frame_url(kf) == f"/cameras/frame/cam%201/20261125T080000.000Z.jpg?t={int(NOW.timestamp() * 1000)}"
    assert frame_url(None) is None


def test_grid_fits_a_wall_screen() -> None:
    assert [grid_shape(n) for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12)] == [
        (1, 1), (1, 1), (2, 1), (3, 1), (2, 2), (3, 2), (3, 2), (4, 2), (4, 2), (3, 3), (4, 3), (4, 3)]
    cols, rows = grid_shape(20)
    assert cols * rows >= 20


def _status(**kw: object) -> CameraStatus:
    base = dict(camera_id="cam", time=NOW, connected=True, brightness=120.0, sharpness=900.0, change=2.0,
                motion=0.01, fps_in=25.0, last_frame=NOW, keyframe=None)
    base.update(kw)
    return CameraStatus(**base)  # type: ignore[arg-type]


def _fault_alert(fault: str) -> CameraAlert:
    return CameraAlert(1, "cam", "camera_fault", "camera-faults", "warning", "open", f"Camera {fault}", fault,
                       NOW, NOW, None, 1)


def test_camera_health() -> None:
    limits = FaultLimits()
    now = NOW + timedelta(seconds=3)
    ok = camera_health(_status(), [], limits, now)
    assert (ok.state, ok.label, ok.bad, ok.fps_in, ok.last_frame_age) == ("ok", "LIVE", False, 25.0,
                                                                          timedelta(seconds=3))
    assert camera_health(None, [], limits, now).state == "waiting"
    never = _status(time=None, connected=None, last_frame=None)
    assert camera_health(never, [], limits, now).state == "waiting"
    off = camera_health(_status(connected=False), [], limits, now)
    assert (off.state, off.label, off.bad) == ("offline", "OFFLINE", True)
    assert camera_health(_status(), [], limits, NOW + timedelta(seconds=31)).state == "offline"  # silent
    dark = camera_health(_status(brightness=3.0, change=0.0, sharpness=1.0), [], limits, now)
    assert (dark.state, dark.faults, dark.label) == ("fault", ("dark",), "FAULT: DARK")  # dark is also flat
    frozen = camera_health(_status(change=0.1, sharpness=10.0), [], limits, now)
    assert frozen.faults == ("frozen", "blurred") and frozen.label == "FAULT: FROZEN, BLURRED"
    alerted = camera_health(_status(), [_fault_alert("frozen")], limits, now)
    assert (alerted.state, alerted.faults) == ("fault", ("frozen",))
    assert camera_health(None, [_fault_alert("offline")], limits, now).state == "offline"
    only_dark = FaultLimits(faults=("dark",))
    assert camera_health(_status(change=0.0), [], only_dark, now).state == "ok"


def test_fault_limits_follow_the_configured_rule() -> None:
    settings = Settings(cameras=[], rules=RuleSettings(camera_faults=[
        {"name": "other", "cameras": ["x"], "dark_below": 99},
        {"name": "all", "offline_seconds": 12, "blur_below": 50, "faults": ["offline", "dark"]},
    ]))
    assert fault_limits(settings, "x").dark_below == 99
    assert fault_limits(settings, "cam") == FaultLimits(offline_seconds=12, blur_below=50,
                                                        faults=("offline", "dark"))
    assert fault_limits(Settings(cameras=[], rules=RuleSettings()), "cam") == FaultLimits()


def test_counts_and_count_figure() -> None:
    m = NOW.replace(second=0)
    rows = [
        CountRow("cam", m, "", "person", 3, 3, 1, 1.0, 1),
        CountRow("cam", m, "*", "motion", 2, 2, 1, 1.0, 0),
        CountRow("cam", m, "*", "person", 3, 9, 4, 3.0, 4),
        CountRow("cam", m, "path", "person", 3, 6, 3, 2.0, 3),
    ]
    grouped = counts_by_camera(rows)["cam"]
    assert grouped.bucket == m
    assert (grouped.whole, grouped.zones) == ({"motion": 1, "person": 4}, {"path": {"person": 3}})
    info = CameraInfo("cam", "Cam", zones=("path", "lawn"))
    fig = count_figure(rows, info, m - timedelta(minutes=60), m, ZoneInfo("Asia/Ho_Chi_Minh"),
                       [("crowd", "path", 3.0)])
    names = [t.get("name") for t in fig["data"][1:]]
    assert names == ["People · whole frame", "Motion · whole frame", "People · path"]  # '' left out
    assert fig["data"][1]["y"] == [4] and fig["data"][1]["x"] == ["2026-11-25T15:00:00"]
    assert fig["layout"]["shapes"][0]["y0"] == 3.0
    assert "crowd rule: above 3 in path" in fig["layout"]["annotations"][0]["text"]
    empty = count_figure([], info, m - timedelta(minutes=60), m, ZoneInfo("UTC"))
    assert "nothing counted" in empty["layout"]["annotations"][0]["text"]


# --------------------------------------------------------------------------- the real demo


def _ioc(*args: str) -> list[str]:
    return [sys.executable, "-m", "ioc.app.cli", *args]


_READY_JS = """
const tiles = Array.from(document.querySelectorAll('.cam-tile'));
return tiles.length === 2 && tiles.every(function (t) {
    const img = t.querySelector('img.cam-img');
    return img && img.complete && img.naturalWidth > 0 && t.querySelector('.cam-count-row .cam-count');
});
"""


def _wall_screen(driver: Any) -> None:
    """A 1920x1080 viewport, whatever the browser window's own decorations take."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})


def _assert_one_screen(driver: Any) -> None:
    size = driver.execute_script(
        "const e = document.documentElement;"
        "return [e.scrollWidth, e.scrollHeight, window.innerWidth, window.innerHeight];")
    assert size[2:] == [1920, 1080]
    assert size[0] <= 1920 and size[1] <= 1080, size
    clipped = driver.execute_script(  # every tile's foot (health and counts) is inside its tile
        "return Array.from(document.querySelectorAll('.cam-tile')).filter(t => {"
        " const f = t.querySelector('.cam-tile-foot').getBoundingClientRect();"
        " const r = t.getBoundingClientRect(); return f.bottom > r.bottom + 1 || r.bottom > 1080; })"
        ".map(t => t.dataset.camera);")
    assert clipped == []


def _get(host: str, port: int, path: str, cookie: str = "") -> tuple[int, bytes]:
    """A GET with the path sent as written (no client-side ``..`` clean-up)."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- a crowded wall


def _jpeg(path: Path, text: str, colour: tuple[int, int, int]) -> int:
    import cv2
    import numpy as np

    img = np.full((270, 480, 3), colour, np.uint8)
    cv2.rectangle(img, (180, 120), (230, 250), (60, 200, 60), 2)
    cv2.putText(img, text, (12, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    ok, data = cv2.imencode(".jpg", img)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return len(data)


@pytest.fixture
def crowded(pg_plain, tmp_path: Path) -> Iterator[tuple[str, Store]]:  # noqa: ANN001
    """Twelve cameras on a bare Flask server with only the camera page: live, offline, faulty, silent."""
    from flask import Flask

    from dashboards.cameras import create_camera_page

    store = open_store(migrated_database(pg_plain), pool_max=4, want_timescaledb=False)
    keyframes = tmp_path / "keyframes"
    street = CameraZone(name="street", polygon=[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)])
    cams = [CameraSettings(id=f"cam-{i:02d}", name=f"Camera {i:02d} {place}", area=area,
                           url="cameras/vtest.mp4", zones=[street])
            for i, (place, area) in enumerate(
                [("Đông Ba market", "Đông Ba"), ("Ngọ Môn gate", "Citadel"), ("Phú Xuân bridge", "Phú Hội"),
                 ("Hưng Vương", "Phú Nhuận"), ("An Cựu", "An Cựu"), ("Thuận An beach", "Thuận An"),
                 ("Kim Long", "Kim Long"), ("Vỹ Dạ", "Vỹ Dạ"), ("Bến Ngự", "Phước Vĩnh"),
                 ("Lê Lợi", "Vĩnh Ninh"), ("Train station", "Đúc"), ("Thiên Mụ pagoda", "Hương Long")],
                start=1)]
    settings = Settings(cameras=cams, vision=VisionSettings(keyframes_dir=keyframes),
                        web=WebSettings(refresh_ms=1000),
                        rules=RuleSettings(camera_faults=[{"name": "camera-faults", "offline_seconds": 30}]))
    now = datetime.now(UTC)
    events: list[Any] = []

    def live(cam: CameraSettings) -> dict[str, Any]:
        return {"brightness": 4.0 if cam.id == "cam-05" else 120.0, "sharpness": 900.0, "change": 3.0,
                "motion": 0.02, "analysed": True, "fps_in": 25.0}

    def report(t: datetime) -> list[CameraFrameStats]:
        """What the cameras say at ``t``: ten send frames, cam-03 sends heartbeats of a lost link."""
        return [CameraFrameStats(time=t, source_id=cam.id, connected=False) if cam.id == "cam-03"
                else CameraFrameStats(time=t, source_id=cam.id, **live(cam)) for cam in cams[:11]]

    for i, cam in enumerate(cams[:11], start=1):  # the twelfth never reports
        t = now - timedelta(seconds=1)
        if cam.id == "cam-03":  # lost two minutes ago; heartbeats since
            events.append(CameraFrameStats(time=now - timedelta(minutes=2), source_id=cam.id, **live(cam)))
            events.append(CameraFrameStats(time=t, source_id=cam.id, connected=False))
            t = now - timedelta(minutes=2)
        else:
            events.append(CameraFrameStats(time=t, source_id=cam.id, **live(cam)))
        name = f"{t:%Y%m%dT%H%M%S}.000Z.jpg"
        colour = (20, 20, 20) if cam.id == "cam-05" else (90, 70 + 8 * i, 40)
        size = _jpeg(keyframes / cam.id / name, cam.id, colour)
        events.append(CameraKeyFrame(time=t, source_id=cam.id, path=f"{cam.id}/{name}", width=480,
                                     height=270, detections=i % 4, size_bytes=size))
        for k in range(i % 5):
            events.append(CameraDetection(
                time=t, source_id=cam.id, label="person" if k % 2 else "car", score=0.8,
                box=Box(x1=10 + 40 * k, y1=150, x2=40 + 40 * k, y2=260), track_id=k,
                zone="street" if k < 3 else None, frame_width=480, frame_height=270,
            ))
    alerted = now - timedelta(minutes=3)  # cam-02's frame of its intrusion, older than its newest
    name = f"{alerted:%Y%m%dT%H%M%S}.000Z.jpg"
    size = _jpeg(keyframes / "cam-02" / name, "cam-02 alert", (40, 40, 160))
    events.append(CameraKeyFrame(time=alerted, source_id="cam-02", path=f"cam-02/{name}", width=480,
                                 height=270, detections=1, size_bytes=size))
    minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)  # what cam-01's worker measured
    events += [TrafficCount(time=minute, source_id="cam-01", line="bridge", direction="east", label=label,
                            count=n) for label, n in (("car", 3), ("motorcycle", 17))]
    events.append(LaneOccupancy(time=minute, source_id="cam-01", lane="near-lane", frames=120, occupancy=0.75,
                                queue_max=6, queue_mean=2.5, speed_px_s=12.0))
    StoreWriter(store.pool, store.caps).write(events)
    with store.pool.connection() as conn:
        for cam, detector, severity, title, details in [
            ("cam-02", "intrusion", "critical", "Intrusion: 1 person in restricted lawn at Ngọ Môn gate", {}),
            ("cam-08", "camera_fault", "warning", "Camera image frozen: Camera 08", {"fault": "frozen"}),
        ]:
            conn.execute(
                "INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, started_at, "
                "first_seen, last_seen, details) VALUES (%s, %s, 'r', %s, %s, %s, %s, %s, %s, %s::jsonb)",
                (f"{detector}:{cam}", detector, cam, severity, title, now - timedelta(minutes=3),
                 now - timedelta(minutes=3), now, json.dumps(details)),
            )
    # The cameras go on reporting once a second, as live ones do: the page judges "live" against
    # the database's clock, and a loaded machine may take longer than 30 s to show it.
    stop = threading.Event()

    def keep_reporting() -> None:
        writer = StoreWriter(store.pool, store.caps)
        while not stop.wait(1.0):
            writer.write(report(datetime.now(UTC)))

    reporter = threading.Thread(target=keep_reporting, name="crowded-cameras", daemon=True)
    reporter.start()
    server = Flask(__name__)
    create_camera_page(server, store.pool, settings)
    try:
        with serving_wsgi(server) as url:
            yield url, store
    finally:
        stop.set()
        reporter.join(timeout=30)
        store.close()


@pytest.mark.browser
def test_a_crowded_camera_wall_marks_offline_and_faulty_cameras(browser, crowded, caplog) -> None:  # noqa: ANN001
    base, _store = crowded
    _wall_screen(browser)
    browser.get(base + "/cameras/")
    wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.25)
    tiles_js = ("return Array.from(document.querySelectorAll('.cam-tile')).map(t => ({cam: t.dataset.camera,"
                " cls: t.className, badge: t.querySelector('.cam-badge').textContent,"
                " border: getComputedStyle(t).borderTopColor,"
                " img: t.querySelector('img.cam-img').naturalWidth || 0}));")
    wait.until(lambda d: sum(1 for t in d.execute_script(tiles_js) if t["img"] > 0) == 11)
    tiles = {t["cam"]: t for t in browser.execute_script(tiles_js)}
    assert list(tiles) == [f"cam-{i:02d}" for i in range(1, 13)]
    red = "rgb(255, 90, 95)"
    assert tiles["cam-03"]["badge"] == "OFFLINE" and "cam-offline" in tiles["cam-03"]["cls"]
    assert tiles["cam-05"]["badge"] == "FAULT: DARK" and "cam-fault" in tiles["cam-05"]["cls"]
    assert tiles["cam-08"]["badge"] == "FAULT: FROZEN" and "cam-fault" in tiles["cam-08"]["cls"]
    assert tiles["cam-12"]["badge"] == "NO SIGNAL YET" and "cam-waiting" in tiles["cam-12"]["cls"]
    for cam, t in tiles.items():
        bad = cam in ("cam-03", "cam-05", "cam-08")
        assert (t["border"] == red) == bad, (cam, t)
        if cam not in ("cam-03", "cam-05", "cam-08", "cam-12"):
            assert t["badge"] == "LIVE", (cam, t)
    assert "cam-alerted-critical" in tiles["cam-02"]["cls"]
    summary = browser.find_element(By.ID, "cam-summary").text
    assert "10 / 12 live" in summary and "1 offline" in summary and "2 faulty" in summary, summary
    _assert_one_screen(browser)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "camera-wall-crowded.png"))
    # the offline camera opens large like any other, marked as offline
    browser.find_element(By.CSS_SELECTOR, '.cam-tile[data-camera="cam-03"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cam-detail.cam-open.cam-offline"))
    assert browser.find_element(By.ID, "cam-detail-badge").text == "OFFLINE"
    assert "no counting line or lane" in browser.find_element(By.ID, "cam-detail-traffic").text
    # a traffic camera's large view: the newest minute of its counting line and lane
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#cam-detail.cam-open"))
    browser.find_element(By.CSS_SELECTOR, '.cam-tile[data-camera="cam-01"]').click()
    traffic = "return document.getElementById('cam-detail-traffic').innerText;"
    wait.until(lambda d: "bridge → east" in d.execute_script(traffic))
    text = browser.execute_script(traffic)
    assert "Motorbikes" in text and "17" in text and "75% occupied" in text and "12 px/s" in text, text
    # the console's link to a camera alert (``/cameras?camera=…&at=…``, no slash): that camera opens
    # large with its frame of the alert's time, not the newest one
    with _store.pool.connection() as conn:
        first = conn.execute("SELECT min(time) FROM camera_keyframes WHERE camera_id = 'cam-02'").fetchone()
    at = (first[0] + timedelta(seconds=5)).isoformat()
    browser.get(base + "/cameras?" + urlencode({"camera": "cam-02", "at": at}))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cam-detail.cam-open") and "cam-02/" in (
        d.find_element(By.ID, "cam-detail-img").get_attribute("src") or ""))
    assert f"{first[0]:%Y%m%dT%H%M%S}" in browser.find_element(By.ID, "cam-detail-img").get_attribute("src")
    assert "At the alert's time" in browser.find_element(By.ID, "cam-detail-cap").text
    assert [r.getMessage() for r in caplog.records if "Exception on" in r.getMessage()] == []


def test_a_tiles_alert_strip_counts_the_other_alerts_as_alerts_in_either_language() -> None:
    """"+ 1 more" on a camera tile counts alerts (the Vietnamese once said "tàu khác": vessels)."""
    from dashboards.cameras.tiles import alert_strip
    from dashboards.formats import Formats
    from ioc.store.camera_queries import CameraAlert

    now = datetime.now(UTC)
    alerts = [CameraAlert(id=i, camera_id="hue-cam-1", detector="intrusion", rule="r", severity="warning",
                          state="open", title=f"alert {i}", fault=None, started_at=now, last_seen=now,
                          resolved_at=None, count=1) for i in (1, 2, 3)]
    for lang, said in (("vi", "+ 2 cảnh báo khác"), ("en", "+ 2 more alerts")):
        children, _ = alert_strip(alerts, now, Formats(lang, "Asia/Ho_Chi_Minh"))
        text = json.dumps([c.to_plotly_json() for c in children], default=str, ensure_ascii=False)
        assert said in text and "tàu" not in text, text
