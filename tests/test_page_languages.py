"""Every page speaks Vietnamese in the Huế configuration and English when the screen asks (?lang=en).

Real headless Chromium on the whole app (wall, sea, cameras, console, services, login) over a migrated
store with a busy night in it (:mod:`tests.night_in_hue`: cameras reporting, one with a covered lens,
vessels at sea, dossiers, open alerts of the camera and vessel rules). Each page is also opened the
way an operator uses it: a camera large, an alert selected in the console, a vessel on the sea map.
On every page the English texts that page is known to show (:data:`ENGLISH`: labels, buttons, grid
headers, hover labels, chart axes, alert titles, ages, numbers with English separators, the tab's
title) must all be there in English and none of them in Vietnamese. A screenshot of each page in
each language goes to ``tests/artifacts/i18n/`` (downscaled, small).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ARTIFACTS, migrated_database
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alerts.people import People
from dashboards.i18n import t
from ioc.config import DEFAULT_CONFIG, load_settings
from ioc.i18n import Translator
from ioc.store.database import open_store
from tests import night_in_hue
from tests.browser import log_in, serving_pages, wait_until_still
from tests.waiting import HANG_GUARD_S

SHOTS = ARTIFACTS / "i18n"
PASSWORD = "i18n-test-password-1"
services_t = Translator("services")

#: page path -> (an element whose text is a translated heading, that heading's English text, its catalogue)
PAGES = {
    "/login": ("#login-submit", "Log in", t),
    "/": (".page-title", "Intelligent Operations Centre", t),
    "/sea/": (".sea-title", "Sea map", t),
    "/cameras/": (".cam-page-title", "Camera wall", t),
    "/console/": (".page-title", "Duty console", t),
    "/services/": ("h1", "Public administrative services", services_t),
}

_TIME_WORDS = [r"\bago\b", r"\d min\b", r"\bfor \d"]
_MONTHS = r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20\d\d\b"
#: page -> patterns (regular expressions) of English it shows with the night's data: every one must
#: match on the English screen, none on the Vietnamese one
ENGLISH: dict[str, list[str]] = {
    "/": [*_TIME_WORDS[1:], r"\bOPEN\b", r"\bCRIT\b", r"\bWARN\b", r"Camera dark or covered",
          r"Encounter at sea", r"\blast write\b", r"\bjust now\b|\bago\b", r"\bSecurity\b"],
    "/cameras/": [r"\bLIVE\b", r"\bFAULT: DARK\b", r"Peak in one frame", r"\bfps in\b", r"\blast frame\b",
                  r"\bminute \d", r"click or 1", r"Close \(Esc\)", r"\bFrames in\b", r"\bBrightness\b",
                  r"\bSharpness\b", r"Counts per minute", r"\bwhole frame\b", r"\bPeople\b", r"\bCars\b",
                  r"Camera dark or covered", r"Crowd: 5 person", r"\b5 person\b", r"Wrong way", r"\bsince \d",
                  r"\bboxes\b", r"peak per frame", r"\bCRIT\b", r"\bWARN\b", r"\bOPEN\b", r"\} at %\{",
                  r"\(restricted\)", r"\bState\b", r"\bChange\b"],
    "/console/": [r"\bAcknowledge\b", r"\bAssign\b", r"\bResolve\b", r"\bSilence\b", r"\bReopen\b",
                  r"Add note", r"Ack incident", r"State · owner", r"\bWhere\b", r"\bFeed\b", r"\bIncident\b",
                  r"Note for the record", r"this alert", r"next / previous", r"\bSince\b", r"\bSeen\b",
                  r"\bRule\b", r"\bHistory\b", r"\bCRIT\b", r"\bWARN\b", r"\bOPEN\b", r"Encounter at sea",
                  r"Camera dark or covered", r"at sea in storm-ban area", r"no-fishing zone", r"Wrong way",
                  r"\blast 24h\b", r"\bCritical\b", r"\bWarning\b", r"duty officer", r"\braised\b",
                  r"\bsystem\b", r"\bVessels\b|\bCameras\b", r"Open the (vessel|camera)",
                  r"\d selected\b"],
    "/sea/": [r"\bmoving\b", r"\bin port\b", r"\bno signal\b", r"Call sign", r"\bSpeed\b", r"Last seen",
              r"\bPosition\b", r"Encounter at sea", r"In storm-ban area", r"\d kn\b", r"\bseen\b",
              r"Tracks of the last", r"\bfishing\b", r"\bunder way\b", r"\bsince \d", r"\d° [NE]\b",
              r"at sea in storm-ban area", *_TIME_WORDS[:1]],
    "/services/": [_MONTHS, r"\bReceived\b", r"On time", r"Dossiers per month", r"Overdue dossiers"],
}
#: the browser tab's title of each page (document.title), in the page's language too
TAB_TITLES = {"/": "Intelligent Operations Centre · Huế", "/cameras/": "Cameras · Huế",
              "/console/": "Duty console · Huế", "/sea/": "Sea map · Huế",
              "/services/": "Public services · Huế"}
for _path, _title in TAB_TITLES.items():
    ENGLISH[_path].append(re.escape(_title))
_GROUPED_EN = r"\b\d{1,3}(,\d{3})+\b"  # 1,234: English thousands; Vietnamese writes 1.234

#: every text a page shows or shows on hover: its visible text, tooltips, placeholders, the texts
#: drawn in its charts (axes, legends, notes) and the hover labels of their traces
_TEXTS_JS = """
const texts = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walk.nextNode(); n; n = walk.nextNode()) {  // as written, before any text-transform
    const el = n.parentElement;
    if (el && !['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName) && n.textContent.trim()
            && (el.closest('svg') || el.checkVisibility())) { texts.push(n.textContent); }
}
document.querySelectorAll('svg text').forEach(e => texts.push(e.textContent));
texts.push(document.title);  // the browser tab's title
document.querySelectorAll('[title]').forEach(e => texts.push(e.getAttribute('title')));
document.querySelectorAll('[placeholder]').forEach(e => texts.push(e.getAttribute('placeholder')));
for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    for (const tr of (gd.data || [])) {
        for (const key of ['hovertemplate', 'hovertext', 'text']) {
            if (tr[key]) { texts.push([].concat(tr[key]).join('\\n')); }
        }
        if (tr.customdata) { texts.push(JSON.stringify(tr.customdata)); }
    }
}
return texts.join('\\n');
"""


def _text(driver: Any, css: str) -> str:
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';", css)


def _shot(driver: Any, name: str) -> None:
    """A small PNG of the screen: half size, 64 colours."""
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    img = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    img = img.resize((img.width // 2, img.height // 2), Image.LANCZOS).quantize(64)
    img.save(SHOTS / f"{name}.png", optimize=True)


@pytest.fixture(scope="module")
def city_url(pg_plain: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole app on the Huế settings, over a store with a busy night in it, cameras reporting;
    served by waitress, as the embedded mode serves it."""
    keyframes = tmp_path_factory.mktemp("keyframes")
    settings = night_in_hue.with_keyframes(load_settings(DEFAULT_CONFIG), keyframes)
    store = open_store(migrated_database(pg_plain), pool_max=8, want_timescaledb=False)
    People(store.pool).add_user("lan", "duty_officer", PASSWORD, "Nguyễn Thị Lan Hương")
    night_in_hue.seed(store, settings)
    try:
        with (serving_pages(store.pool, settings, caps_label=store.caps.label) as url,
              night_in_hue.keep_cameras_reporting(store)):
            yield url
    finally:
        store.close()


