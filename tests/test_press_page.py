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
from tests.browser import redraws_of_unchanged_content, serving_pages, wait_until_still
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
        article(2, "Chợ Đông Ba đón khách kỷ lục", now - timedelta(minutes=2), tone="positive"),
        article(9, "Tin" + "x" * 900, now - timedelta(minutes=3))])  # a headline with no space to wrap at
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
    entities = dict(driver.execute_script(  # one script: a refresh tick redraws them (stale elements)
        "return Array.from(document.querySelectorAll('.entity')).map(e => [e.innerText, e.title]);"))
    assert entities["Phú Hội"] == "địa điểm" and entities["Sở Xây dựng"] == "tổ chức"
    link = driver.find_element(By.CSS_SELECTOR, "#press-articles a")
    assert link.get_attribute("href").startswith("https://example.org/")
    assert link.get_attribute("rel") == "noopener noreferrer"
    wait_until_still(driver)
    # a 900-character word wraps in its cell: the page stays as wide as the screen
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth <= window.innerWidth;")
    driver.save_screenshot(str(ARTIFACTS / "press-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{base}/press/?lang=en")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "Local press" in d.find_element(By.TAG_NAME, "body").text)
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "SIMULATED" in text and "negative" in text and "Named entities" in text


def test_new_articles_and_alerts_appear_without_a_reload(served: tuple[str, Store], browser: object) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
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

    wait.until(lambda d: len(texts("#press-articles .article")) == 4)
    driver.execute_script("window.__pressNoReload = true;")  # type: ignore[attr-defined]
    # a refresh that would send the same body sends nothing: the screen's nodes are left as they are
    assert redraws_of_unchanged_content(driver, "press-body", answers=3) == 0
    now = datetime.now(UTC)
    writer = StoreWriter(store.pool, store.caps)
    writer.write([article(3, "Sạt lở ở A Lưới, giao thông bị chia cắt", now, places=["A Lưới"],
                          topics=["landslide"], tone="negative", entities=["LOC:A Lưới"])])
    rows = wait.until(lambda d: (r := texts("#press-articles .article")) and len(r) == 5 and r)
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
    def choose_fire(_d: object) -> bool:
        [choice] = [x for x in driver.find_elements(By.CSS_SELECTOR, "#press-department label")
                    if x.text.strip() == "Cảnh sát PCCC"]
        choice.click()
        return True

    WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,)).until(choose_fire)
    shown = wait.until(lambda d: (r := texts("#press-alerts .alert")) and len(r) == 1 and r)
    assert "PCCC" in shown[0] and "Burst of topic:fire" in shown[0]
    assert driver.execute_script("return window.__pressNoReload === true;")  # type: ignore[attr-defined]


STORY = ("Sông Hương dâng cao, nhiều tuyến đường ở phường Phú Hội ngập sâu",
         "Mưa lớn kéo dài từ đêm qua khiến nước sông Hương dâng cao, nhiều tuyến đường ở phường Phú Hội "
         "bị ngập sâu, người dân phải di chuyển tài sản lên cao, chính quyền sơ tán các hộ dân ven sông")


def story_copy(i: int, outlet: str, when: datetime) -> PressArticle:
    return PressArticle(time=when, source_id=outlet, outlet=outlet, url=f"https://example.org/story/{i}",
                        title=STORY[0], text=STORY[1], hash=content_hash(*STORY), simulated=True,
                        places=["Phú Hội"], topics=["flood"], tone="negative")


