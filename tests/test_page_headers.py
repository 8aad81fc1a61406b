"""Every page's header on a wall screen (1920x1080) and a laptop (1366x768), in headless Chromium.

The pages are served by the real app (``create_app``) on a migrated store with the Huế sample
settings. For each page and size the test measures the box of every element of the header that
shows something (text, a link, a badge) and asserts that no two of them overlap and none leaves
the screen. The wall's header is also measured with its "no update" warning shown, its widest
state. Screenshots of the headers go to ``tests/artifacts/header-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ARTIFACTS, migrated_database
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alerts.people import People
from ioc.config import DEFAULT_CONFIG, load_settings
from ioc.store.database import open_store
from tests.browser import log_in, serving_pages, wait_until_still
from tests.waiting import HANG_GUARD_S

SIZES = [(1920, 1080), (1366, 768)]
PASSWORD = "header-test-password-1"

#: page path -> (header selector, id of its clock: once that shows a time, the live parts are drawn)
PAGES = {"/": (".wall-header", "clock"), "/sea/": (".sea-header", "sea-clock"),
         "/cameras/": (".cam-header", "cam-clock"), "/console/": (".console-header", "console-clock")}
_CLOCK_SHOWN_JS = "const e = document.getElementById(arguments[0]); return !!e && /\\d/.test(e.textContent);"

#: The boxes of what a header shows: every element with text of its own, or a link, button or
#: image, clipped by itself or any ancestor that hides its overflow. Across, text is measured by its
#: own extent (a Range), so text spilling out of a narrow box counts where it is painted.
_BOXES_JS = """
const header = document.querySelector(arguments[0]);
const hb = header.getBoundingClientRect();
const out = [];
for (const el of header.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || +style.opacity === 0) continue;
    if (el.checkVisibility && !el.checkVisibility()) continue;  // e.g. inside a closed <details> menu
    const ownText = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    const thing = ['A', 'BUTTON', 'IMG', 'INPUT', 'SELECT', 'svg'].includes(el.tagName);
    if (!ownText && !thing) continue;
    let r = el.getBoundingClientRect();
    let box = {l: r.left, t: r.top, r: r.right, b: r.bottom};
    if (ownText) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const tr = range.getBoundingClientRect();
        // across: where the text is painted; down: the element's lines (a large clock set
        // with line-height 1 has a font box taller than its digits, which is not an overlap)
        box = {l: Math.min(box.l, tr.left), t: box.t, r: Math.max(box.r, tr.right), b: box.b};
    }
    for (let a = el; a && a !== document.body; a = a.parentElement) {  // itself included
        const s = getComputedStyle(a);
        if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
            const ar = a.getBoundingClientRect();
            box = {l: Math.max(box.l, ar.left), t: Math.max(box.t, ar.top),
                   r: Math.min(box.r, ar.right), b: Math.min(box.b, ar.bottom)};
        }
    }
    if (box.r - box.l < 1 || box.b - box.t < 1) continue;
    // an element inside another measured one (a span in a pill) is part of it
    out.push({el: el, name: (el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' +
              (el.getAttribute('class') || '').trim().replace(/\\s+/g, '.')) + ' "' +
              (el.innerText || el.getAttribute('alt') || '').trim().slice(0, 30) + '"', ...box});
}
const boxes = out.filter(b => !out.some(o => o !== b && o.el.contains(b.el)));
return {header: {l: hb.left, t: hb.top, r: hb.right, b: hb.bottom},
        viewport: [window.innerWidth, window.innerHeight],
        boxes: boxes.map(({el, ...rest}) => rest)};
"""


def overlaps(boxes: list[dict[str, Any]], slack: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of boxes that share more than ``slack`` pixels each way."""
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if (min(a["r"], b["r"]) - max(a["l"], b["l"]) > slack
                    and min(a["b"], b["b"]) - max(a["t"], b["t"]) > slack):
                pairs.append((a["name"], b["name"]))
    return pairs


