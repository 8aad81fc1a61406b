"""The replay page and the web role's replay worker, on a real PostgreSQL and in headless Chromium.

A recorded SIMULATED fleet day, environment readings and camera key frames are stored; a replay is
queued as the page queues it, run by :class:`ReplayJobs` in a database of its own (live alerts stay
as they were), and the page seeks its cursor and shows the city as of that moment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ARTIFACTS, migrated_database
from PIL import Image, ImageDraw

from alerts.people import People
from ioc.app.replay import replay_database, run_replay
from ioc.app.replay_jobs import ReplayJobs
from ioc.camera_settings import VisionSettings
from ioc.config import Settings
from ioc.feeds.cameras.records import CameraKeyFrame
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.vessels.records import StormWarning
from ioc.recording import records_from_store
from ioc.store import replay_runs as runs
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import serving_pages, wait_until_still
from tests.test_replay import T0, fleet_records, vessel_settings
from tests.test_security_page import PASSWORD, login
from tests.waiting import wait_for

TUNED = "[rules.vessels.ais_gap]\ngap_minutes = 20\n"
END = T0 + timedelta(hours=14)
FRAMES_AT = (T0 + timedelta(hours=9), T0 + timedelta(hours=9, minutes=2))  # two cameras, after 09:00


def _jpeg(path: Path, text: str, colour: tuple[int, int, int]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (480, 270), colour)
    ImageDraw.Draw(image).text((20, 20), text, fill=(255, 255, 255))
    image.save(path, "JPEG")
    return path.stat().st_size


def seed(store: Store, keyframes: Path) -> int:
    """The fleet's day, two stations' readings from 08:00 and two cameras' key frames after 09:00;
    one live alert. Returns the number of records stored before :data:`END`."""
    records = [r for r in fleet_records() if not isinstance(r, StormWarning)]
    for i in range(0, 6 * 60, 5):  # 08:00 - 14:00 UTC, every five minutes
        at = T0 + timedelta(hours=8, minutes=i)
        records += [EnvironmentReading(time=at, source_id="hue-river-kimlong", metric="water_level",
                                       value=1.2 + i / 1000, unit="m"),
                    EnvironmentReading(time=at, source_id="hue-air-dongba", metric="pm25", value=30.0 + i % 7,
                                       unit="µg/m³")]
    for n, at in enumerate(FRAMES_AT):
        camera = f"cam-{n + 1:02d}"
        name = f"{at:%Y%m%dT%H%M%S}.000Z.jpg"
        size = _jpeg(keyframes / camera / name, f"{camera} {at:%H:%M}", (40 + 60 * n, 90, 120))
        records.append(CameraKeyFrame(time=at, source_id=camera, path=f"{camera}/{name}", width=480,
                                      height=270, detections=n + 1, size_bytes=size))
    StoreWriter(store.pool, store.caps).write(records)
    with store.pool.connection() as conn:
        conn.execute("INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, "
                     "started_at, first_seen, last_seen) VALUES ('live:1', 'ais_gap', 'ais_gap', '1', "
                     "'warning', 'live', now(), now(), now())")
    return sum(r.time < END for r in records)


def live_alerts(store: Store) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute("SELECT id, fingerprint, state, version, updated_at FROM alerts "
                            "ORDER BY id").fetchall()


def state(store: Store, run_id: int) -> str | None:
    run = runs.get_run(store.pool, run_id)
    return run.state if run else None


def test_the_track_map_without_positions_says_so_instead_of_drawing_empty_axes() -> None:
    """Before a run (or before its first position) the map drew plotly's made-up axes around nothing,
    longitude -4 to 8; it now says what the empty map means, in the page's language."""
    from dashboards.replay.view import track_figure
    from ioc.store.replay_queries import TrackPoint

    empty = track_figure({}, "vi").to_plotly_json()["layout"]
    assert empty["xaxis"]["visible"] is False and empty["yaxis"]["visible"] is False
    assert [a["text"] for a in empty["annotations"]] == ["Chưa có vị trí tàu nào đến con trỏ"]
    point = TrackPoint(mmsi=412000001, time=T0, lat=16.6, lon=107.6, sog=5.0, simulated=True)
    drawn = track_figure({412000001: [point]}, "en").to_plotly_json()["layout"]
    assert drawn["xaxis"]["title"]["text"] == "longitude" and not drawn.get("annotations")


@pytest.fixture
def recorded(pg_plain: EmbeddedPostgres, tmp_path: Path) -> Iterator[tuple[Store, Settings, int]]:
    store = open_store(migrated_database(pg_plain), pool_max=8, want_timescaledb=False)
    frames = VisionSettings(keyframes_dir=tmp_path / "frames")
    settings = vessel_settings().model_copy(update={"vision": frames})
    try:
        yield store, settings, seed(store, tmp_path / "frames")
    finally:
        store.close()


