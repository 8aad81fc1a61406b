"""The wall in a real headless Chromium, served by the real Dash app on a real store.

The page must fill in from the store, then follow new readings and a new
alert on its own (no reload), keep an operator's zoom, fit one 1920x1080
screen, say when it stops updating, and log no errors. Screenshots are
left in ``tests/artifacts/`` (``wall.png``, ``wall-crowded.png``) for a
human to judge. A few checks of the page's pure pieces need no browser.
"""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import ARTIFACTS, migrated_database

from dashboards.components import (
    MetricPanel,
    ago,
    fmt_age,
    metric_label,
    metric_sort_key,
    place,
    station_figure,
)
from dashboards.wall import chart_interval_ms, grid_shape, stale_after_ms
from ioc.config import RuleSettings, Settings, Station, WebSettings
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.maintenance import refresh_rollups
from ioc.store.queries import LatestValue, SeriesPoint
from ioc.store.writer import DeadLetter, StoreWriter
from tests.browser import serving_pages

needs_browser = pytest.mark.browser  # the `browser` fixture skips (fails in CI) without Chromium

STATIONS = [
    Station(id="hue-citadel", name="Imperial Citadel", lat=16.4698, lon=107.5786, area="Phú Hậu"),
    Station(id="hue-vyda", name="Vỹ Dạ", lat=16.4637, lon=107.6084, area="Vỹ Dạ"),
    Station(id="perfume-river", name="Perfume River gauge", lat=16.4590, lon=107.5830, area="Phú Hội"),
    Station(id="thuan-an", name="Thuận An coast", lat=16.5600, lon=107.6400, area="Thuận An"),
]
METRICS = {
    "hue-citadel": [("pm25", "µg/m³", 22.0), ("pm10", "µg/m³", 41.0), ("temperature", "°C", 27.0)],
    "hue-vyda": [("pm25", "µg/m³", 31.0), ("pm10", "µg/m³", 55.0), ("temperature", "°C", 26.4)],
    "perfume-river": [("water_level", "m", 1.42), ("rain", "mm", 0.4)],
    "thuan-an": [("pm25", "µg/m³", 12.0), ("temperature", "°C", 25.1)],
}
SILENT = "thuan-an"  # stops reporting 20 minutes before the test


def _settings() -> Settings:
    return Settings(
        city="Huế",
        timezone="Asia/Ho_Chi_Minh",
        web=WebSettings(refresh_ms=1000, title="Intelligent Operations Centre"),
        stations=STATIONS,
        rules=RuleSettings(
            thresholds=[
                ThresholdRule(name="pm25_high", metric="pm25", above=35.0, severity="warning"),
                ThresholdRule(
                    name="flood",
                    metric="water_level",
                    above=2.0,
                    severity="critical",
                    stations=["perfume-river"],
                ),
            ]
        ),
    )


def _history(now: datetime) -> list[EnvironmentReading]:
    """90 minutes of one reading a minute per station and metric, with a little weather in it."""
    out = []
    for i, (sid, metrics) in enumerate(METRICS.items()):
        last = 20 if sid == SILENT else 0
        for m, (metric, unit, base) in enumerate(metrics):
            for age in range(90, last, -1):
                wave = math.sin((age + 7 * i + 3 * m) / 9) + 0.35 * math.sin(age / 2.3 + m)
                value = base * (1 + 0.12 * wave)
                if metric == "pm25" and sid == "hue-vyda" and age < 25:
                    value += 14 * (25 - age) / 25  # a rising smoke plume over the last 25 minutes
                out.append(
                    EnvironmentReading(
                        time=now - timedelta(minutes=age),
                        source_id=sid,
                        metric=metric,
                        value=round(value, 2),
                        unit=unit,
                    )
                )
    return out


def _insert_alert(
    store: Store,
    fingerprint: str,
    source: str,
    area: str,
    severity: str,
    title: str,
    state: str,
    started: datetime,
    count: int = 1,
    last_seen: datetime | None = None,
) -> None:
    resolved = started + timedelta(minutes=8) if state == "resolved" else None
    last_seen = last_seen or resolved or started + timedelta(minutes=count)
    with store.pool.connection() as conn:
        conn.execute(
            "INSERT INTO alerts (fingerprint, detector, rule, source_id, area, severity, title, state, "
            "started_at, first_seen, last_seen, resolved_at, count) "
            "VALUES (%s, 'threshold', 'rule', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (fingerprint, source, area, severity, title, state, started, started, last_seen, resolved, count),
        )


