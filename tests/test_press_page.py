"""The press page in headless Chromium: a session needed, Vietnamese or English, SIMULATED banner,
matched terms highlighted, named entities, links to the original, nothing of a hostile title
active, and new articles and alerts appearing while the page is open, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ARTIFACTS, migrated_database

from alerts.people import People
from alerts.service import AlertService
from ingest.press.feeds import content_hash
from ioc.config import Settings
from ioc.events import AlertSignal
from ioc.feeds.press.records import PressArticle
from ioc.feeds.press.settings import PressRuleSettings
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import serving_pages, wait_until_still
from tests.test_security_page import PASSWORD, login
from tests.waiting import HANG_GUARD_S

HOSTILE = '<img src=x onerror="window.pwned=1">Lũ lụt <script>window.pwned=2</script>'


def article(i: int, title: str, when: datetime, **kw: object) -> PressArticle:
    return PressArticle(time=when, source_id=f"SIM {i}", outlet=f"SIM Báo {i}", url=f"https://example.org/{i}",
                        title=title, hash=content_hash(title, ""), simulated=True, **kw)  # type: ignore[arg-type]


@pytest.fixture
def served(pg_plain: EmbeddedPostgres) -> Iterator[tuple[str, Store]]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    StoreWriter(store.pool, store.caps).write([
        article(0, "Lũ lụt gây ngập sâu ở phường Phú Hội", now, places=["Phú Hội"], topics=["flood"],
                tone="negative", entities=["LOC:Phú Hội", "ORG:Sở Xây dựng"]),
        article(1, HOSTILE, now - timedelta(minutes=1), topics=["flood"], tone="negative",
                entities=['PER:<b onmouseover="window.pwned=3">x</b>']),
        article(2, "Chợ Đông Ba đón khách kỷ lục", now - timedelta(minutes=2), tone="positive")])
    People(store.pool).add_user("lan", "analyst", PASSWORD)
    settings = Settings(web={"refresh_ms": 500}, rules={"press": PressRuleSettings(
        departments={"flood": "Ban Chỉ huy PCTT", "fire": "Cảnh sát PCCC"})})
    try:
        with serving_pages(store.pool, settings) as base:
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
    assert "Thực thể được nêu tên" in text
    assert "onerror" in text and "onmouseover" in text  # the hostile title and entity shown as text...
    assert driver.execute_script("return window.pwned === undefined")  # type: ignore[attr-defined]
    assert not driver.find_elements(By.CSS_SELECTOR, "#press-articles img, #press-articles script, "
                                                     "#press-articles b")
    marks = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#press-articles mark")]
    assert "Phú Hội" in marks
    entities = {e.text: e.get_attribute("title") for e in driver.find_elements(By.CSS_SELECTOR, ".entity")}
    assert entities["Phú Hội"] == "địa điểm" and entities["Sở Xây dựng"] == "tổ chức"
    link = driver.find_element(By.CSS_SELECTOR, "#press-articles a")
    assert link.get_attribute("href").startswith("https://example.org/")
    assert link.get_attribute("rel") == "noopener noreferrer"
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "press-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{base}/press/?lang=en")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "Local press" in d.find_element(By.TAG_NAME, "body").text)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "SIMULATED" in text and "negative" in text and "Named entities" in text


def test_new_articles_and_alerts_appear_without_a_reload(served: tuple[str, Store], browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, store = served
    driver = browser
    login(driver, base, "lan", "/press/?lang=en")
    wait = WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1)
    # read in one go: the body is drawn again on every refresh, elements found earlier go stale
    def texts(css: str) -> list[str]:
        return driver.execute_script(  # type: ignore[attr-defined]
            f"return Array.from(document.querySelectorAll('{css}')).map(r => r.innerText);")

    wait.until(lambda d: len(texts("#press-articles .article")) == 3)
    driver.execute_script("window.__pressNoReload = true;")  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    writer = StoreWriter(store.pool, store.caps)
    writer.write([article(3, "Sạt lở ở A Lưới, giao thông bị chia cắt", now, places=["A Lưới"],
                          topics=["landslide"], tone="negative", entities=["LOC:A Lưới"])])
    rows = wait.until(lambda d: (r := texts("#press-articles .article")) and len(r) == 4 and r)
    assert "Sạt lở ở A Lưới" in rows[0]  # the newest on top
    AlertService(store.pool).apply_many([
        AlertSignal(time=now, source_id="SIM 3", detector="press", rule="spreading", fingerprint="press:s:1",
                    status="firing", severity="warning", title="Story carried by 3 outlets: lũ lụt",
                    started_at=now, details={"outlets": ["a", "b", "c"], "department": "Ban Chỉ huy PCTT"}),
        AlertSignal(time=now, source_id="SIM 4", detector="press", rule="burst", fingerprint="press:b:1",
                    status="firing", severity="critical", title="Burst of topic:fire: 5 articles in an hour",
                    started_at=now, details={"term": "topic:fire", "department": "Cảnh sát PCCC"})])
    wait.until(lambda d: len(texts("#press-alerts .alert")) == 2)
    assert driver.execute_script("return window.__pressNoReload === true;")  # type: ignore[attr-defined]
    # the department filter narrows the alerts to the chosen department's
    [choice] = [x for x in driver.find_elements(By.CSS_SELECTOR, "#press-department label")
                if x.text.strip() == "Cảnh sát PCCC"]
    choice.click()
    shown = wait.until(lambda d: (r := texts("#press-alerts .alert")) and len(r) == 1 and r)
    assert "PCCC" in shown[0] and "Burst of topic:fire" in shown[0]
    assert driver.execute_script("return window.__pressNoReload === true;")  # type: ignore[attr-defined]