def test_a_queued_back_test_runs_apart_from_live_alerts_and_matches_a_direct_replay(
        recorded: tuple[Store, Settings, int]) -> None:
    store, settings, stored = recorded
    before = live_alerts(store)
    run_id = runs.request_run(store.pool, "ana", T0, END, ["vessels", "environment", "cameras"], "max", TUNED)
    jobs = ReplayJobs(store, settings, worker="test")
    assert jobs.run_once() and not jobs.run_once()  # one run queued, one run done
    run = runs.get_run(store.pool, run_id)
    assert run is not None and run.state == "done", run and run.error
    assert run.total == 2 * stored and run.events == run.total and run.fraction == 1.0
    assert live_alerts(store) == before  # the live alerts were never written
    with replay_database(store.dsn) as db:  # the same period replayed directly: the same alerts
        direct = run_replay((r for _, r in records_from_store(store.pool, T0, END)), settings, db.pool)
    assert sorted((a["fingerprint"], a["first_seen"], a["severity"]) for a in run.result["alerts"]) == sorted(
        (a.fingerprint, a.first_seen.isoformat(), a.severity) for a in direct.alerts)
    assert "ais_gap" in {a.rule for a in direct.alerts}
    per_rule = run.result["backtest"]["per_rule"]
    assert per_rule and all("gap" in rule for rule in per_rule), per_rule
    assert sum(n["added"] + n["changed"] for n in per_rule.values()) > 0


def test_a_bad_rules_text_fails_the_run_with_its_reason_and_a_cancel_stops_a_queued_one(
        recorded: tuple[Store, Settings, int]) -> None:
    store, settings, _ = recorded
    bad = runs.request_run(store.pool, "ana", T0, END, ["vessels"], "max",
                           "[rules.vessels.ais_gap]\ngap_minutes = 'x'\n")
    jobs = ReplayJobs(store, settings, worker="test")
    assert jobs.run_once()
    failed = runs.get_run(store.pool, bad)
    assert failed is not None and failed.state == "failed" and "gap_minutes" in (failed.error or "")
    queued = runs.request_run(store.pool, "ana", T0, END, ["vessels"], "1", None)
    assert runs.send_command(store.pool, queued, "cancel")
    assert not jobs.run_once()  # nothing left to claim
    assert runs.get_run(store.pool, queued).state == "cancelled"  # type: ignore[union-attr]


def test_pause_holds_a_paced_replay_and_resume_lets_it_finish(recorded: tuple[Store, Settings, int]) -> None:
    store, settings, _ = recorded
    start = T0 + timedelta(hours=8)
    run_id = runs.request_run(store.pool, "ana", start, start + timedelta(minutes=15), ["environment"], "60",
                              None)
    jobs = ReplayJobs(store, settings, worker="test", report_every_s=0.2)
    stop = threading.Event()
    worker = threading.Thread(target=jobs.run, args=(stop,))
    worker.start()
    try:
        wait_for(lambda: state(store, run_id) == "running", "the run started")
        assert runs.send_command(store.pool, run_id, "pause")
        wait_for(lambda: state(store, run_id) == "paused", "the run paused")
        held = runs.get_run(store.pool, run_id)
        assert held is not None and held.events < 6 and held.state == "paused"
        assert runs.send_command(store.pool, run_id, "resume")
        wait_for(lambda: state(store, run_id) == "done", "the run finished")
    finally:
        stop.set()
        worker.join(timeout=60)


