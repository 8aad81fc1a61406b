"""The security officer's page in headless Chromium: a session needed, Vietnamese or English, raw lines
only for analysts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ARTIFACTS, migrated_database

from alerts.people import People
from ioc.config import Settings
from ioc.feeds.security.records import SecurityEvent
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import serving_pages, wait_until_still

PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(pg_plain: EmbeddedPostgres) -> Iterator[tuple[str, Store]]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    StoreWriter(store.pool, store.caps).write([
        SecurityEvent(time=now - timedelta(minutes=i % 30, seconds=i), source_id="gw.hue.gov.vn", log="auth",
                      action="login", outcome="failure", user=f"user{i % 7}", src_ip=f"203.0.113.{i % 5}",
                      raw=f"Failed password for user{i % 7} from 203.0.113.{i % 5} port {4000 + i} ssh2",
                      simulated=True)
        for i in range(60)])
    people = People(store.pool)
    people.add_user("lan", "analyst", PASSWORD)
    people.add_user("kiosk", "viewer", PASSWORD)
    try:
        with serving_pages(store.pool, Settings()) as base:
            yield base, store
    finally:
        store.close()


def login(driver: object, base: str, name: str, target: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}{target}")  # type: ignore[attr-defined]
    WebDriverWait(driver, 15).until(lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "username").send_keys(name)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login-submit").click()  # type: ignore[attr-defined]


def test_security_page_in_both_languages_with_raw_lines_for_analysts(served: tuple[str, Store],
                                                                      browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    driver = browser
    login(driver, base, "lan", "/security/?lang=vi")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "/security/" in d.current_url and d.find_elements(By.CSS_SELECTOR, ".sec-latest tbody tr"))
    wait_until_still(driver)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "An toàn mạng" in text and "MÔ PHỎNG" in text and "203.0.113." in text
    assert "Dòng gốc" in text and "Failed password for user" in text  # an analyst sees raw lines
    driver.save_screenshot(str(ARTIFACTS / "security-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{base}/security/?lang=en")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "Network security" in d.find_element(By.TAG_NAME, "body").text)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Top sources (24 h)" in text and "SIMULATED" in text
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
        lambda d: "/security/" in d.current_url and d.find_elements(By.CSS_SELECTOR, ".sec-latest tbody tr"))
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Dòng gốc" not in text and "Failed password for user" not in text


def test_the_server_rendered_feed_pages_get_the_shared_theme(served: tuple[str, Store]) -> None:
    import requests

    base, _ = served
    for css, holds in (("/console/assets/theme.css", "--bg"), ("/console/assets/feed-page.css", "feed-page")):
        answer = requests.get(base + css, timeout=30)
        assert answer.status_code == 200 and holds in answer.text