def _shown(css: str) -> Any:
    """A wait condition: an element matching ``css`` is there and shows some text (asked in one
    script: the pages replace their elements on every refresh)."""
    return lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".some(e => (e.innerText || e.textContent || '').trim());", css)


def _click(driver: Any, css: str) -> None:
    driver.execute_script("document.querySelector(arguments[0]).click();", css)


def _use(driver: Any, path: str, lang: str) -> str:
    """Bring ``path`` to the state an operator looks at, and give the name of that screen's shot."""
    wait = WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.2)
    if path == "/":
        wait.until(_shown(".alert-row .alert-title"))
    elif path == "/cameras/":
        wait.until(_shown(f"[data-camera='{night_in_hue.TRUONGTIEN}'] .cam-alert-title"))
        wait.until(_shown(f"[data-camera='{night_in_hue.NGOMON}'] .cam-counts-when"))
        live = f".cam-tile.cam-ok[data-camera='{night_in_hue.NGOMON}']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, live))
        wait_until_still(driver)
        _shot(driver, f"cameras-{lang}")  # the wall of tiles, before one is opened
        _click(driver, f".cam-tile[data-camera='{night_in_hue.TRUONGTIEN}']")
        wait.until(_shown("#cam-detail.cam-open #cam-detail-alerts .cam-alert-row"))
        wait.until(_shown("#cam-detail-chart .legendtext, #cam-detail-chart .annotation-text"))
        wait.until(_shown("#cam-detail-health .cam-fact-val"))
        return "cameras-detail"
    elif path == "/console/":
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".ag-center-cols-container .ag-row")) >= 5)
        _click(driver, ".ag-center-cols-container .ag-row[row-index='0'] .ag-cell")
        wait.until(_shown("#history-list .h-entry"))
    elif path == "/sea/":
        wait.until(_shown("#sea-alert-list .sea-alert-item"))
        wait.until(_shown("#sea-track-note"))
        driver.execute_script(
            "document.querySelector(`#sea-alert-list .sea-alert-item[data-mmsi='${arguments[0]}']`).click();",
            str(night_in_hue.STORM_BOAT))
        wait.until(_shown(".sea-details .sea-fact-v"))
        wait.until(lambda d: d.execute_script(
            "const gd = document.querySelector('#sea-map .js-plotly-plot');"
            "return !!gd && (gd.data || []).some(t => t.name === 'vessels' && t.customdata"
            " && t.customdata.length);"))
    elif path == "/services/":
        wait.until(_shown("#services-overdue tbody tr"))
        ticks = "return document.querySelectorAll('.js-plotly-plot .xtick').length;"
        wait.until(lambda d: d.execute_script(ticks))
    wait_until_still(driver)
    return path.strip("/") or "wall"


