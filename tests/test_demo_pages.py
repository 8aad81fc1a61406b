"""One real ``ioc demo`` (the Huế sample config), started once, watched by the wall, the camera
wall and the press page in headless Chromium.

The demo is a subprocess started by the module's fixture and stopped by its PID at the end of the
module (it must stop cleanly, exit 0); the three pages only watch it, so one demo serves them all
instead of one each (each start costs tens of seconds of both cores).

- The wall: tiles change while we watch without a reload, an alert in the ticker, every role healthy.
- The camera wall: the printed login, both tiles with a loaded key frame and counts, a frame needs
  a login, no climbing out of the key frame folder, a camera opened large by click and number key,
  closed with Esc (``camera-wall.png``, ``camera-wall-large.png``).
- The press page: the SIMULATED outlets served as RSS over HTTP are polled; their articles, then
  the first hazard story's alerts arrive without a reload, with the stories and trends panels and
  their sparklines (``demo-press.png``).
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import wait_until_still
from tests.conftest import ARTIFACTS
from tests.demo_process import RunningDemo, running_demo
from tests.test_camera_page import _READY_JS, CAMS, _assert_one_screen, _get, _wall_screen
from tests.waiting import HANG_GUARD_S, wait_for


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningDemo]:
    with running_demo() as running:
        yield running
    assert running.returncode == 0, running.output[-3000:]


@pytest.mark.browser
def test_wall_of_a_running_demo_updates_and_shows_an_alert(browser, demo: RunningDemo) -> None:  # noqa: ANN001
    browser.get(demo.url)
    wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.25)
    stored = wait.until(lambda d: d.find_elements(By.ID, "kpi-stored"))[0]
    first = wait.until(lambda d: re.sub(r"\D", "", stored.text) or None)
    browser.execute_script("window.__iocNoReload = true;")
    # the tiles change while we watch, without a page reload
    wait.until(lambda d: re.sub(r"\D", "", stored.text) not in ("", first))
    assert browser.execute_script("return window.__iocNoReload === true;")
    # the first alert row's text, read in one script (a tick redraws the ticker: elements go stale)
    assert wait.until(lambda d: d.execute_script(
        "var r = document.querySelector('#alert-ticker .alert-row'); return r && r.textContent.trim();"))
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


@pytest.mark.browser
def test_camera_wall_of_a_running_demo(browser, demo: RunningDemo) -> None:  # noqa: ANN001
    url, data_dir, lines = demo.url, demo.data_dir, demo.lines
    assert data_dir, demo.output
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host == "127.0.0.1" and port

    _wall_screen(browser)
    creds = r"duty officer '([^']+)', password '([^']+)'"  # printed just after the wall's address
    login = WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda _: re.search(creds, demo.output))
    assert _get(host, port, "/cameras/frame/hue-cam-ngomon/latest.jpg")[0] == 401  # people: a login
    browser.get(url + "healthz?lang=en")  # the Huế config speaks Vietnamese; this screen asks for English
    browser.get(url + "cameras/")
    WebDriverWait(browser, 20).until(lambda d: "/login?next=/cameras/" in d.current_url)
    browser.find_element(By.ID, "username").send_keys(login.group(1))
    browser.find_element(By.ID, "password").send_keys(login.group(2))
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url == url + "cameras/")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    browser.execute_script("window.__camNoReload = true;")
    wait = WebDriverWait(browser, HANG_GUARD_S, poll_frequency=0.25)
    wait.until(lambda d: d.execute_script(_READY_JS))
    # the tiles are redrawn every tick: read them in one script, not through held elements
    snap = browser.execute_script("""const q = (t, css) => (t.querySelector(css) || {});
        return Array.from(document.querySelectorAll('.cam-tile')).map(t => ({
        camera: t.dataset.camera, cls: t.className, text: t.innerText, name: q(t, '.cam-name').innerText,
        badge: q(t, '.cam-badge').innerText, health: q(t, '.cam-health').innerText,
        src: q(t, 'img.cam-img').src}));""")
    zones = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cam-zone')).map(z => z.dataset.zone);")
    assert [t["camera"] for t in snap] == list(CAMS)
    for tile, name in zip(snap, CAMS.values(), strict=True):
        assert tile["name"] == name
        assert "cam-ok" in tile["cls"], tile["text"]  # the sample cameras are healthy
        assert tile["badge"] == "LIVE"
        assert "fps in" in tile["health"]
    assert {"path", "lawn", "road"} <= set(zones)

    # a frame: a JPEG, never kept by a cache when asked with a session, the key frame's time in its URL
    src = snap[0]["src"]
    assert re.search(r"/cameras/frame/hue-cam-ngomon/[^?]+\.jpg\?t=\d+$", src), src
    with urllib.request.urlopen(urllib.request.Request(src, headers={"Cookie": cookie}),
                                timeout=10) as resp:
        body = resp.read()
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert resp.headers["Cache-Control"] == "no-store"  # asked with a session: nothing kept
        assert body[:2] == b"\xff\xd8"
    assert _get(host, port, "/cameras/frame/hue-cam-ngomon/latest.jpg", cookie)[0] == 200
    assert _get(host, port, "/cameras/frame/hue-cam-ngomon/nope.jpg", cookie)[0] == 404

    # nothing outside the key frame folder, however the path climbs
    (data_dir / "secret.jpg").write_bytes(b"not for the wall")
    for path in ("/cameras/frame/hue-cam-ngomon/../../secret.jpg",
                 "/cameras/frame/hue-cam-ngomon/..%2F..%2Fsecret.jpg",
                 "/cameras/frame/../secret.jpg", "/cameras/frame/%2E%2E/secret.jpg",
                 "/cameras/frame/hue-cam-ngomon/../../pgdata/PG_VERSION"):
        status, body = _get(host, port, path, cookie)
        assert status in (400, 403, 404) and b"not for the wall" not in body, (path, status)
    assert _get(host, port, "/cameras/frame/hue-cam-ngomon/../../secret.jpg", cookie)[0] == 400
    assert _get(host, port, "/cameras/frame/hue-cam-ngomon/%2e%2e%2f..%2fsecret.jpg", cookie)[0] == 400

    # everything the page loaded came from the demo itself
    origin = f"http://{host}:{port}/"
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).concat("
        "Array.from(document.querySelectorAll('script[src],link[href],img[src]'))"
        ".map(e => e.src || e.href));")
    assert loaded and [u for u in loaded if not u.startswith(origin)] == []

    # the tiles follow new key frames without a reload
    first_src = "return document.querySelector('.cam-tile img.cam-img').src;"
    wait.until(lambda d: d.execute_script(first_src) != src)
    wait.until(lambda d: d.execute_script(_READY_JS))
    assert browser.execute_script("return window.__camNoReload === true;")
    _assert_one_screen(browser)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "camera-wall.png"))

    # a click opens the camera large, with its chart; Esc goes back to its tile
    browser.execute_script("document.querySelector('.cam-tile').click();")  # the tile as it is now
    detail = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#cam-detail.cam-open"))
    title = "return document.getElementById('cam-detail-title').textContent;"
    wait.until(lambda d: d.execute_script(title).startswith(CAMS["hue-cam-ngomon"]))
    lines = "#cam-detail-chart .scatterlayer .trace .lines path"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, lines))
    wait.until(lambda d: d.execute_script(
        "const i = document.getElementById('cam-detail-img'); return i.complete && i.naturalWidth > 0;"))
    assert detail.find_element(By.ID, "cam-detail-health").text
    assert "People" in detail.find_element(By.ID, "cam-detail-counts").text
    legend = browser.find_element(By.CSS_SELECTOR, "#cam-detail-chart .legend").text
    assert "People · whole frame" in legend and "People · path" in legend
    wait_until_still(browser)
    browser.save_screenshot(str(ARTIFACTS / "camera-wall-large.png"))
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#cam-detail.cam-open"))
    focused = "return document.activeElement.dataset.camera;"
    wait.until(lambda d: d.execute_script(focused) == "hue-cam-ngomon")

    # the keyboard alone: 2 opens the second camera
    ActionChains(browser).send_keys("2").perform()
    wait.until(lambda d: d.execute_script(title).startswith(CAMS["hue-cam-truongtien"]))
    assert browser.find_elements(By.CSS_SELECTOR, "#cam-detail.cam-open")
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#cam-detail.cam-open"))
    assert browser.execute_script("return window.__camNoReload === true;")
    failures = [line for line in lines if "Exception on /cameras" in line]
    assert failures == [], "".join(lines[-200:])  # no request of the page failed on the server


@pytest.mark.browser
def test_press_page_of_a_running_demo_fills_with_simulated_outlets_and_alerts(
        browser, demo: RunningDemo) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

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
    assert any("MÔ PHỎNG" in t for t in texts("#simulated"))
    browser.execute_script("window.__pressNoReload = true;")
    # the first hazard story reaches every outlet about a minute after the start (wall time, while
    # the rest of the demo competes for the cores): alerts appear; a longer guard against a hang
    story = WebDriverWait(browser, 3 * HANG_GUARD_S, poll_frequency=0.5)
    alerts = story.until(lambda d: (r := texts("#press-alerts .alert")) and any(
        "đang lan rộng" in x for x in r) and r)
    assert any("Ban Chỉ huy PCTT" in x for x in alerts), alerts
    # the spreading story is among the stories, carried by several SIM outlets; trends drawn as sparklines
    stories = wait.until(lambda d: (r := texts("#press-stories .story")) and r)
    assert all("SIM " in x for x in stories), stories
    assert wait.until(lambda d: d.execute_script(
        "return document.querySelectorAll('#press-trends img.sparkline').length > 0"
        " && document.querySelectorAll('#press-stories img.sparkline').length > 0;"))
    assert browser.execute_script("return window.__pressNoReload === true;")
    wait_until_still(browser)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo-press.png"))
