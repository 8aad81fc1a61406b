"""The room's screens: profiles as data, a grid of pages, a rotation that yields to an operator,
edits that reach running screens without a reload, and a kiosk screen that outlives its server.

Real headless Chromium on the real pages (served by waitress from this process, or by the
gunicorn web role started as the README says), on a real PostgreSQL. Screenshots are left in
``tests/artifacts/`` (``screen-grid.png``) for a human to judge.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ARTIFACTS, migrated_database
from test_web_role import WebRole

from alerts.people import People
from dashboards.app import create_app
from dashboards.screens.routes import page_paths
from ioc.app.check_config import check_config
from ioc.config import Settings, Station, WebSettings
from ioc.feeds.environment.records import EnvironmentReading
from ioc.screens import ScreenProfile
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import wait_until_still
from tests.room import PASSWORD, Served, banner, login
from tests.waiting import wait_for

needs_browser = pytest.mark.browser

STATION = Station(id="hue-citadel", name="Imperial Citadel", lat=16.4698, lon=107.5786, area="Phú Hậu")
GRID = {"name": "overview", "title": "Overview", "language": "en", "kiosk_account": "wall-1",
        "items": [{"grid": {"columns": 2, "rows": 2, "panels": ["/", "/sea/", "/cameras/", "/console/"]},
                   "dwell_s": 3600}]}
ROTATE = {"name": "rotate", "language": "en", "resume_after_s": 3,
          "items": [{"page": "/", "dwell_s": 2}, {"page": "/services/", "dwell_s": 2}]}


def settings(*profiles: dict[str, Any]) -> Settings:
    return Settings(city="Huế", timezone="Asia/Ho_Chi_Minh", stations=[STATION],
                    web=WebSettings(refresh_ms=1000, truth_poll_ms=500),
                    screens=[ScreenProfile.model_validate(p) for p in profiles])


def write_readings(store: Store) -> None:
    StoreWriter(store.pool, store.caps).write([
        EnvironmentReading(time=datetime.now(UTC), source_id=STATION.id, metric="pm25", value=21.0)])


def screen(driver: Any) -> dict[str, Any]:
    """The screen's state: item shown, paused, revision, boot id (a reload changes it), its log."""
    return driver.execute_script(
        "const s = document.getElementById('screen');"
        "return s && {index: s.dataset.index, items: s.dataset.items, paused: s.dataset.paused,"
        " revision: s.dataset.revision, boot: window.__screenBoot, log: window.__screenLog,"
        " note: document.getElementById('screen-paused').hidden ? '' :"
        " document.getElementById('screen-paused').innerText};")


def frames(driver: Any) -> list[dict[str, Any]]:
    """Each frame of the screen: its page, where it is, whether its page came up with its banner."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#screen-stage iframe')).map(f => {"
        " let d = null; try { d = f.contentDocument; } catch (e) {}"
        " const b = d && d.getElementById('ioc-truth');"
        " return {page: f.dataset.page, path: d ? d.location.pathname : null,"
        "  ready: !!(d && d.readyState === 'complete' && b && b.dataset.state),"
        "  login: !!(d && d.getElementById('login-submit')),"
        "  asof: d && d.getElementById('data-asof') ? d.getElementById('data-asof').innerText : null,"
        "  offline: !!(d && d.body && d.body.classList.contains('ioc-offline'))}; });")


# --------------------------------------------------------------------------- profiles as data


def test_screen_profiles_are_checked_by_check_config(tmp_path: Path) -> None:
    bad = tmp_path / "ioc.toml"
    bad.write_text("""
[[screens]]
name = "wall-1"
colour = "blue"
[[screens.items]]
page = "/nowhere/"
[[screens.items]]
grid = { columns = 1, rows = 1, panels = ["/", "/sea/"] }
""", encoding="utf-8")
    _, errors = check_config(bad)
    assert any(e.startswith("screens[0].colour") and "Extra inputs" in e for e in errors), errors
    assert any("screens[0].items[1].grid" in e and "do not fit" in e for e in errors), errors
    bad.write_text("""