def _english_on(driver: Any, path: str) -> list[str]:
    """The patterns of :data:`ENGLISH` (and English thousands) that match what ``path`` shows now."""
    text = driver.execute_script(_TEXTS_JS)
    found = [p for p in ENGLISH.get(path, []) if re.search(p, text)]
    grouped = re.search(_GROUPED_EN, text)
    return found + ([f"{_GROUPED_EN} ({grouped.group(0)})"] if grouped else [])


def test_vietnamese_catalogue_covers_the_headings() -> None:
    for _css, english, tr in PAGES.values():
        assert tr(english, "vi") != english, f"no Vietnamese for {english!r}"
        assert tr(english, "en") == english


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_every_page_in_both_languages(browser, city_url: str, lang: str) -> None:  # noqa: ANN001
    # the Huế config says Vietnamese: that screen asks for nothing. The English one asks once
    # (?lang=en); the cookie that leaves keeps it, and its pages' callbacks, in English
    browser.get(city_url + "/healthz")
    browser.delete_all_cookies()
    if lang == "en":
        browser.get(city_url + "/healthz?lang=en")
    wrong: dict[str, list[str]] = {}
    for path, (css, english, tr) in PAGES.items():
        browser.get(city_url + path)
        wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.2)
        wait.until(lambda d, c=css: _text(d, c))
        expected = tr(english, lang)
        assert _text(browser, css) == expected, (path, lang)
        assert browser.execute_script("return document.documentElement.innerText").count(expected) >= 1
        if path == "/login":
            _shot(browser, f"login-{lang}")
            log_in(browser, city_url, "lan", PASSWORD, lang=lang)
            continue
        name = _use(browser, path, lang)
        _shot(browser, f"{name}-{lang}")
        found = _english_on(browser, path)
        if lang == "en":  # each pattern names something the page really shows: the check can fail
            missing = [p for p in ENGLISH.get(path, []) if p not in found]
            if missing:
                wrong[path] = missing
        elif found:
            wrong[path] = found
    what = "not shown in English" if lang == "en" else "still English on the Vietnamese screen"
    assert not wrong, f"{what}: {wrong}"