def test_stories_and_trends_with_sparklines_follow_the_department(served: tuple[str, Store],
                                                                  browser: object) -> None:
    import base64

    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, store = served
    now = datetime.now(UTC)
    writer = StoreWriter(store.pool, store.caps)
    # one story carried by three outlets over the last hours; a day of sparse fire mentions before it
    writer.write([story_copy(1, "SIM Tin Huế", now - timedelta(hours=4, minutes=20)),
                  story_copy(2, "SIM Báo Sông Hương", now - timedelta(minutes=50)),
                  story_copy(3, "SIM Thời sự Huế", now - timedelta(minutes=30))])
    places = ("chợ Đông Ba", "Vỹ Dạ", "Kim Long", "An Cựu", "Thuận An", "Hương Thủy", "Phong Điền",
              "A Lưới", "Phú Vang", "Hương Trà", "Quảng Điền", "Phú Lộc", "Nam Đông")
    writer.write([article(100 + h, f"{places[i]}: cháy lúc {h} giờ trước",
                          now - timedelta(hours=h, minutes=15), topics=["fire"])
                  for i, h in enumerate(range(2, 40, 3))])
    driver = browser
    login(driver, base, "lan", "/press/?lang=vi")
    wait = WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1)

    def texts(css: str) -> list[str]:
        return driver.execute_script(  # type: ignore[attr-defined]
            f"return Array.from(document.querySelectorAll('{css}')).map(r => r.innerText);")

    stories = wait.until(lambda d: (r := texts("#press-stories .story")) and r)
    assert len(stories) == 1 and STORY[0] in stories[0] and "SIM Báo Sông Hương" in stories[0]
    # the page redraws its panels on every refresh: an element found before a redraw is stale
    # after it, so the first look is retried as a whole when that happens
    def first_look(_d: object) -> bool:
        headline = driver.find_element(By.CSS_SELECTOR, "#press-stories .headline a")
        assert headline.get_attribute("href") == "https://example.org/story/1"  # the first article
        assert headline.get_attribute("rel") == "noopener noreferrer"
        assert headline.get_attribute("target") == "_blank"
        cells = driver.find_elements(By.CSS_SELECTOR, "#press-stories .story td")
        assert cells[1].text.startswith("3 ") and cells[3].text == "3"
        assert "/giờ" in cells[4].text  # growth per hour, in Vietnamese
        spark = driver.find_element(By.CSS_SELECTOR, "#press-stories img.sparkline")
        src = spark.get_attribute("src")
        assert src.startswith("data:image/svg+xml;base64,")
        assert "<polyline" in base64.b64decode(src[26:]).decode()
        assert spark.get_attribute("title").endswith("1, 0, 0, 0, 2")  # 12 hours per hour, the newest last
        assert spark.size["width"] > 50 and spark.size["height"] > 20
        # trends: flood (4 articles in the last hour, none before) above fire (one every three hours)
        trends = texts("#press-trends .trend")
        assert trends[0].startswith("lũ lụt") and "chủ đề" in trends[0]
        assert any(r.startswith("Phú Hội") and "địa điểm" in r for r in trends)
        assert any(r.startswith("cháy") for r in trends)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#press-trends img.sparkline")) == len(trends)
        assert "rising" in driver.find_element(By.CSS_SELECTOR, "#press-trends .trend").get_attribute("class")
        assert "MÔ PHỎNG" in driver.find_element(By.TAG_NAME, "body").text
        return True

    WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,)).until(first_look)
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "press-stories-vi.png"))  # type: ignore[attr-defined]
    # a fourth outlet carries the story: the page shows it grow without a reload
    driver.execute_script("window.__pressNoReload = true;")  # type: ignore[attr-defined]
    writer.write([story_copy(4, "SIM Đài Huế", datetime.now(UTC))])
    wait.until(lambda d: (r := texts("#press-stories .story td:nth-child(4)")) and r[0] == "4")
    assert driver.execute_script("return window.__pressNoReload === true;")  # type: ignore[attr-defined]
    # the fire department's filter: the flood story and flood trend are not theirs, fire is
    def choose_fire(_d: object) -> bool:
        [choice] = [x for x in driver.find_elements(By.CSS_SELECTOR, "#press-department label")
                    if x.text.strip() == "Cảnh sát PCCC"]
        choice.click()
        return True

    WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,)).until(choose_fire)
    wait.until(lambda d: not texts("#press-stories .story") and texts("#press-stories ~ .empty"))
    shown = wait.until(lambda d: (r := texts("#press-trends .trend")) and all("lũ" not in x for x in r) and r)
    assert [x.split("\t")[0].split("\n")[0] for x in shown] == ["cháy"]
    driver.get(f"{base}/press/?lang=en")  # type: ignore[attr-defined]
    wait.until(lambda d: texts("#press-stories .story"))
    text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Stories (48 hours)" in text and "Trending topics and places" in text and "/h" in text
    assert "SIMULATED" in text and texts("#press-trends .trend")[0].startswith("flood")
    wait_until_still(driver)
    driver.save_screenshot(str(ARTIFACTS / "press-stories-en.png"))  # type: ignore[attr-defined]
