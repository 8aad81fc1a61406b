"""``ioc demo`` end to end for the press: the real command serves its SIMULATED outlets as RSS over
HTTP, polls them, and ``/press/`` (after the printed login) shows their articles, then the first
hazard story's alerts as they arrive, without a reload."""

from __future__ import annotations

import re

import pytest

from tests.browser import wait_until_still
from tests.conftest import ARTIFACTS
from tests.demo_process import running_demo
from tests.waiting import HANG_GUARD_S, wait_for


@pytest.mark.browser
def test_press_page_of_a_running_demo_fills_with_simulated_outlets_and_alerts(browser) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with running_demo() as demo:
        login = wait_for(lambda: re.search(r"duty officer '(\w+)', password '([^']+)'", demo.output),
                         "the demo's console login")
        browser.get(f"{demo.url}press/?lang=vi")
        wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.25)
        wait.until(lambda d: "/login" in d.current_url)
        browser.find_element(By.ID, "username").send_keys(login.group(1))
        browser.find_element(By.ID, "password").send_keys(login.group(2))
        browser.find_element(By.ID, "login-submit").click()

        def texts(css: str) -> list[str]:  # read in one go: the body is redrawn on every refresh
            return browser.execute_script(
                f"return Array.from(document.querySelectorAll('{css}')).map(r => r.innerText);")

        rows = wait.until(lambda d: "/press/" in d.current_url and texts("#press-articles .article"))
        assert all(re.search(r"SIM ", r) for r in rows)
        assert "MÔ PHỎNG" in browser.find_element(By.ID, "simulated").text
        browser.execute_script("window.__pressNoReload = true;")
        # the first hazard story reaches every outlet about a minute after the start (wall time, while
        # the rest of the demo competes for the cores): alerts appear; a longer guard against a hang
        story = WebDriverWait(browser, 3 * HANG_GUARD_S, poll_frequency=0.5)
        alerts = story.until(lambda d: (r := texts("#press-alerts .alert")) and any(
            "đang lan rộng" in x for x in r) and r)
        assert any("Ban Chỉ huy PCTT" in x for x in alerts), alerts
        assert browser.execute_script("return window.__pressNoReload === true;")
        wait_until_still(browser)
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "demo-press.png"))
    assert demo.returncode == 0, demo.output[-3000:]
