"""The press page in headless Chromium: a session needed, Vietnamese or English, SIMULATED banner,
matched terms highlighted, links to the original, and nothing of a hostile title active."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ARTIFACTS, migrated_database

from alerts.people import People
from ingest.press.feeds import content_hash
from ioc.config import Settings
from ioc.feeds.press.records import PressArticle
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import serving_pages
from tests.test_security_page import PASSWORD, login

HOSTILE = '<img src=x onerror="window.pwned=1">Lũ lụt <script>window.pwned=2</script>'


@pytest.fixture
def served(pg_plain: EmbeddedPostgres) -> Iterator[tuple[str, Store]]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    titles = ["Lũ lụt gây ngập sâu ở phường Phú Hội", HOSTILE, "Chợ Đông Ba đón khách kỷ lục"]
    StoreWriter(store.pool, store.caps).write([
        PressArticle(time=now - timedelta(minutes=i), source_id=f"SIM {i}", outlet=f"SIM Báo {i}",
                     url=f"https://example.org/{i}", title=title, hash=content_hash(title, ""),
                     places=["Phú Hội"] if i == 0 else [], topics=["flood"] if i < 2 else [],
                     tone="negative" if i < 2 else "positive", simulated=True)
        for i, title in enumerate(titles)])
    People(store.pool).add_user("lan", "analyst", PASSWORD)
    try:
        with serving_pages(store.pool, Settings()) as base:
            yield base, store
    finally:
        store.close()


def test_press_page_in_both_languages_with_nothing_active(served: tuple[str, Store], browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    driver = browser
    login(driver, base, "lan", "/press/?lang=vi")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "/press/" in d.current_url and d.find_elements(By.CSS_SELECTOR, "#press-articles .article"))
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Báo chí địa phương" in text and "MÔ PHỎNG" in text and "tiêu cực" in text
    assert "onerror" in text  # the hostile title is shown as text...
    assert driver.execute_script("return window.pwned === undefined")  # type: ignore[attr-defined]
    assert not driver.find_elements(By.CSS_SELECTOR, "#press-articles img, #press-articles script")
    marks = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#press-articles mark")]
    assert "Phú Hội" in marks
    link = driver.find_element(By.CSS_SELECTOR, "#press-articles a")
    assert link.get_attribute("href").startswith("https://example.org/")
    driver.save_screenshot(str(ARTIFACTS / "press-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{base}/press/?lang=en")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "Local press" in d.find_element(By.TAG_NAME, "body").text)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "SIMULATED" in text and "negative" in text
