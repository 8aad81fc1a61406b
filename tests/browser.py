"""Headless Chromium for page tests and benchmarks: Debian's chromium + chromium-driver via selenium.

Flags follow what works on these machines: no sandbox (root), no background networking (the
closed network refuses it), a fresh profile, a 1920x1080 wall-sized viewport.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--window-size=1920,1080",
    "--autoplay-policy=no-user-gesture-required",
)


def available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


@contextmanager
def headless_chromium(width: int = 1920, height: int = 1080) -> Iterator[Any]:
    """A selenium driver on a fresh headless Chromium, quit (with its chromedriver) on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="ioc-chromium-") as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = str(CHROMIUM)
        for arg in (*FLAGS, f"--user-data-dir={profile}"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
        try:
            _fit(driver, width, height)
            yield driver
        finally:
            driver.quit()  # ends the chromedriver and the Chromium it started, nothing else


#: How long one command to chromedriver may take before it fails: selenium's own default is no
#: limit, so a hung Chromium held its test (and CI) forever. Page loads and scripts have their own,
#: shorter limits on chromedriver's side; this only guards against a hang.
COMMAND_GUARD_S = 180


def _fit(driver: Any, width: int, height: int) -> None:
    """The viewport of ``driver``'s current window, and the page-load guard every test expects."""
    driver.command_executor.client_config.timeout = COMMAND_GUARD_S
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.set_page_load_timeout(30)


class ChromiumWindows:
    """One headless Chromium for many tests, each given a window in a browser context of its own.

    A browser context is what an incognito window is: cookies, cache and storage of its own, gone
    when it is disposed, so a test sees a browser as fresh as a new profile for about 0.3 s instead
    of a launch's 2 s. Contexts are made over the browser's own DevTools connection (a page's
    session may not make them). A Chromium or chromedriver that died is launched again."""

    def __init__(self) -> None:
        self.driver: Any = None
        self._launched: Any = None
        self._devtools: Any = None
        self._anchor = ""
        self._calls = 0

    def _alive(self) -> bool:
        if self.driver is None:
            return False
        try:
            self.driver.window_handles  # noqa: B018 - a round trip to chromedriver and Chromium
            self._devtools.ping()
            return True
        except Exception:  # noqa: BLE001 - dead in any way: launch again
            return False

    def _launch(self) -> None:
        import json
        import urllib.request

        import websocket

        self.close()
        self._launched = headless_chromium()
        self.driver = self._launched.__enter__()
        self._anchor = self.driver.current_window_handle
        address = self.driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        with urllib.request.urlopen(f"http://{address}/json/version", timeout=30) as answer:
            url = json.load(answer)["webSocketDebuggerUrl"]
        self._devtools = websocket.create_connection(url, timeout=60, suppress_origin=True)

    def _cdp(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command to the browser itself; its result."""
        import json

        self._calls += 1
        self._devtools.send(json.dumps({"id": self._calls, "method": method, "params": params}))
        while True:  # events may come first: skip them
            message = json.loads(self._devtools.recv())
            if message.get("id") == self._calls:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    @contextmanager
    def window(self, width: int = 1920, height: int = 1080) -> Iterator[Any]:
        """The driver, switched to a new window in a new browser context; both closed on exit, with
        any window the test opened."""
        if not self._alive():
            self._launch()
        context = self._cdp("Target.createBrowserContext")["browserContextId"]
        target = self._cdp("Target.createTarget", url="about:blank", browserContextId=context)["targetId"]
        driver = self.driver
        try:
            driver.switch_to.window(target)
            _fit(driver, width, height)
            driver.get_log("browser")  # what earlier tests' pages logged is not this test's
            yield driver
        finally:
            try:
                for handle in driver.window_handles:
                    if handle != self._anchor:
                        driver.switch_to.window(handle)
                        driver.close()
                driver.switch_to.window(self._anchor)
                self._cdp("Target.disposeBrowserContext", browserContextId=context)
            except Exception:  # noqa: BLE001 - a browser left broken is launched again by the next test
                self.close()

    def close(self) -> None:
        """Quit the browser (and its chromedriver), if launched."""
        if self._devtools is not None:
            self._devtools.close()
            self._devtools = None
        if self._launched is not None:
            launched, self._launched, self.driver = self._launched, None, None
            launched.__exit__(None, None, None)


def log_in(driver: Any, base: str, name: str, password: str, target: str = "/console/",
           lang: str | None = None) -> None:
    """Log ``name`` in through the login form and wait until the browser has left it for ``target``.

    The form's own address names its target (``/login?next=/console/``), so "the address ends with
    the target" is already true on the form: wait for the address to leave ``/login`` instead, or the
    next navigation races the form's answer (a test's ``get`` was undone by the login's redirect)."""
    from urllib.parse import quote

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.waiting import HANG_GUARD_S

    query = f"next={quote(target, safe='/')}" + (f"&lang={lang}" if lang else "")
    driver.get(f"{base}/login?{query}")
    wait = WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.1)
    wait.until(lambda d: d.find_elements(By.ID, "username"))
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: "/login" not in d.current_url and d.execute_script(
        "return document.readyState") == "complete")


