"""The public-services page in headless Chromium, in Vietnamese and English, over SIMULATED dossiers
written through the real writer into a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ARTIFACTS, migrated_database

from ingest.services.simulator import dossier_rows
from ioc.config import Settings
from ioc.feeds.services.records import DossierEvent
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import redraws_of_unchanged_content, serving_pages, wait_until_still

HOSTILE = '<a href="https://evil.example/phish">Sở Tư pháp</a>'


@pytest.fixture
def served(pg_plain: EmbeddedPostgres) -> Iterator[tuple[str, Store]]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    now = datetime.now(UTC)
    rows = dossier_rows(now - timedelta(days=40), now, per_day=60)
    events = [DossierEvent(source_id="motcua", **r) for r in rows]
    # a department's name is outside text (a CSV cell): plotly would read this one as a link
    events.append(DossierEvent(time=now - timedelta(days=2), source_id="motcua", dossier_id="HOSTILE-1",
                               procedure_code="X",
                               status="resolved", department=HOSTILE, received=now - timedelta(days=3),
                               due=now + timedelta(days=1), finished=now - timedelta(days=2)))
    StoreWriter(store.pool, store.caps).write(events)
    try:
        targets = {"department_targets": {"Sở Tư pháp": 0.5}}
        settings = Settings.model_validate({"rules": {"services": targets}, "web": {"refresh_ms": 500}})
        with serving_pages(store.pool, settings) as base:
            yield base, store
    finally:
        store.close()


def test_services_page_in_both_languages(served: tuple[str, Store], browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, store = served
    with store.pool.connection() as conn:
        overdue = conn.execute(
            "SELECT count(*) FROM services_dossiers WHERE finished IS NULL AND due < now()"
        ).fetchone()[0]
    assert overdue > 0  # the simulation misses deadlines, so the page has something to show
    driver = browser
    driver.get(f"{base}/services/?lang=vi")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#services-overdue tbody tr")
    )
    wait_until_still(driver)
    # read by script, in one go: each refresh draws the page again, and an element found by one
    # call can be gone by the next (StaleElementReferenceException)
    text, tiles = driver.execute_script(  # type: ignore[attr-defined]
        "return [document.body.innerText, document.getElementById('services-tiles').innerText];")
    assert "Dịch vụ hành chính công" in text and "MÔ PHỎNG" in text and "Danh sách hồ sơ quá hạn" in text
    assert "Trực tuyến mức độ 4" in text
    assert str(overdue) in tiles.replace(".", "").replace(",", "")
    # each department against its own target: Sở Tư pháp's is configured, the others have the default
    # read in one go: the page is drawn again on each refresh, elements found earlier go stale
    rows = driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.querySelectorAll('#services-targets tbody tr')).map(r =>"
        " [r.cells[0].innerText, r.cells[3].innerText, r.className]);")
    targets = {name: (target, cls) for name, target, cls in rows}
    assert targets["Sở Tư pháp"] == ("50%", "svc-met")
    assert {target for name, (target, _) in targets.items() if name != "Sở Tư pháp"} == {"95%"}
    assert "svc-below" in {cls for _, cls in targets.values()}  # the simulation has laggards
    # the hostile department reads as its text, cut to fit, never as a link on the chart
    labels = WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: (drawn := d.execute_script(
        "return [document.querySelectorAll('.js-plotly-plot a').length,"
        " Array.from(document.querySelectorAll('.js-plotly-plot .ytick text')).map(e => e.textContent)];"))
        and drawn[1] and drawn)  # the chart's labels are drawn a moment after the chart is placed
    assert labels[0] == 0 and HOSTILE[:35] + "…" in labels[1], labels
    # a refresh that would send the same body sends nothing: the chart is not placed and drawn again
    assert redraws_of_unchanged_content(driver, "services-body", answers=2) == 0
    driver.save_screenshot(str(ARTIFACTS / "services-vi.png"))  # type: ignore[attr-defined]
    driver.get(f"{base}/services/?lang=en")  # type: ignore[attr-defined]
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "Public administrative services" in d.execute_script("return document.body.innerText;")
    )
    wait_until_still(driver)
    text = driver.execute_script("return document.body.innerText;")  # type: ignore[attr-defined]
    assert "SIMULATED" in text and "Overdue dossiers" in text and "Online, level 3" in text
    driver.save_screenshot(str(ARTIFACTS / "services-en.png"))  # type: ignore[attr-defined]
