"""The sea map: its pure pieces, then the page of a running ``ioc demo`` in a real headless Chromium.

The browser test starts the real command with the simulated fleet, opens
``/sea/``, waits for the vessels and a vessel in alert, opens one from the
side panel, checks that the operator's zoom survives the refreshes and that
the page asked nothing of any host but the demo's own, and leaves
``tests/artifacts/sea-map.png`` for a human to judge.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import struct
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from shapely.geometry import box

from dashboards import sea
from dashboards.map_view import fit_view
from ioc.config import DEFAULT_CONFIG, load_settings
from ioc.store import vessel_queries as vq
from tests.demo_process import running_demo, sample_config
from tests.waiting import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _decode(spec: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<" + spec["dtype"])


def _vessel(mmsi: int = 999100001, **kw: object) -> vq.VesselNow:
    fields: dict = {"mmsi": mmsi, "time": T0, "lat": 16.70, "lon": 107.80, "sog": 6.0, "cog": 45.0,
                    "heading": 44, "nav_status": 0, "simulated": True, "name": "SIM TA-01"}
    fields.update(kw)
    return vq.VesselNow(**fields)


# --------------------------------------------------------------------------- pure pieces


def test_sprite_is_a_png_with_every_icon() -> None:
    for scale in (1, 2):
        index, png = sea.sprite(scale)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])
        size = sea.ICON_PX * scale
        assert width == 8 * size and height % size == 0
        for state in sea.STATES:
            for directional in (True, False):
                for ring in sea.RINGS:
                    icon = index[sea.icon_name(state, directional, ring)]
                    assert icon["width"] == size and icon["pixelRatio"] == scale
                    assert icon["x"] + size <= width and icon["y"] + size <= height
        assert "select" in index
    assert sea.icon_name("moving", True, "critical") == "a-mov-crit"
    assert sea.icon_name("port", False) == "d-port" and sea.icon_name("stale", True, "info") == "a-lost-info"


def test_offline_map_needs_nothing_from_outside() -> None:
    settings = load_settings(DEFAULT_CONFIG)
    view = sea.SeaView.build(None, settings)
    assert {z.kind for z in view.zones} >= {"port", "no_fishing", "protected", "storm_ban", "sea_boundary"}
    assert {f.kind for f in view.coast} >= {"coastline", "land"}  # found beside the zone file
    fig = sea.base_figure(view)
    text = json.dumps(fig)
    assert "http" not in text and "mapbox://" not in text  # no tiles, fonts or sprites from elsewhere
    style = fig["layout"]["map"]["style"]
    assert style["sprite"].startswith(sea.MAP_ROUTE) and style["glyphs"].startswith(sea.MAP_ROUTE)
    assert style["layers"][0]["type"] == "background"
    # the zones and the coast are the style's own layers, none plotly's (it would redraw them each tick)
    assert not fig["layout"]["map"].get("layers")
    layers = style["layers"][1:]
    assert all(style["sources"][layer["source"]]["type"] == "geojson" for layer in layers)
    assert len({layer["id"] for layer in style["layers"]}) == len(style["layers"])
    by_name = {layer["metadata"]["name"]: layer for layer in layers}

    def colour(name: str) -> str:
        paint = by_name[name]["paint"]
        return paint.get("fill-color") or paint["line-color"]

    assert colour("no-fishing-son-cha-core") == sea.ZONE_STYLES["no_fishing"].fill
    assert colour("port-thuan-an") == sea.ZONE_STYLES["port"].fill
    assert colour("storm-ban-offshore-edge") == sea.ZONE_STYLES["storm_ban"].line  # amber
    assert "sea-boundary-tth" not in by_name  # the boundary is only an outline...
    assert by_name["sea-boundary-tth-edge"]["paint"]["line-dasharray"]  # ...and dashed
    assert colour("land") == sea.LAND and "coastline-coast" in by_name
    # a zone's fill and its outline read one source
    assert by_name["port-thuan-an"]["source"] == by_name["port-thuan-an-edge"]["source"]
    names = [layer["metadata"]["name"] for layer in layers]  # land, ports above other zones, coast on top
    assert names.index("land") < names.index("sea-boundary-tth-edge") < names.index("port-thuan-an")
    assert names[-1].endswith("-coast")
    centre, zoom = fig["layout"]["map"]["center"], fig["layout"]["map"]["zoom"]
    assert 107.4 < centre["lon"] < 108.4 and 16.0 < centre["lat"] < 17.0 and 8 < zoom < 11


def test_tiles_when_a_tile_url_is_configured() -> None:
    web = SimpleNamespace(map_tiles_url="https://tiles.example.org/{z}/{x}/{y}.png",
                          map_tiles_attribution="© example")
    url, attribution = sea.tile_source(SimpleNamespace(web=web))  # type: ignore[arg-type]
    style = sea.map_style(url, attribution)
    assert style["sources"]["tiles"] == {"type": "raster", "tiles": [url], "tileSize": 256, "maxzoom": 19,
                                         "attribution": "© example"}
    assert [layer["id"] for layer in style["layers"]] == ["sea", "tiles"]
    assert sea.tile_source(load_settings(DEFAULT_CONFIG)) == (None, "")  # the sample city runs offline
    view = sea.SeaView.build(None, load_settings(DEFAULT_CONFIG))
    sources, tiled = sea.zone_layers(view.zones, view.coast, tiles=True)
    tiled_names = [layer["metadata"]["name"] for layer in tiled]
    assert tiled_names and all(not n.endswith("-coast") and n != "land" for n in tiled_names)
    style = sea.map_style(url, attribution, (sources, tiled))
    assert [layer["id"] for layer in style["layers"][:2]] == ["sea", "tiles"]  # the zones over the tiles


def test_fit_view() -> None:
    centre, zoom = fit_view((107.0, 16.0, 108.0, 17.0), (1000, 1000), pad=0.0)
    assert centre["lon"] == 107.5 and 16.49 < centre["lat"] < 16.51
    def y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    merc = y(17) - y(16)
    assert zoom == pytest.approx(math.log2(1000 / 512 / (merc / (2 * math.pi))), abs=0.01)  # latitude decides
    _, wide = fit_view((100.0, 16.0, 110.0, 16.1), (1000, 1000), pad=0.0)
    assert wide == pytest.approx(math.log2(1000 / 512 * 36), abs=0.01)  # longitude decides


def test_vessel_states_icons_and_trace() -> None:
    port = box(107.60, 16.55, 107.66, 16.59)
    now = T0
    fresh = now - timedelta(seconds=30)
    vessels = (
        _vessel(1, time=fresh),  # moving
        _vessel(2, time=fresh, sog=0.8, nav_status=7, alerts_open=2, alert_severity="warning",
                alert_detectors=("encounter", "loitering")),  # slow at sea, in alert
        _vessel(3, time=fresh, lat=16.56, lon=107.63, sog=0.0, heading=None),  # inside the port zone
        _vessel(4, time=fresh, nav_status=5, sog=0.0, heading=None, cog=0.0),  # moored outside a zone
        _vessel(5, time=now - timedelta(minutes=40), alerts_open=1, alert_severity="critical",
                alert_detectors=("ais_gap",)),  # silent
        _vessel(6, time=fresh, sog=None, cog=None, heading=None, name=None, simulated=False),  # no course
    )
    rows = sea.classify(vq.SeaSnapshot(as_of=now, vessels=vessels), port)
    assert [r.state for r in rows] == ["moving", "slow", "port", "port", "stale", "moving"]
    assert [r.icon for r in rows] == ["a-mov", "a-slow-warn", "d-port", "d-port", "a-lost-crit", "d-mov"]
    trace = sea.vessel_trace(rows, now)
    assert trace["type"] == "scattermap" and trace["marker"]["allowoverlap"]
    assert [cd[0] for cd in trace["customdata"][-2:]] == [5, 2]  # those in alert are drawn last, on top
    assert trace["marker"]["symbol"][-1] == "a-slow-warn" and trace["marker"]["angle"][-1] == 44
    lons = _decode(trace["lon"])
    assert len(lons) == 6 and abs(lons[-1] - 107.80) < 1e-5
    hover = {cd[0]: cd for cd in trace["customdata"]}
    assert hover[2][2] == " · SIMULATED" and "Encounter at sea · Loitering" in hover[2][7]
    assert hover[6][1:3] == ["6", ""] and hover[6][7] == ""
    assert hover[1][3:7] == ["moving", "6.0 kn", "044°", "30 s ago"]
    assert "%{customdata[1]}" in trace["hovertemplate"]
    items = sea.alert_items(rows)
    assert [i.id["mmsi"] for i in items] == ["5", "2"]  # critical first
    assert sea.simulated_note(rows) == "5 of 6 vessels SIMULATED (names SIM …): not real boats"


def test_hover_text_is_escaped() -> None:
    rows = sea.classify(vq.SeaSnapshot(T0, (_vessel(7, name="<img src=x onerror=alert(1)>", time=T0),)), None)
    name = sea.vessel_trace(rows, T0)["customdata"][0][1]
    assert "<img" not in name and "&lt;img" in name


def test_tracks_are_one_geojson_multilinestring() -> None:
    tracks = vq.Tracks(since=T0, until=T0, budget=100, buckets=10, points_in_window=None, lines=(
        vq.TrackLine(1, (107.0, 107.1, 107.2), (16.0, 16.1, 16.2)),
        vq.TrackLine(2, (108.0,), (17.0,)),  # a single point draws no line
        vq.TrackLine(3, (107.5, 107.612345678), (16.5, 16.6)),
    ))
    doc = json.loads(sea.track_geojson(tracks))
    assert doc["geometry"]["type"] == "MultiLineString"
    assert doc["geometry"]["coordinates"] == [[[107.0, 16.0], [107.1, 16.1], [107.2, 16.2]],
                                              [[107.5, 16.5], [107.61235, 16.6]]]
    empty = vq.Tracks(since=T0, until=T0, budget=100, buckets=10, points_in_window=None, lines=())
    assert json.loads(sea.track_geojson(empty))["geometry"]["coordinates"] == []


def test_selection_breaks_the_track_where_the_vessel_was_silent() -> None:
    points = [vq.TrackPoint(T0 + timedelta(minutes=m), 16.0 + m / 1000, 107.0, 5.0, 90.0, 90, 0)
              for m in (0, 1, 2, 60, 61)]
    d = vq.VesselDetails(as_of=T0 + timedelta(minutes=62), since=T0, vessel=_vessel(), track=tuple(points),
                         track_truncated=False, alerts=())
    silent, track, ring = sea.selection_traces(d, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert silent["name"] == "silent" and silent["lat"][:2] == [points[2].lat, points[3].lat]
    assert track["lat"][3] is None and len(track["lat"]) == 6
    assert "15:02" in track["hovertext"][2]  # local time of the city
    assert ring["marker"]["symbol"] == "select"


def test_labels() -> None:
    assert sea.ship_type_label(30) == "fishing" and sea.ship_type_label(74) == "cargo"
    assert sea.ship_type_label(None) == "—"
    assert sea.fmt_position(16.5, 107.25) == "16.5000° N, 107.2500° E"
    settings = load_settings(DEFAULT_CONFIG)
    assert 2000 <= sea.refresh_ms(settings) <= 5000 and sea.track_refresh_ms(settings) >= 10_000
    assert sea.vessel_refresh_ms(settings, 40) == sea.refresh_ms(settings)
    assert sea.vessel_refresh_ms(settings, 2000) == 5000


# --------------------------------------------------------------------------- the page of a running demo


@pytest.fixture
def sea_browser() -> Iterator[object]:
    """Headless Chromium that logs every network request and cannot resolve any host but 127.0.0.1."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is required in CI (apt-get install chromium chromium-driver)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="ioc-chromium-") as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = str(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", "--window-size=1920,1080",
                    "--enable-unsafe-swiftshader",  # software WebGL where there is no GPU (CI)
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    f"--user-data-dir={profile}"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
        try:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()  # ends the chromedriver and the Chromium it started, nothing else