@pytest.fixture
def wall_store(pg_plain: EmbeddedPostgres) -> Iterator[Store]:
    store = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def serve(wall_store: Store) -> Iterator[Callable[[Settings], str]]:
    """Serve the wall for given settings with waitress (as the embedded mode does) on a free port, in
    a thread of this process."""
    with ExitStack() as servers:
        yield lambda settings: servers.enter_context(
            serving_pages(wall_store.pool, settings, caps_label=wall_store.caps.label))


@pytest.fixture
def wall_url(serve: Callable[[Settings], str]) -> str:
    return serve(_settings())




def _text(driver: object, css: str) -> str:
    """The visible text of the first element matching ``css`` ("" if none), read in one go in the page."""
    return driver.execute_script(  # type: ignore[attr-defined]
        "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';", css
    )


def _elements(driver: object, css: str) -> list[dict[str, str]]:
    """Class, data attributes and text of every element matching ``css``, read atomically.

    The page replaces these elements on every refresh, so holding on to
    WebElements between calls would race with it.
    """
    return driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => "
        "({cls: e.className, text: e.innerText, ...e.dataset}));",
        css,
    )


def test_refresh_cadence() -> None:
    assert chart_interval_ms(2000) == 4000  # every second tick...
    assert chart_interval_ms(3000) == 5000  # ...but at least every 5 s
    assert chart_interval_ms(250) == 500
    assert chart_interval_ms(10_000) == 10_000  # never faster than the tiles
    assert stale_after_ms(2000) == 8000 and stale_after_ms(250) == 5000


def test_grid_shape_holds_every_station() -> None:
    for n in range(0, 40):
        cols, rows = grid_shape(n)
        assert cols * rows >= n and cols * (rows - 1) < max(n, 1)
    assert grid_shape(4) == (2, 2) and grid_shape(9) == (3, 3)


def test_station_figure_escapes_units_and_spans_thresholds() -> None:
    now = datetime.now(UTC)
    latest = LatestValue("s1", "pm25", now, 12.0, "<b>x</b>")
    points = [SeriesPoint("s1", "pm25", now - timedelta(minutes=i), 10.0 + i, 9.0, 11.0, 6) for i in range(5)]
    rule = ThresholdRule(name="hi", metric="pm25", above=35.0)
    fig = station_figure(
        "s1",
        [MetricPanel("pm25", points, latest, [rule])],
        now - timedelta(hours=1),
        now,
        ZoneInfo("Asia/Ho_Chi_Minh"),
    )
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert "PM2.5" in texts and any("&lt;b&gt;x&lt;/b&gt;" in t for t in texts)
    assert not any("<b>x</b>" in t for t in texts)
    assert fig["layout"]["uirevision"] == "s1"
    frame, line = fig["data"]
    assert max(frame["y"]) == 35.0  # autorange reaches the threshold line
    assert "range" not in fig["layout"]["xaxis"]  # no range of its own: the operator's zoom can stay
    assert MetricPanel("pm25", points, latest, [rule]).breached() is None
    hot = LatestValue("s1", "pm25", now, 40.0, "µg/m³")
    assert MetricPanel("pm25", points, hot, [rule]).breached() == rule


def test_formats() -> None:
    assert fmt_age(timedelta(seconds=3)) == "now" and ago(timedelta(seconds=3)) == "just now"
    assert fmt_age(timedelta(seconds=45)) == "45 s" and fmt_age(timedelta(minutes=12)) == "12 min"
    assert fmt_age(timedelta(hours=3, minutes=5)) == "3 h 05" and fmt_age(timedelta(days=2)) == "2 d"
    assert metric_label("pm25") == "PM2.5" and metric_label("relative_humidity") == "Humidity"
    assert metric_label("dissolved_oxygen_saturation") == "Dissolved ox…"
    assert metric_label("relative_humidity", "vi") == "Độ ẩm"
    assert metric_label("water_flow", "vi") == "Lưu lượng"
    assert metric_label("pm25", "vi") == "PM2.5"  # a formula reads the same in either language
    assert place("Vỹ Dạ", "Vỹ Dạ") == "Vỹ Dạ" and place("Citadel", "Phú Hậu") == "Citadel · Phú Hậu"
    assert sorted(["temperature", "pm10", "zz", "pm25", "water_level"], key=metric_sort_key) == [
        "water_level",
        "pm25",
        "pm10",
        "temperature",
        "zz",
    ]


