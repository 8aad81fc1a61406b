"""Every page speaks Vietnamese in the Huế configuration and English when the screen asks (?lang=en).

Real headless Chromium on the whole app (wall, sea, cameras, console, login) over a migrated store;
a screenshot of each page in each language goes to ``tests/artifacts/i18n/`` (downscaled, small).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import ARTIFACTS
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboards.i18n import t
from tests.browser import wait_until_still
from tests.test_page_headers import PASSWORD, app_url  # noqa: F401 - the app fixture, shared
from tests.waiting import HANG_GUARD_S

SHOTS = ARTIFACTS / "i18n"

#: page path -> (an element whose text is a translated heading, that heading's English text)
PAGES = {
    "/login": ("#login-submit", "Log in"),
    "/": (".page-title", "Intelligent Operations Centre"),
    "/sea/": (".sea-title", "Sea map"),
    "/cameras/": (".cam-page-title", "Camera wall"),
    "/console/": (".page-title", "Duty console"),
}


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


def _login(driver: Any, base: str, lang: str) -> None:
    driver.get(f"{base}/login?lang={lang}")
    WebDriverWait(driver, HANG_GUARD_S).until(lambda d: d.find_elements(By.ID, "username"))
    driver.find_element(By.ID, "username").send_keys("lan")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, HANG_GUARD_S).until(lambda d: d.current_url.endswith("/console/"))


def test_vietnamese_catalogue_covers_the_headings() -> None:
    for _css, english in PAGES.values():
        assert t(english, "vi") != english, f"no Vietnamese for {english!r}"
        assert t(english, "en") == english


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_page_in_both_languages(browser, app_url: str, lang: str) -> None:  # noqa: F811, ANN001
    # the Huế config says Vietnamese: that screen asks for nothing. The English one asks once
    # (?lang=en); the cookie that leaves keeps it, and its pages' callbacks, in English
    browser.get(app_url + "/healthz")
    browser.delete_all_cookies()
    if lang == "en":
        browser.get(app_url + "/healthz?lang=en")
    for path, (css, english) in PAGES.items():
        browser.get(app_url + path)
        wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.2)
        wait.until(lambda d, c=css: _text(d, c))
        expected = t(english, lang)
        assert _text(browser, css) == expected, (path, lang)
        assert browser.execute_script("return document.documentElement.innerText").count(expected) >= 1
        if path == "/login":
            _shot(browser, f"login-{lang}")
            _login(browser, app_url, lang)
            continue
        wait_until_still(browser)
        _shot(browser, f"{(path.strip('/') or 'wall')}-{lang}")


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