def _demo_config(tmp: Path) -> Path:
    """The Huế sample configuration, with the fleet's history cut to 4.6 h and no cameras.

    With the sample's 13 h of history every boat is back in port and every scenario
    alert resolved when the demo starts; 4.6 h in, the fleet is at sea and the scenario's
    loiterers, encounter and dark boat are in alert (see ``ingest/vessels/simulator.py``).
    """
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^backfill_hours = [0-9.]+$", "backfill_hours = 4.6", text)
    assert n == 1, "the sample configuration no longer sets the fleet's backfill_hours"
    return sample_config(tmp, cameras=False, text=text)


_MAP_STATE_JS = """
const gd = document.querySelector('#sea-map .js-plotly-plot');
if (!gd || !gd._fullData) { return null; }
const sub = gd._fullLayout.map && gd._fullLayout.map._subplot;
const vessels = gd._fullData.find(t => t.name === 'vessels');
const selected = gd._fullData.find(t => t.name === 'selected track');
return {
    vessels: vessels && vessels.lon ? vessels.lon.length : 0,
    ringed: vessels && vessels.marker && Array.isArray(vessels.marker.symbol)  // mid-redraw: not yet
        ? vessels.marker.symbol.filter(s => /-(crit|warn|info)$/.test(s)).length : 0,
    tracks: sub && sub.map && sub.map.getSource('sea-tracks') && sub.map.isSourceLoaded('sea-tracks')
        ? sub.map.querySourceFeatures('sea-tracks').length : 0,
    selected: selected && selected.lon ? selected.lon.length : 0,
    zoom: sub && sub.map ? sub.map.getZoom() : null,
    loaded: !!(sub && sub.map && sub.map.loaded()),
    images: sub && sub.map ? sub.map.listImages().length : 0,
};
"""


