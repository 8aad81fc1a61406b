"""The security officer's page in headless Chromium: a session needed, Vietnamese or English, raw lines
only for analysts, the events in a grid with column filters, and a security alert's link to its events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ARTIFACTS, migrated_database

from alerts.people import People
from alerts.service import AlertService
from dashboards.security.scope import scope_of
from detectors.security.rules import SecurityDetector
from ioc.config import Settings
from ioc.feeds.security import queries
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRuleSettings
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import log_in, serving_pages, wait_until_still

PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(pg_plain: EmbeddedPostgres) -> Iterator[tuple[str, Store]]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    events = [
        SecurityEvent(time=now - timedelta(minutes=i % 30, seconds=i), source_id="gw.hue.gov.vn", log="auth",
                      action="login", outcome="failure", user=f"user{i % 7}", src_ip=f"203.0.113.{i % 5}",
                      raw=f"Failed password for user{i % 7} from 203.0.113.{i % 5} port {4000 + i} ssh2",
                      simulated=True)
        for i in range(60)]
    # an IDS's own category is outside text: plotly would draw this one in the chart's legend as a link
    events.append(SecurityEvent(time=now - timedelta(minutes=3), source_id="ids.hue.gov.vn", log="suricata",
                                action="ids_alert", category='<a href="https://evil.example/">IDS</a>',
                                src_ip="203.0.113.1", severity=2, simulated=True))
    StoreWriter(store.pool, store.caps).write(events)
    # the rules on the stored events raise brute-force alerts, as the runner would
    rules = SecurityDetector(SecurityRuleSettings(brute_force_failures=5, brute_force_minutes=30))
    service = AlertService(store.pool)
    for event in sorted(events, key=lambda e: e.time):
        for signal in rules.observe(event):
            service.apply(signal)
    people = People(store.pool)
    people.add_user("lan", "analyst", PASSWORD)
    people.add_user("kiosk", "viewer", PASSWORD)
    try:
        with serving_pages(store.pool, Settings()) as base:
            yield base, store
    finally:
        store.close()


GRID_ROWS = "#security-grid .ag-center-cols-container .ag-row"


def grid_column(driver: object, field: str) -> list[str]:
    """The texts of one column's cells, read in one go (the grid redraws rows while it filters)."""
    return driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll(arguments[0])].map(c => c.textContent);",
        f"{GRID_ROWS} [col-id='{field}']")


def login(driver: object, base: str, name: str, target: str) -> None:
    log_in(driver, base, name, PASSWORD, target)


def test_security_page_in_both_languages_with_raw_lines_for_analysts(served: tuple[str, Store],
                                                                      browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    driver = browser
    login(driver, base, "lan", "/security/?lang=vi")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "/security/" in d.current_url and d.find_elements(By.CSS_SELECTOR, GRID_ROWS))
    wait_until_still(driver)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "An toàn mạng" in text and "MÔ PHỎNG" in text and "203.0.113." in text
    assert "Dòng gốc" in text and "Failed password for user" in text  # an analyst sees raw lines
    # the parsers' codes read as words of the page's language, not as stored ("login", "failure")
    assert set(grid_column(driver, "action")) == {"đăng nhập", "cảnh báo IDS"}
    assert set(grid_column(driver, "outcome")) == {"thất bại", "không rõ"}
    assert set(grid_column(driver, "log")) == {"nhật ký đăng nhập", "IDS Suricata"}
    legend = driver.execute_script(  # type: ignore[attr-defined]
        "return [document.querySelectorAll('.js-plotly-plot a').length,"
        " Array.from(document.querySelectorAll('.js-plotly-plot .legendtext')).map(e => e.textContent)];")
    assert legend[0] == 0 and '<a href="https://evil.example/">IDS</a>' in legend[1], legend
    driver.save_screenshot(str(ARTIFACTS / "security-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{base}/security/?lang=en")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "Network security" in d.find_element(By.TAG_NAME, "body").text)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Top sources (24 h)" in text and "SIMULATED" in text
    WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: grid_column(d, "outcome"))
    assert set(grid_column(driver, "outcome")) == {"failure", "unknown"}
    assert set(grid_column(driver, "log")) == {"login log", "Suricata IDS"}
    driver.save_screenshot(str(ARTIFACTS / "security-en.png"))  # type: ignore[attr-defined]