[[screens]]
name = "wall-1"
[[screens.items]]
page = "/nowhere/"
dwell_s = 30
""", encoding="utf-8")
    _, errors = check_config(bad)
    pages = page_paths()
    assert {"/", "/console/", "/sea/", "/cameras/", "/security/", "/press/", "/services/"} <= set(pages)
    assert errors == ["screens[0].items[0]: '/nowhere/' is not a page of the server "
                      f"(pages: {', '.join(pages)})"]
    bad.write_text('[[screens]]\nname = "a"\n[[screens.items]]\npage = "https://evil.example/"\n',
                   encoding="utf-8")
    _, errors = check_config(bad)
    assert any("not a page path of this server" in e for e in errors), errors
    for hostile in ("/\\r/evil.example/", "/\\t/evil.example/"):  # a browser drops CR and tab: //evil...
        bad.write_text(f'[[screens]]\nname = "a"\n[[screens.items]]\npage = "{hostile}"\n', encoding="utf-8")
        _, errors = check_config(bad)
        assert any("not a page path of this server" in e for e in errors), (hostile, errors)
    settings_, errors = check_config(Path(__file__).parents[1] / "ioc" / "app" / "config" / "hue.toml")
    assert errors == [] and settings_ is not None and {s.name for s in settings_.screens} >= {"wall-1"}


# --------------------------------------------------------------------------- in the browser


@needs_browser
def test_a_grid_profile_shows_its_pages_side_by_side_after_a_kiosk_login(
        plain_store: Store, browser: Any) -> None:
    write_readings(plain_store)
    People(plain_store.pool).add_user("wall-1", "viewer", PASSWORD)
    served = Served(create_app(plain_store.pool, settings(GRID)).server)
    try:
        browser.get(served.url + "/screen/overview")
        wait_for(lambda: "/login" in browser.current_url, "the screen asks for its kiosk login")
        login(browser, served.url, "wall-1", "/screen/overview")
        assert browser.current_url.endswith("/screen/overview")
        wait_for(lambda: len(f := frames(browser)) == 4 and all(x["ready"] for x in f),
                 "the four panels up, each with its banner")
        shown = frames(browser)
        assert [f["page"] for f in shown] == ["/", "/sea/", "/cameras/", "/console/"]
        assert [f["path"] for f in shown] == ["/", "/sea/", "/cameras/", "/console/"]
        assert not any(f["login"] for f in shown)  # the kiosk session opens the camera wall and console
        boxes = browser.execute_script(
            "return Array.from(document.querySelectorAll('#screen-stage iframe')).map(f => {"
            " const r = f.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });")
        assert len({(round(x), round(y)) for x, y, _, _ in boxes}) == 4  # four places, not stacked
        assert all(w > 900 and h > 500 for _, _, w, h in boxes)  # each a quarter of 1920x1080
        wait_for(lambda: all((f["asof"] or "Data as of").startswith("Data as of") for f in frames(browser)),
                 "the wall panel's data")
        wait_until_still(browser)
        browser.save_screenshot(str(ARTIFACTS / "screen-grid.png"))
    finally:
        served.stop()


@needs_browser
def test_rotation_pauses_for_an_operator_resumes_when_idle_and_follows_an_edit_without_reload(
        plain_store: Store, browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    write_readings(plain_store)
    people = People(plain_store.pool)
    people.add_user("ana", "admin", PASSWORD)
    people.add_user("lan", "duty_officer", PASSWORD)
    served = Served(create_app(plain_store.pool, settings(ROTATE)).server)
    try:
        browser.get(served.url + "/screen/rotate")
        first = wait_for(lambda: (s := screen(browser)) and s["revision"] and s, "the profile applied")
        wait_for(lambda: sum(e["what"] == "show" for e in screen(browser)["log"]) >= 3, "rotation running")
        assert {e["index"] for e in screen(browser)["log"] if e["what"] == "show"} == {0, 1}

        ActionChains(browser).send_keys(Keys.SHIFT).perform()  # an operator at the keyboard
        wait_for(lambda: screen(browser)["paused"] == "true", "the rotation paused")
        assert "resumes after 3 s" in screen(browser)["note"]
        wait_for(lambda: screen(browser)["paused"] == "false", "the rotation resumed after idle")
        log = screen(browser)["log"]
        paused = max(e["at"] for e in log if e["what"] == "pause")
        resumed = max(e["at"] for e in log if e["what"] == "resume")
        assert resumed - paused >= 3000  # resume_after_s of no activity
        assert not [e for e in log if e["what"] == "show" and paused <= e["at"] <= resumed]  # held still
        count = len(log)
        wait_for(lambda: any(e["what"] == "show" for e in screen(browser)["log"][count:]),
                 "the rotation moving on again")

        # an admin edits the profile on the admin page: the running screen follows, no reload
        admin = requests.Session()
        page = admin.get(served.url + "/login", timeout=30)
        csrf = admin.cookies["_csrf_token"]
        assert page.status_code == 200
        r = admin.post(served.url + "/login", timeout=30, data={
            "username": "ana", "password": PASSWORD, "next": "/screens/", "csrf_token": csrf})
        assert r.status_code == 200 and 'data-screen="rotate"' in r.text, r.text[:500]
        csrf = admin.cookies["_csrf_token"]
        edited = {**ROTATE, "items": [{"page": "/sea/", "dwell_s": 60}]}
        bad = admin.post(served.url + "/screens/save", timeout=30, data={
            "csrf_token": csrf, "profile": json.dumps({**edited, "items": [{"page": "/nowhere/"}]})})
        assert bad.status_code == 400 and "/nowhere/: no such page on this server" in bad.text
        bad = admin.post(served.url + "/screens/save", timeout=30, data={"csrf_token": csrf, "profile": "{"})
        assert bad.status_code == 400 and "JSON" in bad.text
        # a new screen's refusal is shown with its reason in the new screen's form (and its draft kept)
        new = {**edited, "name": "new-one", "items": [{"page": "/nowhere/"}]}
        bad = admin.post(served.url + "/screens/save", timeout=30, data={"csrf_token": csrf,
                                                                         "profile": json.dumps(new)})
        assert bad.status_code == 400 and "/nowhere/: no such page on this server" in bad.text
        assert "new-one" in bad.text
        for hostile, said in (("[" * 50_000 + "]" * 50_000, "JSON"),
                              (json.dumps({**edited, "title": "x" * 100_001}), "at most 100,000 characters")):
            bad = admin.post(served.url + "/screens/save?lang=en", timeout=30,
                             data={"csrf_token": csrf, "profile": hostile})
            assert bad.status_code == 400 and said in bad.text, bad.text[:300]
        saved = admin.post(served.url + "/screens/save", timeout=30,
                           data={"csrf_token": csrf, "profile": json.dumps(edited)})
        assert saved.status_code == 200 and "edited (version 1) by ana" in saved.text
        wait_for(lambda: screen(browser)["revision"] != first["revision"], "the new revision on the screen")
        wait_for(lambda: [f["page"] for f in frames(browser)] == ["/sea/"], "the edited item shown")
        after = screen(browser)
        assert after["boot"] == first["boot"] and after["items"] == "1"  # the same page, never reloaded
        assert any(e["what"] == "profile" for e in after["log"])

        # only an admin edits; a reset brings the configured profile back to the screen
        officer = requests.Session()
        officer.get(served.url + "/login", timeout=30)
        officer.post(served.url + "/login", timeout=30, data={
            "username": "lan", "password": PASSWORD, "csrf_token": officer.cookies["_csrf_token"]})
        refused = officer.post(served.url + "/screens/save", timeout=30, data={
            "csrf_token": officer.cookies["_csrf_token"], "profile": json.dumps(edited)})
        assert refused.status_code == 403
        reset = admin.post(served.url + "/screens/rotate/reset", data={"csrf_token": csrf}, timeout=30)
        assert reset.status_code == 200 and "from the configuration" in reset.text
        wait_for(lambda: screen(browser)["revision"] == first["revision"], "the configured profile back")
        assert screen(browser)["boot"] == first["boot"]
    finally:
        served.stop()


@pytest.fixture
def kiosk_role(pg_plain: EmbeddedPostgres, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    dsn = migrated_database(pg_plain)
    st = open_store(dsn, pool_max=2, want_timescaledb=False)
    try:
        People(st.pool).add_user("wall-1", "viewer", PASSWORD)
        write_readings(st)
    finally:
        st.close()
    config = tmp_path / "ioc.toml"
    config.write_text("""