@pytest.mark.browser
def test_sea_map_of_a_running_demo(sea_browser, tmp_path: Path) -> None:  # noqa: ANN001
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = sea_browser
    started = time.monotonic()
    with running_demo("--config", str(_demo_config(tmp_path))) as demo:
        url = demo.url
        driver.get_log("performance")  # forget the browser's own start page
        driver.get(url + "sea/?lang=en")  # the Huế config speaks Vietnamese
        driver.execute_script("window.__seaNoReload = true;")
        wait = WebDriverWait(driver, HANG_GUARD_S, poll_frequency=0.5)  # a guard against a hang only

        # the vessels are drawn: the header counts them, the map holds as many markers, icons loaded
        count = wait.until(lambda d: int(re.sub(r"\D", "", d.execute_script(
            "const e = document.querySelector('.sea-count-vessels'); return e ? e.innerText : '';") or "0"))
            or None)
        state = wait.until(lambda d: (s := d.execute_script(_MAP_STATE_JS)) and s["vessels"] and s["loaded"]
                           and s["tracks"] and s)
        assert state["vessels"] == count >= 6
        base_zoom = state["zoom"]
        assert state["images"] >= len(sea.sprite(1)[0])  # the sprite of vessel arrows reached the map

        # vessels in alert: listed in the side panel and ringed on the map
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sea-alert-list .sea-alert-item"))
        def listed() -> list[dict]:
            return driver.execute_script(
                "return Array.from(document.querySelectorAll('#sea-alert-list .sea-alert-item')).map(e => "
                "({mmsi: e.dataset.mmsi, name: e.querySelector('.sea-item-name').innerText,"
                " text: e.innerText}));")

        # the list and the map's rings come from two callbacks: while the demo raises new alerts one can
        # be a refresh ahead of the other, so wait until both show the same moment
        def consistent(_d: object) -> tuple[dict, list[dict]] | None:
            state, items = driver.execute_script(_MAP_STATE_JS), listed()
            return (state, items) if state and items and state["ringed"] >= len(items) else None

        state, items = wait.until(consistent)
        assert all(i["mmsi"].isdigit() for i in items)
        assert state["ringed"] >= len(items)  # an encounter rings both vessels
        assert any("SIM" in i["text"] for i in items)  # the simulated fleet says so

        # the operator zooms in; the refreshes keep that zoom
        driver.execute_script(  # count the map's redraws, and what they set again, from here on
            "const gd = document.querySelector('#sea-map .js-plotly-plot'); window.__seaDraws = 0;"
            "gd.on('plotly_afterplot', () => { window.__seaDraws += 1; });"
            "const m = gd._fullLayout.map._subplot.map; window.__seaRebuilt = [];"
            "for (const name of ['setStyle', 'addSource', 'removeSource', 'addLayer', 'removeLayer']) {"
            "  const f = m[name].bind(m);"
            "  m[name] = (...a) => {"
            "    window.__seaRebuilt.push(name + ' ' + JSON.stringify(a[0]).slice(0, 40));"
            "    return f(...a); }; }"
            "m.jumpTo({zoom: 11.25});")
        wait.until(lambda d: d.execute_script("return window.__seaDraws;") >= 3)  # three refreshes later
        assert abs(driver.execute_script(_MAP_STATE_JS)["zoom"] - 11.25) < 0.01
        # a refresh moves the vessels only: the zones and the coast are drawn, and stay as they are
        # (plotly's layout layers were removed and added again on every refresh), and symbols do not
        # fade (each fade drew several more frames)
        rebuilt, shipped, fade = driver.execute_script(
            "const m = document.querySelector('#sea-map .js-plotly-plot')._fullLayout.map._subplot.map;"
            "const shipped = m.getStyle().layers.filter(l => l.id.startsWith('shipped-'));"
            "return [window.__seaRebuilt, shipped.length, m._fadeDuration];")
        assert rebuilt == [] and shipped >= 10 and fade == 0, (rebuilt, shipped, fade)
        # ...until "Fit view" brings back the whole sea area
        driver.execute_script("document.getElementById('sea-reset').click();")
        zooms: list[float] = []  # what the map showed meanwhile, for the message if it never fits

        def fitted(d: object) -> bool:
            zooms.append(driver.execute_script(_MAP_STATE_JS)["zoom"])
            return abs(zooms[-1] - base_zoom) < 0.05

        try:
            wait.until(fitted)
        except TimeoutException:
            raise AssertionError(f"Fit view: zoom {base_zoom} never back: {zooms[:3]}…{zooms[-3:]}") from None

        # a click on a vessel in alert opens its details and draws its full track
        first = items[0]
        driver.execute_script(
            "document.querySelector(`#sea-alert-list .sea-alert-item[data-mmsi='${arguments[0]}']`).click();",
            first["mmsi"])
        wait.until(lambda d: d.execute_script(
            "const e = document.getElementById('sea-details'); return e && !e.classList.contains('hidden') &&"
            " document.querySelector('.sea-details-head') &&"
            " document.querySelector('.sea-details-head').dataset.mmsi === arguments[0];", first["mmsi"]))
        details = driver.execute_script("return document.getElementById('sea-details').innerText;")
        assert first["mmsi"] in details and "SIMULATED" in details and "last seen" in details.lower()
        assert first["name"] in details
        state = wait.until(lambda d: (s := d.execute_script(_MAP_STATE_JS)) and s["selected"] > 1 and s)
        wait.until(lambda d: d.execute_script(  # the map has settled on the selected vessel
            "const m = document.querySelector('#sea-map .js-plotly-plot')._fullLayout.map._subplot.map;"
            "return m.loaded() && !m.isMoving();"))
        assert driver.execute_script("return window.__seaNoReload === true;")

        # nothing was asked of any host but the demo's own
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        requested = [r["params"]["request"]["url"] for r in requests
                     if r["method"] == "Network.requestWillBeSent"]
        assert any("/sea/_map/sprite" in u for u in resources)
        foreign = [u for u in resources + requested
                   if not u.startswith((origin + "/", "blob:", "data:", "chrome:", "about:"))]
        assert not foreign, foreign
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors

        # the console's link to a vessel (``/sea?mmsi=…``, no slash) opens the map with its details
        linked = items[-1]["mmsi"]
        driver.get(f"{url}sea?mmsi={linked}&lang=en")
        wait.until(lambda d: d.execute_script(
            "const h = document.querySelector('#sea-details:not(.hidden) .sea-details-head');"
            "return h && h.dataset.mmsi === arguments[0];", linked))
        assert "/sea/?mmsi=" in driver.current_url

        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "sea-map.png"))
    assert demo.returncode == 0, "".join(demo.lines[-20:])
    print(f"sea map browser test: {time.monotonic() - started:.1f} s")