def require() -> None:
    """Skip (or, in CI, fail) when Debian's chromium and chromium-driver are missing."""
    import pytest

    if available():
        return
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required in CI (apt-get install chromium chromium-driver)")
    pytest.skip("Debian's chromium and chromium-driver are not installed")


def wait_until_still(driver: Any, timeout: float = 120.0) -> None:
    """Wait until the page has nothing left to draw: fonts loaded, no animation or transition running.

    Used before a screenshot instead of a fixed pause; the timeout only guards against a hang.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    still = ("return document.fonts.status === 'loaded' && document.getAnimations().every(a =>"
             " a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity);")
    wait = WebDriverWait(driver, timeout, poll_frequency=0.05)
    wait.until(lambda d: d.execute_script(still))
    # two animation frames: whatever the last change scheduled has been painted. Polled, not an async
    # script: a renderer starved by a busy machine may take longer than chromedriver's 30 s script limit
    driver.execute_script("window.__iocFrames = 0; requestAnimationFrame(() => { window.__iocFrames = 1;"
                          " requestAnimationFrame(() => { window.__iocFrames = 2; }); });")
    wait.until(lambda d: d.execute_script("return window.__iocFrames;") == 2)


def redraws_of_unchanged_content(driver: Any, element_id: str, answers: int = 2, tries: int = 4) -> int:
    """The changes of the DOM under ``element_id`` while the page's Dash callbacks were answered
    ``answers`` times and the element's text stayed as it was: a refresh that sends nothing new must
    leave the page's nodes alone (0). A window in which the content itself changed (a dossier fell
    overdue, an hour turned) says nothing about that and is watched again, up to ``tries`` times."""
    from selenium.webdriver.support.ui import WebDriverWait

    for _ in range(tries):
        driver.execute_script("""
            const w = window, el = document.getElementById(arguments[0]);
            if (w.__iocObserver) { w.__iocObserver.disconnect(); }
            w.__iocMutations = 0; w.__iocAnswers = 0; w.__iocTextBefore = el.innerText;
            w.__iocObserver = new MutationObserver(ms => { w.__iocMutations += ms.length; });
            w.__iocObserver.observe(el, {childList: true, subtree: true, characterData: true});
            if (!w.__iocCounting) {  // wrap fetch once: each answered callback counts once
                w.__iocCounting = true;
                const fetched = w.fetch;
                w.fetch = (...args) => fetched(...args).then(r => {
                    if (String(args[0]).includes('_dash-update-component')) { w.__iocAnswers += 1; }
                    return r; });
            }""", element_id)
        WebDriverWait(driver, 60, poll_frequency=0.1).until(
            lambda d: d.execute_script("return window.__iocAnswers;") >= answers)
        same, mutations = driver.execute_script(
            "return [document.getElementById(arguments[0]).innerText === window.__iocTextBefore,"
            " window.__iocMutations];", element_id)
        if same:
            return int(mutations)
    raise AssertionError(f"#{element_id}'s content changed in each of {tries} windows of {answers} answers")


@contextmanager
def serving_pages(pool: Any, settings: Any, **app_options: Any) -> Iterator[str]:
    """The whole app (every page) on ``pool``, served by waitress from a thread on 127.0.0.1; its URL."""
    from dashboards.app import create_app

    with serving_wsgi(create_app(pool, settings, **app_options).server) as url:
        yield url


@contextmanager
def serving_wsgi(app: Any) -> Iterator[str]:
    """A WSGI app served by waitress from a thread on 127.0.0.1 (as the embedded mode does); its URL."""
    import threading

    from ioc.http_server import ThreadedServer

    server = ThreadedServer(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
