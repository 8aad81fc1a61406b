"""The citizens' field reports page in headless Chromium (a session needed), in Vietnamese and English,
over a SIMULATED week written through the real writer into a real PostgreSQL, plus one report with a
real photo: the map, the queues by deadline, a report's photo and history, the on-time rates."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ARTIFACTS, migrated_database
from PIL import Image

from alerts.people import People
from ingest.reports.photos import check_photo, store_photo
from ingest.reports.simulator import SAMPLE, simulate
from ioc.config import FeedSettings, Settings
from ioc.feeds.reports.records import FieldReport, ReportStatusChange
from ioc.feeds.reports.settings import ReportsFeed
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import serving_pages, wait_until_still
from tests.test_security_page import PASSWORD, login
from tests.waiting import HANG_GUARD_S

PHOTO_ID = "HUE-TEST-PHOTO-1"
APP_PHOTO = "https://media.hue-s.example/p/123.jpg"  # the citizen's app keeps its own copy
CLOSED_ID = "HUE-TEST-CLOSED-1"


@dataclass
class Served:
    base: str
    store: Store
    department: str
    first_in_queue: str


def settings_with_feed() -> Settings:
    feed = FeedSettings(name="hue-s", kind="open311",
                        options={"settings_file": "reports/feed.toml", "port": 0})
    return Settings(feeds=[feed])


UNBROKEN = "https://example.org/" + "x" * 900  # a citizen's text may hold a word as long as this


def test_the_map_holds_every_open_report_and_every_ward() -> None:
    """The map opened at a fixed zoom around the reports' mean: on the wall the northern wards and
    their reports were cut off. It now fits them all, whatever their spread."""
    import math

    from dashboards.reports311.figures import cases
    from dashboards.reports311.page import MAP_PX, _map

    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()))
    now = datetime.now(UTC)
    events = [e for e in simulate(cfg, now - timedelta(days=8), days=8, seed=3) if e.time <= now]
    open_cases = [k for k in cases(events).values() if k.status not in ("resolved", "rejected")]
    south = sorted(k.report.lat for k in open_cases)[len(open_cases) // 4]
    open_cases = [k for k in open_cases if k.report.lat <= south]  # today's reports all in the south
    assert open_cases and cfg.wards
    view = _map(open_cases, cfg, Settings(), "vi", now).to_plotly_json()["layout"]["map"]
    scale = 512 * 2 ** view["zoom"]  # pixels of the whole world at that zoom

    def pixel(lon: float, lat: float) -> tuple[float, float]:
        y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
        return lon / 360 * scale, y / (2 * math.pi) * scale

    cx, cy = pixel(view["center"]["lon"], view["center"]["lat"])
    points = [(k.report.lon, k.report.lat) for k in open_cases] + [p for w in cfg.wards for p in w.polygon]
    for lon, lat in points:
        x, y = pixel(lon, lat)
        assert abs(x - cx) <= MAP_PX[0] / 2 and abs(y - cy) <= MAP_PX[1] / 2, (lon, lat)
    assert view["zoom"] > 12  # and no wider than it needs: the city's wards, not the province


@pytest.fixture
def served(pg_plain: EmbeddedPostgres, tmp_path: Path) -> Iterator[Served]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()))
    now = datetime.now(UTC)
    events = [e for e in simulate(cfg, now - timedelta(days=8), days=8, seed=3) if e.time <= now]
    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 160, 90)).save(buf, "JPEG")
    photo = store_photo(check_photo(buf.getvalue(), 5_000_000, 40_000_000), tmp_path / "photos")
    received = now - timedelta(minutes=30)
    events += [
        FieldReport(time=received, source_id=PHOTO_ID, service_code="waste", category="Uncollected waste",
                    description="Rác tràn ra đường Lê Lợi", lat=16.4637, lon=107.5909, ward="Phú Hội",
                    photos=(photo,), client="hue-s-app", department="environment", media_url=APP_PHOTO,
                    assignee_group="waste_city",
                    ack_due=received + timedelta(minutes=60), resolve_due=received + timedelta(hours=12)),
        ReportStatusChange(time=received, source_id=PHOTO_ID, status="received", actor="client:hue-s-app"),
        ReportStatusChange(time=received + timedelta(minutes=10), source_id=PHOTO_ID, status="assigned",
                           actor="lan", department="environment", assignee_group="waste_city"),
        # one environment report closed at this moment: this week's on-time chart names the department
        # whatever the hour (the simulated week alone has none closed in the first hour of a Monday)
        FieldReport(time=received, source_id=CLOSED_ID, service_code="waste", category="Uncollected waste",
                    description="Rác đã được thu gom " + UNBROKEN, lat=16.4640, lon=107.5900, ward="Phú Hội",
                    client="hue-s-app", department="environment", assignee_group="waste_city",
                    ack_due=received + timedelta(minutes=60), resolve_due=received + timedelta(hours=12)),
        ReportStatusChange(time=received, source_id=CLOSED_ID, status="received", actor="client:hue-s-app"),
        ReportStatusChange(time=received + timedelta(minutes=5), source_id=CLOSED_ID, status="assigned",
                           actor="lan", department="environment", assignee_group="waste_city"),
        ReportStatusChange(time=now, source_id=CLOSED_ID, status="resolved", actor="team:waste_city"),
    ]
    StoreWriter(store.pool, store.caps).write(events)
    People(store.pool).add_user("lan", "operator", PASSWORD)
    from dashboards.reports311.figures import cases, queue

    all_cases = cases(events)
    dept = min(k.report.department for k in all_cases.values() if k.status not in ("resolved", "rejected"))
    first = queue(all_cases, dept)[0].report.source_id  # the page's first queue starts with it
    try:
        with serving_pages(store.pool, settings_with_feed()) as base:
            yield Served(base, store, dept, first)
    finally:
        store.close()


def test_reports311_page_in_both_languages(served: Served, browser: object) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, 30, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
    login(driver, served.base, "lan", "/reports311/?lang=vi")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#r311-queues tbody tr"))
    body = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Phản ánh hiện trường của người dân" in body and "MÔ PHỎNG" in body
    assert "Môi trường" in body and "Hàng đợi theo đơn vị" in body
    # each queue is sorted by its next deadline: the first queue starts with its most urgent report
    first = driver.find_element(By.CSS_SELECTOR, "#r311-queues tbody tr a")  # type: ignore[attr-defined]
    assert first.text == served.first_in_queue
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#r311-map canvas"))  # the map drew
    assert "Môi trường" in driver.find_element(By.ID, "r311-ontime").text  # type: ignore[attr-defined]

    def click_first(d: object) -> bool:  # the queues are drawn again on each refresh: find, then click
        try:
            d.find_element(By.CSS_SELECTOR, "#r311-queues tbody tr a").click()  # type: ignore[attr-defined]
            return True
        except StaleElementReferenceException:
            return False

    wait.until(click_first)
    wait.until(lambda d: served.first_in_queue in d.find_element(By.ID, "r311-detail").text)
    assert "Đã tiếp nhận" in driver.find_element(By.ID, "r311-history").text  # type: ignore[attr-defined]
    # the report with a photo: the image is served from the store's record and decodes in the browser
    driver.get(f"{served.base}/reports311/?lang=vi&report={PHOTO_ID}")  # type: ignore[attr-defined]
    wait.until(lambda d: d.execute_script(
        "const i = document.querySelector('.r311-photo'); return i && i.complete && i.naturalWidth === 320;"))
    history = driver.find_element(By.ID, "r311-history").text  # type: ignore[attr-defined]
    assert "Đã giao" in history and "lan" in history
    assert "Rác tràn ra đường Lê Lợi" in driver.find_element(By.ID, "r311-detail").text  # type: ignore
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "reports311-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{served.base}/reports311/?lang=en&report={PHOTO_ID}")  # type: ignore[attr-defined]
    wait.until(lambda d: "Citizens' field reports" in d.find_element(By.TAG_NAME, "body").text)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#r311-queues tbody tr"))
    body = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "SIMULATED" in body and "Queues by department" in body and "Assigned" in body
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "reports311-en.png"))  # type: ignore[attr-defined]
    # a description with a 900-character word wraps inside the page: its buttons stay on the screen
    driver.get(f"{served.base}/reports311/?lang=en&report={CLOSED_ID}")  # type: ignore[attr-defined]
    wait.until(lambda d: "Rác đã được thu gom" in d.find_element(By.ID, "r311-detail").text)
    wait_until_still(driver)
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth <= window.innerWidth;")


def test_reports311_needs_a_session(served: Served) -> None:
    import requests

    page = requests.get(f"{served.base}/reports311/", allow_redirects=False, timeout=30,
                        headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    with served.store.pool.connection() as conn:
        sha = conn.execute("SELECT photos->0->>'sha256' FROM field_reports WHERE request_id = %s",
                           (PHOTO_ID,)).fetchone()[0]
    assert requests.get(f"{served.base}/reports311/photo/{sha}", timeout=30).status_code == 401


def test_staff_change_a_report_on_the_page(served: Served, browser: object) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    # the hang guard, not a 30 s deadline: a first page load on a busy CI worker took longer
    wait = WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,))
    login(driver, served.base, "lan", f"/reports311/?lang=vi&report={PHOTO_ID}")
    wait.until(lambda d: d.find_element(By.ID, "r311-actions").is_displayed())

    def history() -> str:
        return driver.find_element(By.ID, "r311-history").text  # type: ignore[attr-defined]

    wait.until(lambda d: "Đã giao" in history())
    driver.find_element(By.ID, "r311-do-in_progress").click()  # type: ignore[attr-defined]
    wait.until(lambda d: "Đang xử lý" in history())
    driver.find_element(By.ID, "r311-do-rejected").click()  # type: ignore[attr-defined]
    wait.until(lambda d: "phải có lý do" in d.find_element(By.ID, "r311-action-msg").text)
    driver.find_element(By.ID, "r311-reason").send_keys("Đã có đơn vị khác xử lý")  # type: ignore
    driver.find_element(By.ID, "r311-do-rejected").click()  # type: ignore[attr-defined]
    wait.until(lambda d: "Từ chối" in history() and "Đã có đơn vị khác xử lý" in history())
    driver.find_element(By.ID, "r311-do-resolved").click()  # type: ignore[attr-defined]
    wait.until(lambda d: "không thể chuyển" in d.find_element(By.ID, "r311-action-msg").text)
    with served.store.pool.connection() as conn:
        rows = conn.execute("SELECT status, actor, reason FROM field_report_status WHERE request_id = %s "
                            "ORDER BY time", (PHOTO_ID,)).fetchall()
        queued = conn.execute("SELECT count(*) FROM field_report_outbox").fetchone()[0]
    assert rows[-2:] == [("in_progress", "lan", ""), ("rejected", "lan", "Đã có đơn vị khác xử lý")]
    assert queued == 2  # both on their way to the bus
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "reports311-staff-vi.png"))  # type: ignore[attr-defined]


def test_the_apps_own_photo_address_is_a_link_staff_open_never_an_image_the_page_loads(
        served: Served) -> None:
    from dashboards.reports311.page import detail

    found = detail(served.store.pool, settings_with_feed(), PHOTO_ID, "vi", datetime.now(UTC))
    links = [c for part in found if hasattr(part, "children") and isinstance(part.children, list)
             for c in part.children if getattr(c, "href", None) == APP_PHOTO]
    assert len(links) == 1 and links[0].children == "Ảnh do ứng dụng lưu (liên kết ngoài)"
    assert "noreferrer" in links[0].rel and links[0].target == "_blank"


def test_a_citizens_photo_is_kept_by_no_cache(served: Served) -> None:
    """A control room's browser is shared by shifts: a photo (and every answer to a logged-in
    request) is ``no-store``, not kept for an hour after the operator logged out."""
    import requests

    staff = requests.Session()
    staff.get(f"{served.base}/login", timeout=HANG_GUARD_S)
    staff.post(f"{served.base}/login", timeout=HANG_GUARD_S, data={
        "username": "lan", "password": PASSWORD, "csrf_token": staff.cookies["_csrf_token"]})
    with served.store.pool.connection() as conn:
        sha = conn.execute("SELECT photos->0->>'sha256' FROM field_reports WHERE request_id = %s",
                           (PHOTO_ID,)).fetchone()[0]
    photo = staff.get(f"{served.base}/reports311/photo/{sha}", timeout=HANG_GUARD_S)
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
    assert photo.headers["Cache-Control"] == "no-store" and "Expires" not in photo.headers
    page = staff.get(f"{served.base}/reports311/", timeout=HANG_GUARD_S)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