def test_healthz(wall_url: str) -> None:
    with urllib.request.urlopen(f"{wall_url}/healthz", timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b"ok"


@pytest.mark.browser
@needs_browser
def test_wall_follows_the_store_without_reloading(wall_store: Store, wall_url: str, browser: object) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    writer = StoreWriter(wall_store.pool, wall_store.caps)
    history = _history(now - timedelta(minutes=1))
    writer.write(history, [DeadLetter("decode", "env-http", "not JSON: Expecting value", b"\x00garbage")])
    refresh_rollups(wall_store.pool, wall_store.caps)
    _insert_alert(
        wall_store,
        "f1",
        "thuan-an",
        "Thuận An",
        "warning",
        "Thuận An coast silent for 15 min",
        "acknowledged",
        now - timedelta(minutes=5),
    )
    _insert_alert(
        wall_store,
        "f2",
        "hue-citadel",
        "Phú Hậu",
        "info",
        "PM2.5 back under 35 at the Citadel",
        "resolved",
        now - timedelta(minutes=50),
        count=3,
    )

    driver.get(wall_url)  # type: ignore[attr-defined]
    wait = WebDriverWait(driver, 20, poll_frequency=0.2)
    wait.until(lambda d: _text(d, "#kpi-stored .tile-value") == f"{len(history):,}")
    assert _text(driver, "#kpi-stations .tile-value") == "3 / 4"
    assert _text(driver, "#kpi-deadletters .tile-value") == "1"
    assert _text(driver, "#kpi-alerts .tile-value") == "1"
    assert "Huế" in _text(driver, ".wall-header")
    assert _text(driver, "#store-label") == "store: postgresql"
    rows = _elements(driver, "#alert-ticker .alert-row")
    assert [r["severity"] for r in rows] == ["warning", "info"]
    assert "resolved" in rows[1]["cls"].split()
    # every station has its panel, and the charts have drawn lines
    panels = _elements(driver, "#station-charts .station-panel")
    assert [p["station"] for p in panels] == [s.id for s in STATIONS]
    wait.until(lambda d: len(_elements(d, "#station-charts .scatterlayer .trace path.js-line")) == 10)
    wait.until(lambda d: "stale" in _elements(d, "#station-charts .station-panel")[3]["cls"].split())
    clock_before = _text(driver, "#clock")
    assert len(clock_before) == 8 and clock_before.count(":") == 2

    # an operator drags a zoom box on the Vỹ Dạ chart; refreshes must keep that zoom (uirevision)
    graph = "[data-station='hue-vyda'] .js-plotly-plot"
    x_range = "return document.querySelector(arguments[0])._fullLayout.xaxis.range.map(String);"
    full = driver.execute_script(x_range, graph)  # type: ignore[attr-defined]
    drag = driver.find_element(By.CSS_SELECTOR, "[data-station='hue-vyda'] .nsewdrag")  # type: ignore[attr-defined]
    width = drag.size["width"]
    ActionChains(driver).move_to_element_with_offset(drag, -width // 5, 0).click_and_hold().move_by_offset(
        width // 3, 0
    ).release().perform()
    zoom = driver.execute_script(x_range, graph)  # type: ignore[attr-defined]
    assert zoom != full, "the drag did not zoom"

    # now the store changes under the open page
    driver.execute_script("window.__wallMarker = 'same page';")  # type: ignore[attr-defined]
    fresh = [
        EnvironmentReading(
            time=now,
            source_id=sid,
            metric=metric,
            unit=unit,
            value=52.5 if (sid, metric) == ("hue-vyda", "pm25") else base,
        )
        for sid, metrics in METRICS.items()
        if sid != SILENT
        for metric, unit, base in metrics
    ]
    writer.write(fresh, [DeadLetter("validate", "env-http", "value: must be finite", b'{"value": NaN}')])
    refresh_rollups(wall_store.pool, wall_store.caps)
    _insert_alert(
        wall_store,
        "f3",
        "hue-vyda",
        "Vỹ Dạ",
        "critical",
        "PM2.5 above 35 at Vỹ Dạ for 10 min",
        "open",
        now - timedelta(minutes=12),
        count=4,
        last_seen=now,
    )
    changed_at = datetime.now(UTC)

    quick = WebDriverWait(driver, 8, poll_frequency=0.1)
    quick.until(lambda d: _text(d, "#kpi-stored .tile-value") == f"{len(history) + len(fresh):,}")
    critical_row = "#alert-ticker .alert-row[data-severity='critical']"
    quick.until(lambda d: _elements(d, critical_row))
    seconds = (datetime.now(UTC) - changed_at).total_seconds()
    assert seconds < 5, f"the wall took {seconds:.1f} s to show the change"
    first = _elements(driver, "#alert-ticker .alert-row")[0]
    assert first["severity"] == "critical" and first["state"] == "open"
    assert "PM2.5 above 35 at Vỹ Dạ" in first["text"] and "×4" in first["text"] and "OPEN" in first["text"]
    assert _text(driver, "#kpi-alerts .tile-value") == "2"
    assert "1 CRIT" in _text(driver, "#kpi-alerts .chips")
    assert _text(driver, "#kpi-deadletters .tile-value") == "2"
    assert "crit" in _elements(driver, "#kpi-alerts")[0]["cls"].split()
    assert driver.execute_script("return window.__wallMarker;") == "same page"  # type: ignore[attr-defined]
    quick.until(lambda d: _text(d, "#clock") != clock_before)

    # one screen: nothing scrolls at 1920x1080
    size = driver.execute_script(  # type: ignore[attr-defined]
        "const e = document.documentElement;"
        "return [e.scrollWidth, e.scrollHeight, window.innerWidth, window.innerHeight];"
    )
    assert size[2:] == [1920, 1080]
    assert size[0] <= size[2] and size[1] <= size[3], f"the wall scrolls: {size}"

    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]
    assert not errors, errors

    # the charts catch up (the plume at Vỹ Dạ, beyond its threshold, reads 52.5 now), keeping the zoom
    graph_text = "return document.querySelector(arguments[0]).textContent;"
    quick.until(lambda d: "52.5" in d.execute_script(graph_text, graph))
    assert "breach-warning" in _elements(driver, "#station-charts .station-panel")[1]["cls"].split()
    kept = driver.execute_script(x_range, graph)  # type: ignore[attr-defined]
    assert kept == zoom, "a refresh threw away the operator's zoom"
    # a double-click gives the whole window back
    drag = driver.find_element(By.CSS_SELECTOR, "[data-station='hue-vyda'] .nsewdrag")  # type: ignore[attr-defined]
    ActionChains(driver).double_click(drag).perform()
    quick.until(lambda d: d.execute_script(x_range, graph)[0] < zoom[0])
    ActionChains(driver).move_to_element(driver.find_element(By.ID, "clock")).perform()  # type: ignore[attr-defined]
    assert not _elements(driver, ".plotly-notifier .notifier-note"), "a plotly tip covers the wall"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "wall.png"))  # type: ignore[attr-defined]


