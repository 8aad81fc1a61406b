"""A wall that tells the truth when it cannot: stale feeds, a stopped store, a server gone and back.

Real headless Chromium on the real pages, served by waitress from this process on a PostgreSQL
server of the test's own, which the test stops (``pg_ctl stop``) and starts again. Every page
carries the banner of ``dashboards/assets/truth.js``: a line per stale feed with the time of its
last good data, a red line while the store or the server is unreachable, the page greyed out
meanwhile, and everything back by itself when they return.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTIFACTS

from alerts.people import People
from dashboards.app import create_app
from dashboards.freshness import freshness_document
from ioc.config import Settings, Station, WebSettings
from ioc.feeds.environment.records import EnvironmentReading
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.room import PASSWORD, Served, banner, login
from tests.waiting import wait_for

needs_browser = pytest.mark.browser

STATION = Station(id="hue-citadel", name="Imperial Citadel", lat=16.4698, lon=107.5786, area="Phú Hậu")
PAGES = ("/", "/sea/", "/services/", "/reports/")  # a Dash page of each kind and a plain HTML one


def settings() -> Settings:
    return Settings(city="Huế", timezone="Asia/Ho_Chi_Minh", stations=[STATION],
                    web=WebSettings(refresh_ms=1000, truth_poll_ms=500, stale_after_s=600))


@pytest.fixture
def private_pg(pg_root: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, which it stops and starts again (same port)."""
    pg = EmbeddedPostgres(pg_root / f"truth-{uuid.uuid4().hex[:8]}", timescaledb=False,
                          server_options={"fsync": "off", "synchronous_commit": "off"})
    pg.start()
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture
def store(private_pg: EmbeddedPostgres) -> Iterator[Store]:
    st = open_store(private_pg.dsn, pool_max=8, want_timescaledb=False)
    try:
        yield st
    finally:
        st.close()


def write_readings(store: Store, n: int = 3) -> None:
    now = datetime.now(UTC)
    StoreWriter(store.pool, store.caps).write([
        EnvironmentReading(time=now - timedelta(seconds=10 * i), source_id=STATION.id, metric="pm25",
                           value=20.0 + i) for i in range(n)])


def test_freshness_says_which_feed_is_stale_since_when_and_when_the_store_is_down(
        store: Store, private_pg: EmbeddedPostgres) -> None:
    cfg = settings()
    assert freshness_document(store.pool, cfg, "en")["feeds"] == []  # nothing stored yet: nothing to judge
    write_readings(store)
    doc = freshness_document(store.pool, cfg, "vi")
    (env,) = doc["feeds"]  # type: ignore[misc]
    assert doc["store_ok"] and env["feed"] == "environment" and not env["stale"] and env["page"] == "/"
    assert env["title"] == "Môi trường"  # in the page's language
    with store.pool.connection() as conn:
        conn.execute("UPDATE stored_counts SET last_write = now() - interval '2 hours'")
    (env,) = freshness_document(store.pool, cfg, "en")["feeds"]  # type: ignore[misc]
    assert env["stale"] and datetime.fromisoformat(env["last"]) < datetime.now(UTC) - timedelta(minutes=119)
    private_pg.stop()
    try:
        down = freshness_document(store.pool, cfg, "en")
        assert down["store_ok"] is False and down["feeds"] == []
    finally:
        private_pg.start()
    wait_for(lambda: freshness_document(store.pool, cfg, "en")["store_ok"], "the store answering again")


def test_each_feed_greys_out_its_own_page_and_is_named_in_the_pages_language() -> None:
    """A stale feed marks the page that shows it: the citizens' reports are on /reports311/, not on the
    managers' /reports/; and every feed's name, and the name of each of its rules (a manager's report
    heading read "threshold"), reads in Vietnamese on a Vietnamese page."""
    from dashboards.feed_titles import RULE_TITLES, feed_title, rule_title
    from dashboards.freshness import FEED_PAGES
    from ioc.feeds import FEEDS

    assert FEED_PAGES["reports"] == "/reports311/"
    for spec in FEEDS:
        assert spec.name in FEED_PAGES, spec.name
        assert feed_title(spec.title, "vi") != spec.title, spec.title
        assert spec.rule_titles, spec.name
    for detector, title in RULE_TITLES.items():
        assert rule_title(detector, "en") == title
        assert rule_title(detector, "vi") not in (title, detector), detector
    assert rule_title("threshold", "vi") == "Vượt ngưỡng"
    assert rule_title("retired_rule", "vi") == "retired rule"  # an old alert's rule of no feed now