def test_a_viewer_sees_no_raw_lines_and_nobody_without_a_session(served: tuple[str, Store],
                                                                  browser: object) -> None:
    import requests
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    anonymous = requests.get(f"{base}/security/", headers={"Accept": "text/html"}, allow_redirects=False,
                             timeout=30)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    driver = browser
    login(driver, base, "kiosk", "/security/")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "/security/" in d.current_url and d.find_elements(By.CSS_SELECTOR, GRID_ROWS))
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Dòng gốc" not in text and "Failed password for user" not in text


def test_the_server_rendered_feed_pages_get_the_shared_theme(served: tuple[str, Store]) -> None:
    import requests

    base, _ = served
    for css, holds in (("/console/assets/theme.css", "--bg"), ("/console/assets/feed-page.css", "feed-page")):
        answer = requests.get(base + css, timeout=30)
        assert answer.status_code == 200 and holds in answer.text


def test_an_alert_links_to_its_events_and_the_grid_filters_by_column(served: tuple[str, Store],
                                                                      browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, store = served
    service = AlertService(store.pool)
    alert = next(a for a in service.alerts() if a.rule == "brute_force")
    assert alert.feed == "security"
    assert alert.link == ("Open the alert's events", f"/security/?alert={alert.id}")
    src = alert.details["src_ip"]
    scope = scope_of(alert, SecurityRuleSettings(brute_force_minutes=5), "en")
    assert scope is not None and scope.src_ip == src
    expected = queries.latest(store.pool, 500, **scope.query())
    assert expected and {e["src_ip"] for e in expected} == {src}
    driver = browser
    login(driver, base, "lan", f"/security/?alert={alert.id}&lang=vi")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "/security/" in d.current_url and d.find_elements(By.CSS_SELECTOR, GRID_ROWS))
    wait_until_still(driver)
    heading = driver.find_element(By.ID, "security-scope").text  # type: ignore[attr-defined]
    assert heading.startswith(f"Sự kiện của cảnh báo #{alert.id}") and src in heading
    assert set(grid_column(driver, "src_ip")) == {src}  # the alert's address only
    assert len(grid_column(driver, "src_ip")) == len(expected)
    driver.save_screenshot(str(ARTIFACTS / "security-alert-events-vi.png"))  # type: ignore[attr-defined]
    # all events again, then a column filter typed by the officer: only that account's rows stay
    # clicked as it is now: the refresh tick draws the scope line anew (a found element goes stale)
    WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: d.execute_script(
        "var b = document.querySelector('.scope-clear'); if (b) { b.click(); return true; } return false;"))
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: len(set(grid_column(d, "src_ip"))) == 5)
    column = driver.find_element(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, "#security-grid .ag-header-cell[col-id='user']").get_attribute("aria-colindex")
    box = driver.find_element(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, f"#security-grid .ag-floating-filter[aria-colindex='{column}'] input")
    box.send_keys("user3")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: grid_column(d, "user") and set(grid_column(d, "user")) == {"user3"})
    # new events arrive: the refreshed rows keep the officer's filter (the grid is not rebuilt)
    fresh = datetime.now(UTC)
    StoreWriter(store.pool, store.caps).write([
        SecurityEvent(time=fresh, source_id="gw.hue.gov.vn", log="auth", action="login", outcome="failure",
                      user=user, src_ip=ip, raw=f"Failed password for {user} from {ip} port 9 ssh2")
        for user, ip in (("user3", "198.51.100.7"), ("user1", "198.51.100.8"))])
    WebDriverWait(driver, 60, poll_frequency=0.1).until(
        lambda d: "198.51.100.7" in grid_column(d, "src_ip"))
    assert "198.51.100.8" not in grid_column(driver, "src_ip")
    assert set(grid_column(driver, "user")) == {"user3"}
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "security-grid-filtered-vi.png"))  # type: ignore[attr-defined]
    unknown = driver.get(f"{base}/security/?alert=999999")  # type: ignore[attr-defined]
    assert unknown is None
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".scope-missing"))