def tile(driver: object, name: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#replay-tile-{name} .tile-value").text  # type: ignore[attr-defined]


def test_the_replay_page_starts_a_back_test_and_seeking_changes_the_tiles(
        recorded: tuple[Store, Settings, int], browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    store, settings, _ = recorded
    People(store.pool).add_user("ana", "analyst", PASSWORD)
    before = live_alerts(store)
    tz = ZoneInfo(settings.timezone)
    jobs, stop = ReplayJobs(store, settings, worker="page-test", report_every_s=0.2), threading.Event()
    worker = threading.Thread(target=jobs.run, args=(stop,), daemon=True)
    worker.start()
    driver = browser
    from selenium.common.exceptions import StaleElementReferenceException

    # the page redraws its cursor and tiles while it plays: an element read between two redraws is stale
    wait = WebDriverWait(driver, 120, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,))
    try:
        with serving_pages(store.pool, settings) as base:
            login(driver, base, "ana", "/replay/?lang=en")
            wait.until(lambda d: "/replay/" in d.current_url and d.find_elements(By.ID, "replay-start"))
            for field, value in (("replay-from", T0), ("replay-to", END)):
                box = driver.find_element(By.ID, field)  # type: ignore[attr-defined]
                box.send_keys(Keys.CONTROL, "a")
                box.send_keys(value.astimezone(tz).strftime("%Y-%m-%d %H:%M"))
            driver.find_element(By.ID, "replay-rules").send_keys(TUNED)  # type: ignore[attr-defined]
            driver.find_element(By.ID, "replay-start").click()  # type: ignore[attr-defined]
            wait.until(lambda d: "queued" in d.find_element(By.ID, "replay-message").text)
            try:
                WebDriverWait(driver, 300, poll_frequency=0.2).until(  # two replays of the day: a hang guard
                    lambda d: d.find_elements(By.CSS_SELECTOR, "#replay-state[data-state='done']"))
            except Exception:
                driver.save_screenshot(str(ARTIFACTS / "replay-page-failed.png"))  # type: ignore[attr-defined]
                raise AssertionError(f"no finished run shown: {runs.recent_runs(store.pool)[:1]}") from None
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#replay-backtest-rules tr[data-rule]"))
            rules = [r.get_attribute("data-rule")
                     for r in driver.find_elements(By.CSS_SELECTOR, "#replay-backtest-rules tr[data-rule]")]
            assert rules and all("gap" in r for r in rules)
            assert "100%" in driver.find_element(By.ID, "replay-pct").text  # type: ignore[attr-defined]

            def seek(at: datetime) -> None:
                box = driver.find_element(By.ID, "replay-seek")  # type: ignore[attr-defined]
                box.send_keys(at.astimezone(tz).strftime("%Y-%m-%d %H:%M"))
                driver.find_element(By.ID, "replay-seek-go").click()  # type: ignore[attr-defined]
                cursor = f"#replay-cursor[data-at='{at.isoformat()}']"
                try:
                    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, cursor))
                except Exception:
                    driver.save_screenshot(str(ARTIFACTS / "replay-page-failed.png"))  # type: ignore[attr-defined]
                    shown = [e.get_attribute("data-at") for e in driver.find_elements(By.ID, "replay-cursor")]
                    raise AssertionError(f"the cursor is at {shown}, not {at.isoformat()}") from None

            early = T0 + timedelta(hours=7)  # boats at sea, no readings yet, no key frame
            seek(early)
            wait.until(lambda d: tile(d, "stations") == "0" and tile(d, "frames") == "0")
            assert int(tile(driver, "vessels")) > 0
            assert "SIMULATED" in driver.find_element(By.ID, "replay-simulated").text  # type: ignore[attr-defined]
            late = FRAMES_AT[1] + timedelta(minutes=1)  # both cameras' key frames, two stations reporting
            seek(late)
            wait.until(lambda d: tile(d, "stations") == "2" and tile(d, "frames") == "2")
            # the key frames of that moment are served (read anew each time: the box may be redrawn)
            widths = "return [...document.querySelectorAll('#replay-frames img')].map(i => i.naturalWidth)"
            wait_for(lambda: driver.execute_script(widths) == [480, 480],  # type: ignore[attr-defined]
                     "both key frames of the moment loaded in the page")
            assert driver.find_elements(By.CSS_SELECTOR, "#replay-readings tbody tr")  # type: ignore[attr-defined]
            assert tile(driver, "time") == late.astimezone(tz).strftime("%H:%M:%S")
            wait_until_still(driver)
            driver.save_screenshot(str(ARTIFACTS / "replay-page.png"))  # type: ignore[attr-defined]
            # play moves the cursor forward by itself, pause stops it
            driver.find_element(By.ID, "replay-play").click()  # type: ignore[attr-defined]
            wait.until(lambda d: d.find_element(By.ID, "replay-cursor").get_attribute("data-at")
                       != late.isoformat())
            driver.find_element(By.ID, "replay-pause").click()  # type: ignore[attr-defined]
            driver.get(f"{base}/replay/?lang=vi")  # type: ignore[attr-defined]
            wait.until(lambda d: "Phát lại" in d.find_element(By.TAG_NAME, "body").text)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert live_alerts(store) == before  # the replay never touched live alerts


def test_a_go_to_is_applied_by_the_poll_that_overtakes_the_clicks_own_call(plain_store: Store) -> None:
    """dash-renderer drops the answer to a call overtaken by a newer one of the same callback; the
    page's poll starts one every second. The cursor moved only if the click's own call landed."""
    from tests.test_replay_attacks import START, callback, logged_in

    client, headers = logged_in(plain_store, "an", "analyst")
    info = {"id": 1, "start": START.isoformat(), "end": (START + timedelta(hours=2)).isoformat(),
            "reached": (START + timedelta(hours=2)).isoformat(), "speed": "max"}
    seek_to = (START + timedelta(minutes=45)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    values = {"replay-info.data": info, "replay-slider.value": 60, "replay-seek-go.n_clicks": 1,
              "replay-seek.n_submit": 0, "replay-seek.value": seek_to.strftime("%Y-%m-%d %H:%M"),
              "replay-seek-done.data": 0, "replay-lang.data": "en", "replay-tick.n_intervals": 3}
    answer = callback(client, headers, "replay-slider.value", values, "replay-info.data")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    out = answer.get_json()["response"]
    assert (out["replay-slider"]["value"], out["replay-seek"]["value"], out["replay-seek-done"]["data"]) == (
        45 * 60, "", 1)
    # applied once: the next poll leaves the cursor where the playback put it
    values.update({"replay-slider.value": 45 * 60 + 5, "replay-seek-done.data": 1})
    out = callback(client, headers, "replay-slider.value", values, "replay-info.data").get_json()["response"]
    assert out["replay-slider"]["value"] == 45 * 60 + 5 and "replay-seek" not in out