@pytest.mark.browser
@needs_browser
def test_crowded_wall_fits_one_screen(
    wall_store: Store, serve: Callable[[Settings], str], browser: object
) -> None:
    """Nine stations and more alerts than fit: still one screen, and no alert row cut in half."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    stations = [
        Station(id=f"st-{i}", name=name, lat=16.46, lon=107.59, area=area)
        for i, (name, area) in enumerate(
            [
                ("Imperial Citadel", "Phú Hậu"),
                ("Đông Ba market", "Đông Ba"),
                ("Trường Tiền bridge", "Phú Hội"),
                ("Thiên Mụ pagoda", "Kim Long"),
                ("Phú Bài airport", "Hương Thủy"),
                ("Thuận An coast", "Thuận An"),
                ("Bạch Mã foothills", "Phú Lộc"),
                ("Hương Trà", "Tứ Hạ"),
                ("An Cựu canal gauge", "An Cựu"),
            ]
        )
    ]
    settings = _settings().model_copy(update={"stations": stations})
    readings = [
        EnvironmentReading(
            time=now - timedelta(minutes=age),
            source_id=st.id,
            metric=metric,
            unit=unit,
            value=round(base * (1 + 0.1 * math.sin(age / 7 + i)), 2),
        )
        for i, st in enumerate(stations)
        for metric, unit, base in [
            ("pm25", "µg/m³", 20.0 + i * 3),
            ("pm10", "µg/m³", 40.0),
            ("temperature", "°C", 26.0),
        ][: 2 + i % 2]
        for age in range(120, 0, -1)
    ]
    StoreWriter(wall_store.pool, wall_store.caps).write(readings)
    refresh_rollups(wall_store.pool, wall_store.caps)
    long_title = "a long and detailed title that will not fit on one line of the ticker "
    for i in range(14):
        st = stations[i % 9]
        _insert_alert(
            wall_store,
            f"c{i}",
            st.id,
            st.area,
            ("critical", "warning", "info")[i % 3],
            f"Alert {i}: " + long_title * (i % 2 + 1),
            "resolved" if i % 5 == 4 else "open",
            now - timedelta(minutes=60 - i),
            count=i + 1,
        )

    driver.get(serve(settings))  # type: ignore[attr-defined]
    wait = WebDriverWait(driver, 20, poll_frequency=0.2)
    wait.until(lambda d: _text(d, "#kpi-stored .tile-value") == f"{len(readings):,}")
    wait.until(lambda d: len(_elements(d, "#station-charts .scatterlayer .trace path.js-line")) == 9 * 2 + 4)
    assert _text(driver, "#kpi-stations .tile-value") == "9 / 9"
    size = driver.execute_script(  # type: ignore[attr-defined]
        "const e = document.documentElement;"
        "return [e.scrollWidth, e.scrollHeight, window.innerWidth, window.innerHeight];"
    )
    assert size[0] <= size[2] and size[1] <= size[3], f"the wall scrolls: {size}"
    # each alert row is either wholly inside the ticker or wholly out of sight
    visible = driver.execute_script(  # type: ignore[attr-defined]
        """
        const box = document.getElementById('alert-ticker').getBoundingClientRect();
        return Array.from(document.querySelectorAll('#alert-ticker .alert-row')).map(r => {
            const b = r.getBoundingClientRect();
            const inside = b.left >= box.left - 1 && b.right <= box.right + 1
                && b.top >= box.top - 1 && b.bottom <= box.bottom + 1;
            const outside = b.left >= box.right || b.top >= box.bottom;
            return inside ? 'in' : outside ? 'out' : 'cut';
        });
        """
    )
    assert "cut" not in visible, visible
    assert visible.count("in") >= 6, visible
    assert _elements(driver, "#alert-ticker .alert-row")[0]["severity"] in ("critical", "warning", "info")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "wall-crowded.png"))  # type: ignore[attr-defined]


@pytest.mark.browser
@needs_browser
def test_wall_says_when_it_stops_updating(wall_store: Store, wall_url: str, browser: object) -> None:
    """A frozen wall is the worst failure: when the store stops answering, the header says so."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    StoreWriter(wall_store.pool, wall_store.caps).write(_history(datetime.now(UTC))[:50])
    driver.get(wall_url)  # type: ignore[attr-defined]
    WebDriverWait(driver, 20, poll_frequency=0.2).until(lambda d: _text(d, "#kpi-stored .tile-value") == "50")
    assert _text(driver, "#link-status") == ""
    with wall_store.pool.connection() as conn:
        conn.execute("ALTER TABLE stored_counts RENAME TO stored_counts_away")
    try:
        WebDriverWait(driver, 20, poll_frequency=0.5).until(
            lambda d: _text(d, "#link-status").startswith("NO UPDATE FOR")
        )
        assert "stale" in _elements(driver, "#link-status")[0]["cls"].split()
        assert _text(driver, "#kpi-stored .tile-value") == "50"  # the last good numbers stay up
    finally:
        with wall_store.pool.connection() as conn:
            conn.execute("ALTER TABLE stored_counts_away RENAME TO stored_counts")
    WebDriverWait(driver, 10, poll_frequency=0.2).until(lambda d: _text(d, "#link-status") == "")