city = "Huế"
timezone = "Asia/Ho_Chi_Minh"
[web]
refresh_ms = 1000
truth_poll_ms = 500
[alerts.auth]
wall_requires_login = true
[[screens]]
name = "night"
language = "en"
kiosk_account = "wall-1"
[[screens.items]]
page = "/"
dwell_s = 3600
""", encoding="utf-8")
    yield dsn, config


@needs_browser
def test_a_kiosk_screen_outlives_a_restart_of_the_web_role(
        kiosk_role: tuple[str, Path], tmp_path: Path, browser: Any) -> None:
    dsn, config = kiosk_role
    env = {"IOC_CONFIG": str(config)}
    role = WebRole(dsn, tmp_path / "web-1.log", extra_env=env)
    try:
        ok = lambda r: (x := r.get("/healthz")) is not None and x.status_code == 200  # noqa: E731
        wait_for(lambda: ok(role), "the web role up")
        login(browser, role.url, "wall-1", "/screen/night")
        first = wait_for(lambda: (s := screen(browser)) and s["revision"] and s, "the screen up")
        wait_for(lambda: (f := frames(browser)) and f[0]["ready"]
                 and (f[0]["asof"] or "").startswith("Data as of"), "the wall in the screen, with data")
        before = frames(browser)[0]["asof"]

        role.proc.send_signal(signal.SIGTERM)  # the web role goes away (a deploy, a crash, a reboot)
        assert role.proc.wait(timeout=60) == 0
        wait_for(lambda: banner(browser)["state"] == "server-down", "the screen saying the server is gone")
        wait_for(lambda: frames(browser)[0]["offline"], "the wall in the frame greyed out")
        assert "SERVER UNREACHABLE" in banner(browser)["text"]

        role = WebRole(dsn, tmp_path / "web-2.log", port=role.port, extra_env=env)  # back on the same address
        wait_for(lambda: banner(browser)["state"] in ("ok", "feeds-stale"), "the banner cleared by itself")
        wait_for(lambda: not frames(browser)[0]["offline"], "the wall live again")
        wait_for(lambda: frames(browser)[0]["asof"] not in (None, before), "the wall's figures moving again")
        after = screen(browser)
        assert after["boot"] == first["boot"]  # never reloaded
        assert browser.current_url.endswith("/screen/night")  # and never sent to the login form
        assert not frames(browser)[0]["login"]
    finally:
        role.end()


def test_a_dwell_time_that_is_no_number_is_refused_as_such() -> None:
    from pydantic import ValidationError

    from ioc.screens import ScreenItem

    for value in (float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="finite number"):
            ScreenItem.model_validate({"page": "/", "dwell_s": value})


def test_a_screens_public_profile_leaves_its_kiosk_account_out(plain_store: Store) -> None:
    """``profile.json`` answers anyone (a screen polls it before its login): the kiosk account's name,
    a name to guess passwords at, is neither in it nor in its revision. The admin page still shows it."""
    people = People(plain_store.pool)
    token, _ = people.start_session(people.add_user("ana", "admin", PASSWORD), "127.0.0.1")
    client = create_app(plain_store.pool, settings(GRID)).server.test_client()
    answer = client.get("/screen/overview/profile.json")
    assert answer.status_code == 200 and "wall-1" not in answer.text
    doc = answer.get_json()
    assert "kiosk_account" not in doc["profile"]
    assert doc["profile"]["items"][0]["grid"] == GRID["items"][0]["grid"]  # all a screen shows
    from dashboards.screens.routes import public_profile

    anyone = ScreenProfile.model_validate({**GRID, "kiosk_account": "someone-else"})
    assert doc["revision"] == public_profile(anyone)[1]  # the account changes nothing a screen sees
    assert client.get("/screen/overview").headers["Location"] == "/login?next=/screen/overview"
    client.set_cookie("ioc_session", token)
    admin = client.get("/screens/")
    assert admin.status_code == 200 and "&quot;kiosk_account&quot;: &quot;wall-1&quot;" in admin.text