# --------------------------------------------------------------------------- routes and callbacks, real store


def _post(client: object, app: object, first_output: str, inputs: list[dict], state: list[dict],
          changed: str) -> dict:
    """Post a callback as dash-renderer does; the decoded response."""
    key = next(k for k in app.callback_map if first_output in k)  # type: ignore[attr-defined]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
               for o in key.strip(".").split("...")]
    resp = client.post("/sea/_dash-update-component", json={  # type: ignore[attr-defined]
        "output": key, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
        "changedPropIds": [changed], "state": state})
    assert resp.status_code in (200, 204), resp.data[:300]
    return json.loads(resp.data)["response"] if resp.status_code == 200 else {}


def test_page_routes_and_callbacks_on_a_store(pg_plain) -> None:  # noqa: ANN001
    from conftest import migrated_database
    from flask import Flask

    from ioc.feeds.vessels.records import VesselPosition, VesselStatic
    from ioc.store.database import open_store
    from ioc.store.writer import StoreWriter

    store = open_store(migrated_database(pg_plain), pool_max=4, want_timescaledb=False)
    try:
        with store.pool.connection() as conn:
            now = conn.execute("SELECT now()").fetchone()[0]
        w = StoreWriter(store.pool, store.caps)
        w.write([VesselPosition(time=now - timedelta(minutes=30 - i), source_id="999100001", mmsi=999100001,
                                lat=16.70 + i / 1000, lon=107.80 + (i % 2) / 500, sog=4.0, cog=0.0, heading=0,
                                nav_status=0, simulated=True) for i in range(30)])  # zig-zag: all 30 kept
        w.write([VesselStatic(time=now, source_id="999100001", mmsi=999100001, name="SIM TA-01",
                              simulated=True)])
        server = Flask("t")
        view = sea.SeaView.build(store.pool, load_settings(DEFAULT_CONFIG))
        app = sea.attach(server, view)
        client = server.test_client()
        client.set_cookie("ioc_lang", "en")  # the Huế config speaks Vietnamese; this screen asked for English
        assert client.get("/sea/").status_code == 200
        assert client.get("/sea").status_code == 308
        assert json.loads(client.get("/sea/_map/sprite@2x.json").data)["select"]["pixelRatio"] == 2
        assert client.get("/sea/_map/sprite.png").data.startswith(b"\x89PNG")
        glyphs = client.get("/sea/_map/glyphs/Open%20Sans%20Regular,Arial%20Unicode%20MS%20Regular/0-255.pbf")
        assert glyphs.status_code == 200 and glyphs.data == b""
        doc = json.loads(client.get("/sea/_map/tracks.geojson?hours=3").data)
        assert len(doc["geometry"]["coordinates"]) == 1 and len(doc["geometry"]["coordinates"][0]) == 30
        assert json.loads(client.get("/sea/_map/tracks.geojson?hours=nonsense").data)["type"] == "Feature"

        # the tick: one vessel drawn, counted, nothing in alert
        tick = _post(client, app, "sea-vessels.data",
                     [{"id": "sea-tick", "property": "n_intervals", "value": 1}],
                     [{"id": "sea-list-sig", "property": "data", "value": None},
                      {"id": "sea-options-sig", "property": "data", "value": None}], "sea-tick.n_intervals")
        markers = json.loads(tick["sea-vessels"]["data"])  # encoded once for every screen
        trace = markers["traces"][0]
        assert trace["customdata"][0][:2] == [999100001, "SIM TA-01"]
        assert markers["count"] == 1
        assert tick["sea-alert-count"]["children"] == "none"
        assert tick["sea-search"]["options"] == [{"label": "SIM TA-01 · 999100001", "value": 999100001}]
        # the same list again is not sent again
        sigs = [{"id": "sea-list-sig", "property": "data", "value": tick["sea-list-sig"]["data"]},
                {"id": "sea-options-sig", "property": "data", "value": tick["sea-options-sig"]["data"]}]
        tick_2 = [{"id": "sea-tick", "property": "n_intervals", "value": 2}]
        again = _post(client, app, "sea-vessels.data", tick_2, sigs, "sea-tick.n_intervals")
        assert "sea-alert-list" not in again and "sea-search" not in again

        # the tracks: a URL of the GeoJSON, shared by every screen for a few seconds
        tracks = _post(client, app, "sea-tracks.data",
                       [{"id": "sea-track-tick", "property": "n_intervals", "value": 1},
                        {"id": "sea-hours", "property": "value", "value": 3}], [], "sea-hours.value")
        url = tracks["sea-tracks"]["data"]["url"]
        assert url.startswith("/sea/_map/tracks.geojson?hours=3&v=") and "30 points" in \
            tracks["sea-track-note"]["children"]
        assert sea.track_set(view, 3).url == url  # cached: the same version

        # a click on the map selects the vessel under it; its details come with its track
        clicked = _post(client, app, "sea-selected.data",
                        [{"id": "sea-map", "property": "clickData", "value": {"points": [{"customdata": trace[
                            "customdata"][0]}]}},
                         [],  # no vessel in alert listed: the pattern matches nothing
                         {"id": "sea-search", "property": "value", "value": None},
                         {"id": "sea-close", "property": "n_clicks", "value": 0},
                         {"id": "sea-url", "property": "search", "value": ""}],
                        [{"id": "sea-selected", "property": "data", "value": {"mmsi": None, "seq": 0}}],
                        "sea-map.clickData")
        selected = clicked["sea-selected"]["data"]
        assert selected == {"mmsi": 999100001, "seq": 1, "focus": False}
        details = _post(client, app, "sea-details-body.children",
                        [{"id": "sea-selected", "property": "data", "value": selected},
                         {"id": "sea-tick", "property": "n_intervals", "value": 3},
                         {"id": "sea-hours", "property": "value", "value": 1}], [], "sea-selected.data")
        traces = details["sea-selection"]["data"]["traces"]
        assert [t["name"] for t in traces] == ["selected track", "selected"] and len(traces[0]["lat"]) == 30
        assert "SIM TA-01" in json.dumps(details["sea-details-body"]["children"])
    finally:
        store.close()