def test_overlaps_finds_shared_area_only() -> None:
    a = {"name": "a", "l": 0, "t": 0, "r": 100, "b": 30}
    assert overlaps([a, {"name": "b", "l": 100, "t": 0, "r": 150, "b": 30}]) == []  # touching
    assert overlaps([a, {"name": "c", "l": 0, "t": 30, "r": 100, "b": 60}]) == []  # below
    assert overlaps([a, {"name": "d", "l": 90, "t": 10, "r": 150, "b": 20}]) == [("a", "d")]


@pytest.fixture(scope="module")
def app_url(pg_plain: Any) -> Iterator[str]:
    """The whole app (wall, sea, cameras, console) on a migrated store, with one duty officer."""
    store = open_store(migrated_database(pg_plain), pool_max=8, want_timescaledb=False)
    People(store.pool).add_user("lan", "duty_officer", PASSWORD, "Nguyễn Thị Lan Hương")
    try:
        with serving_pages(store.pool, load_settings(DEFAULT_CONFIG), caps_label=store.caps.label) as url:
            yield url
    finally:
        store.close()


def _measure(driver: Any, selector: str) -> dict[str, Any]:
    return driver.execute_script(_BOXES_JS, selector)


def _problems(found: dict[str, Any], where: str) -> list[str]:
    """What is wrong with one header: overlapping elements, elements off the screen or the header."""
    width, _height = found["viewport"]
    boxes, header = found["boxes"], found["header"]
    problems = [f"{where}: only {len(boxes)} elements measured"] if len(boxes) < 3 else []
    problems += [f"{where}: {a} overlaps {b}" for a, b in overlaps(boxes)]
    problems += [f"{where}: {b['name']} is off the screen" for b in boxes
                 if b["l"] < -0.5 or b["r"] > width + 0.5 or b["t"] < -0.5]
    problems += [f"{where}: {b['name']} spills out of the header" for b in boxes
                 if b["b"] > header["b"] + 0.5 or b["t"] < header["t"] - 0.5]
    return problems


@pytest.mark.browser
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_header_elements_do_not_overlap(browser, app_url: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    width, height = size
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    log_in(browser, app_url, "lan", PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    for path, (selector, clock) in PAGES.items():
        browser.get(app_url + path)
        wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.2)
        wait.until(lambda d, s=selector: d.find_elements(By.CSS_SELECTOR, s))
        wait.until(lambda d, c=clock: d.execute_script(_CLOCK_SHOWN_JS, c))
        wait_until_still(browser)
        where = f"{path} at {width}x{height}"
        problems += _problems(_measure(browser, selector), where)
        name = path.strip("/") or "wall"
        browser.save_screenshot(str(ARTIFACTS / f"header-{name}-{width}x{height}.png"))
        if path == "/":  # the widest state: the wall says it has had no update for a while
            browser.execute_script(
                "const e = document.getElementById('link-status');"
                "e.textContent = 'NO UPDATE FOR 999 s'; e.className = 'link-status stale';")
            problems += _problems(_measure(browser, selector), where + " (no update)")
            # the pages past the pills open from the "More" menu, on the screen and clickable
            browser.execute_script("document.querySelector('.nav-more > summary').click();")
            shown = wait.until(lambda d: d.execute_script(
                "return Array.from(document.querySelectorAll('.nav-more-link'))"
                ".filter(a => a.checkVisibility()).map(a => {const r = a.getBoundingClientRect();"
                " return [a.getAttribute('href'), r.right <= innerWidth && r.bottom <= innerHeight];});"))
            assert {"/press/", "/services/"} <= {href for href, _ in shown}, shown
            assert all(inside for _, inside in shown), shown
            browser.save_screenshot(str(ARTIFACTS / f"header-wall-menu-{width}x{height}.png"))
    assert problems == [], "\n".join(problems)
