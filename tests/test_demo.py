"""``ioc demo`` end to end: the real command, a private PostgreSQL, the sample streams, the wall."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import wait_until_still
from tests.conftest import ARTIFACTS
from tests.demo_process import running_demo
from tests.waiting import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[1]


def ioc(*args: str) -> list[str]:
    return [sys.executable, "-m", "ioc.app.cli", *args]


def test_demo_for_reports_counts_and_exits_zero() -> None:
    res = subprocess.run(ioc("demo", "--for", "20", "--port", "0"), cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    wall = re.search(r"Wall: (http://127\.0\.0\.1:\d+/)", res.stdout)
    assert wall, res.stdout
    counts = dict(re.findall(r"(\w+)=(\d+)", res.stdout.splitlines()[-1]))
    assert int(counts["events_stored"]) > 100
    assert int(counts["alerts_raised"]) >= 1
    assert "dead_letters" in counts


@pytest.mark.browser
def test_wall_of_a_running_demo_updates_and_shows_an_alert(browser) -> None:  # noqa: ANN001
    with running_demo() as demo:
        browser.get(demo.url)
        wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.25)
        stored = wait.until(lambda d: d.find_elements(By.ID, "kpi-stored"))[0]
        first = wait.until(lambda d: re.sub(r"\D", "", stored.text) or None)
        browser.execute_script("window.__iocNoReload = true;")
        # the tiles change while we watch, without a page reload
        wait.until(lambda d: re.sub(r"\D", "", stored.text) not in ("", first))
        assert browser.execute_script("return window.__iocNoReload === true;")
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alert-ticker .alert-row"))
        assert rows and rows[0].text.strip()
        # the system panel shows the roles this process runs, all healthy
        # (read in one go: the panel is drawn again on every refresh, elements found earlier go stale)
        roles = wait.until(lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('#system-panel .sys-row')).map(r => ({role:"
            " r.querySelector('.sys-role').textContent, state: r.dataset.state, text: r.innerText}));"))
        assert {"sink", "detectors", "alerts", "web"} <= {r["role"] for r in roles}
        assert all(r["state"] == "ok" for r in roles), [r["text"] for r in roles]
        wait.until(lambda d: d.execute_script(  # every chart on the wall has drawn its data
            "const g = Array.from(document.querySelectorAll('.js-plotly-plot'));"
            "return g.length > 0 && g.every(p => p._fullData && p.querySelector('.main-svg'));"))
        wait_until_still(browser)
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "demo-wall.png"))
    assert demo.returncode == 0, demo.output[-3000:]