def test_tracks_past_their_age_are_served_while_one_refresh_builds_the_next(pg_plain) -> None:  # noqa: ANN001
    """No screen waits on the track query once a set exists: a set past its age is served at once
    while a single background refresh builds the next; a set far past it (the store not answering
    refreshes) is rebuilt in the request, so a failing store is seen, not hidden behind old tracks.
    The page's mount makes the fleet's tick and the default tracks before any screen asks."""
    from conftest import migrated_database

    from dashboards.i18n import page_language
    from dashboards.sea import callbacks as cb
    from dashboards.sea.style import TRACK_CACHE_S, TRACK_STALE_PERIODS
    from ioc.feeds.vessels.records import VesselPosition
    from ioc.store.database import open_store
    from ioc.store.writer import StoreWriter
    from tests.waiting import wait_for

    store = open_store(migrated_database(pg_plain), pool_max=4, want_timescaledb=False)
    try:
        with store.pool.connection() as conn:
            now = conn.execute("SELECT now()").fetchone()[0]
        w = StoreWriter(store.pool, store.caps)

        def positions(mmsi: int) -> list[VesselPosition]:
            return [VesselPosition(time=now - timedelta(minutes=30 - i), source_id=str(mmsi), mmsi=mmsi,
                                   lat=16.70 + i / 1000, lon=107.80 + (i % 2) / 500, sog=4.0, cog=0.0,
                                   heading=0, nav_status=0, simulated=True) for i in range(30)]

        def age(shared: object, key: object, seconds: float) -> None:
            began, value = shared._kept[key]  # type: ignore[attr-defined]
            shared._kept[key] = (began - seconds, value)  # type: ignore[attr-defined]

        w.write(positions(999100001))
        view = sea.SeaView.build(store.pool, load_settings(DEFAULT_CONFIG))
        cb.warm_page(view).join()  # what mounting the page starts: the first screen finds it made
        assert view.fleet.reads == 1 and view.tracks.reads == 1
        lang = page_language(view.settings)
        tick = cb.fleet_tick(view, lang)
        assert json.loads(tick.markers)["count"] == 1
        # a worker's sea screens may ask less often than the read's 1 s age: 3 s on, the tick is served
        # at once (one background read makes the next), not read in the request
        age(view.fleet, ("vessels", lang), 3.0)
        assert cb.fleet_tick(view, lang) is tick
        wait_for(lambda: cb.fleet_tick(view, lang) is not tick, "the fleet's background read")
        first = cb.track_set(view, 3)
        assert (first.vessels, first.points) == (1, 30)

        w.write(positions(999100002))
        age(view.tracks, 3, TRACK_CACHE_S + 1)
        assert cb.track_set(view, 3) is first  # served at once, one background read makes the next
        refreshed = wait_for(lambda: s if (s := cb.track_set(view, 3)) is not first else None,
                             "the background refresh")
        assert (refreshed.vessels, refreshed.points) == (2, 60) and refreshed.version > first.version
        assert view.tracks.reads >= 2 and refreshed.url != first.url
        # a screen that got the first set's URL and note loads that set, not the newer one (its note
        # would say the first's count beside the newer's lines); a URL naming no kept set gets the latest
        assert cb.track_set_named(view, 3, first.version) is first
        assert cb.track_set_named(view, 3, None) is refreshed
        assert cb.track_set_named(view, 3, 10**6) is refreshed

        # far past its age (refreshes failing): the request itself queries, and sees the store's error
        age(view.tracks, 3, TRACK_CACHE_S * TRACK_STALE_PERIODS + 1)
        store.pool.close()
        with pytest.raises(Exception, match="(?i)pool|closed"):
            cb.track_set(view, 3)
    finally:
        store.close()


def test_the_tick_signatures_are_the_same_in_every_worker_process() -> None:
    """A screen sends back the signature of the alert list and search options it has; its next tick
    may reach another gunicorn worker, which must compute the same one, or it resends 2,000 options."""
    import subprocess
    import sys

    from dashboards.sea.callbacks import signature

    names = [(574000001, "TTH 90001 TS"), (574000002, "Huế 02")]
    code = ("import sys, json; from dashboards.sea.callbacks import signature; "
            "print(signature([tuple(n) for n in json.loads(sys.argv[1])]))")
    root = Path(__file__).resolve().parents[1]
    got = {subprocess.run([sys.executable, "-c", code, json.dumps(names)], cwd=root, check=True, text=True,
                          capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
           for seed in ("1", "2")}
    assert got == {signature(names)}
    assert signature(names[:1]) != signature(names)