def test_a_users_language_follows_their_session(pg_plain: Any) -> None:
    """A user who chose English gets English pages on a Vietnamese screen; a screen's ?lang wins."""
    from conftest import migrated_database
    from flask import Flask, g

    from alerts.people import People, UserError
    from dashboards.i18n import page_language
    from ioc.config import DEFAULT_CONFIG, load_settings
    from ioc.store.database import open_store

    store = open_store(migrated_database(pg_plain), pool_max=2, want_timescaledb=False)
    try:
        people = People(store.pool)
        people.add_user("minh", "duty_officer", PASSWORD, "Trần Minh")
        people.set_language("minh", "en")
        with pytest.raises(UserError):
            people.set_language("minh", "fr")
        user = people.authenticate("minh", PASSWORD)
        token, _ = people.start_session(user)
        who = people.session(token)
        assert who is not None and who.language == "en"
        settings = load_settings(DEFAULT_CONFIG)
        assert settings.web.language == "vi"
        app = Flask(__name__)
        with app.test_request_context("/console/"):
            assert page_language(settings) == "vi"  # nobody logged in: the city's language
            g.ioc_principal = who
            assert page_language(settings) == "en"  # the user's own
        with app.test_request_context("/console/?lang=vi"):
            g.ioc_principal = who
            assert page_language(settings) == "vi"  # the screen asked
        people.set_language("minh", None)
        assert people.session(token).language is None  # type: ignore[union-attr]
    finally:
        store.close()


def test_plain_refusals_speak_the_requesters_language(city_url: str) -> None:
    """What the server answers outside the pages (the guard's refusals, the report routes' errors) is
    in the city's Vietnamese, or in English when the screen asked for it."""
    import requests

    s = requests.Session()
    form = s.get(f"{city_url}/login", timeout=HANG_GUARD_S).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    s.post(f"{city_url}/login", data={"username": "lan", "password": PASSWORD, "csrf_token": token[1],
                                      "next": "/console/"}, timeout=HANG_GUARD_S)
    missing = s.get(f"{city_url}/reports/999999.html", timeout=HANG_GUARD_S)
    assert (missing.status_code, missing.text) == (404, "Không có báo cáo này.")
    no_token = s.post(f"{city_url}/reports/incident", data={"incident": "1"}, timeout=HANG_GUARD_S)
    assert no_token.status_code == 403
    assert no_token.text.startswith("Bị từ chối: yêu cầu này không có mã CSRF"), no_token.text
    csrf = s.cookies.get("_csrf_token") or ""
    bad = s.post(f"{city_url}/reports/incident", data={"incident": "x", "csrf_token": csrf},
                 headers={"X-CSRFToken": csrf}, timeout=HANG_GUARD_S)
    assert (bad.status_code, bad.text) == (400, "Hãy ghi số của sự cố.")
    dots = s.get(f"{city_url}/console/%2e%2e/reports/", timeout=HANG_GUARD_S)
    assert dots.status_code == 400 and dots.text.startswith("Bị từ chối: đường dẫn không được chứa")
    english = s.get(f"{city_url}/reports/999999.html?lang=en", timeout=HANG_GUARD_S)
    assert (english.status_code, english.text) == (404, "No such report.")
    s.get(f"{city_url}/healthz?lang=vi", timeout=HANG_GUARD_S)  # the session's cookie back to Vietnamese