@needs_browser
def test_every_page_says_when_a_feed_stops_and_when_the_store_stops_then_clears_by_itself(
        store: Store, private_pg: EmbeddedPostgres, browser: Any) -> None:
    write_readings(store)
    People(store.pool).add_user("lan", "duty_officer", PASSWORD)
    served = Served(create_app(store.pool, settings()).server)
    try:
        login(browser, served.url, "lan")  # /reports/ (a plain HTML page) needs a session
        for path in PAGES:
            browser.get(served.url + path + "?lang=en")
            wait_for(lambda: banner(browser)["state"] == "ok", f"{path}: the banner says all is live")
            assert not banner(browser)["offline"]

        # the environment feed goes quiet: the wall says since when and dims its own figures
        with store.pool.connection() as conn:
            conn.execute("UPDATE stored_counts SET last_write = now() - interval '2 hours'")
        browser.get(served.url + "/?lang=en")
        b = wait_for(lambda: (b := banner(browser))["state"] == "feeds-stale" and b, "a stale-feed line")
        assert "Environment: no new data since" in b["text"] and b["feedStale"] and not b["offline"]
        browser.get(served.url + "/sea/?lang=en")  # another page names the same feed, without dimming
        b = wait_for(lambda: (b := banner(browser))["state"] == "feeds-stale" and b, "the line on /sea/")
        assert "Environment" in b["text"] and not b["feedStale"]
        write_readings(store)  # data again: the line goes by itself
        wait_for(lambda: banner(browser)["state"] == "ok", "the stale line cleared")

        # the store stops: within a poll the page says so, greys out, and comes back with the store
        browser.get(served.url + "/?lang=vi")
        wait_for(lambda: banner(browser)["state"] == "ok", "the wall live")
        wait_for(lambda: (t := browser.execute_script(
            "const e = document.getElementById('data-asof'); return e ? e.innerText : '';"))
            and not t.endswith("—"), "the wall's first figures")
        private_pg.stop()
        try:
            b = wait_for(lambda: (b := banner(browser))["state"] == "store-down" and b, "store-down banner")
            assert "KHO DỮ LIỆU KHÔNG TRUY CẬP ĐƯỢC" in b["text"] and b["offline"]
            assert "grayscale" in b["filter"]
            browser.save_screenshot(str(ARTIFACTS / "wall-store-down.png"))
        finally:
            private_pg.start()
        wait_for(lambda: banner(browser)["state"] == "ok" and not banner(browser)["offline"],
                 "the banner cleared when the store came back")
    finally:
        served.stop()


@needs_browser
def test_a_page_says_the_server_is_unreachable_and_reconnects_when_it_returns(
        store: Store, browser: Any) -> None:
    write_readings(store)
    app = create_app(store.pool, settings()).server
    served = Served(app)
    port = served.port
    try:
        browser.get(served.url + "/?lang=en")
        wait_for(lambda: banner(browser)["state"] == "ok", "the wall live")
        # read by script each time: the banner can say "ok" before Dash has drawn the layout
        def asof() -> str:
            return browser.execute_script(
                "const e = document.getElementById('data-asof'); return e ? e.innerText : '';")

        wait_for(lambda: asof().startswith("Data as of"), "the wall's first data")
        served.stop()
        b = wait_for(lambda: (b := banner(browser))["state"] == "server-down" and b, "server-down banner")
        assert "SERVER UNREACHABLE since" in b["text"] and b["offline"]
        before = asof()
        served = Served(app, port)  # the server is back on the same address
        wait_for(lambda: banner(browser)["state"] == "ok", "the banner cleared by itself")
        wait_for(lambda: asof() not in ("", before), "the wall's figures moving again, without a reload")
        logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                and "_dash-update-component" not in e["message"] and "freshness" not in e["message"]]
        assert not [e for e in logs if "truth.js" in e["message"]], logs
    finally:
        served.stop()