@needs_browser
def test_a_link_marks_its_station_and_an_open_wall_shows_security_alerts_only_to_a_session(
        wall_store: Store, wall_url: str, browser: object) -> None:
    """The console's "Open the station's chart" (``/?station=<id>``) marks that station. A security
    alert names an attacker's address and the account attacked: a wall open to anyone shows its feed
    and severity only (its page, ``/security/``, needs a login), a logged-in reader its title."""
    from selenium.webdriver.support.ui import WebDriverWait

    from alerts.people import People
    from tests.browser import log_in

    started = datetime.now(UTC) - timedelta(minutes=2)
    with wall_store.pool.connection() as conn:
        conn.execute(
            "INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, started_at, "
            "first_seen, last_seen) VALUES ('sec1', 'security', 'compromise', '203.0.113.66', 'critical', "
            "'Possible compromise: root logged in from 203.0.113.66', %s, %s, %s)",
            (started, started, started))
    People(wall_store.pool).add_user("kiosk", "viewer", "correct horse battery")
    driver = browser
    driver.get(f"{wall_url}/?station=hue-vyda&lang=en")  # type: ignore[attr-defined]
    wait = WebDriverWait(driver, 30, poll_frequency=0.2)
    wait.until(lambda d: [p["station"] for p in _elements(d, "#station-charts .station-panel.station-focus")]
               == ["hue-vyda"])
    wait.until(lambda d: "log in to read this alert" in _text(d, "#alert-ticker"))
    ticker = _text(driver, "#alert-ticker")
    assert "Network security: log in to read this alert" in ticker and "203.0.113.66" not in ticker
    log_in(driver, wall_url, "kiosk", "correct horse battery", "/?lang=en")
    wait.until(lambda d: "Possible compromise: root logged in from 203.0.113.66" in _text(d, "#alert-ticker"))
    assert not _elements(driver, "#station-charts .station-panel.station-focus")  # no link, no mark
