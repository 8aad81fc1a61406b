"""Environment feed against hostile input: future and overflowing times, huge numbers, looping
nextLinks, credential leaks, slow servers, Retry-After, unbounded state, implausible values and
large or malformed CSV files (issue 9, item 4); one malformed answer among good ones, refused
cross-origin redirects and nextLinks, bursts longer than ``max_pages`` pages, and two readings of
one sensor in one answer.

No mocks: the pollers talk to real HTTP servers on 127.0.0.1 (two of them, on two ports, where
another origin is needed), the worker publishes on the real in-process bus, CSV files are written
to a temporary directory.
"""

from __future__ import annotations

import gzip
import json
import threading
import tomllib
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ingest.environment import (
    CsvReplaySource,
    EnvironmentWorker,
    FeedConfigError,
    OpenAqSource,
    SensorThingsSource,
    build_source,
)
from ingest.environment.base import (
    MAX_REMEMBERED,
    BadRecord,
    ReadingChecks,
    Target,
    parse_time,
    parse_value,
)
from ingest.environment.csv_replay import CsvFormatError
from ingest.environment.http import new_session, retry_after
from ioc.bus.memory import MemoryBus
from ioc.config import DEFAULT_CONFIG, EnvironmentSettings, FeedSettings, MetricLimits, Settings
from ioc.events import decode
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND

READINGS = TOPIC_BY_KIND["environment.reading"]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PM25 = Target(station="hue-air-dongba", metric="pm25", unit="µg/m³")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def hue_settings() -> Settings:
    return Settings(**tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")))


def read_all(bus: MemoryBus, topics: list[str], group: str) -> list[Any]:
    sub = bus.subscribe(topics, group)
    out = []
    while batch := sub.poll(10_000, timeout=0.05):
        out.extend(batch)
    sub.commit()
    sub.close()
    return out


def letters(bus: MemoryBus, group: str = "dl") -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in read_all(bus, [DEAD_LETTERS], group)]


def readings(bus: MemoryBus, group: str = "r") -> list[Any]:
    return [decode(m.value) for m in read_all(bus, [READINGS], group)]


def local_session() -> requests.Session:
    session = new_session()
    session.trust_env = False  # never through a proxy to 127.0.0.1
    return session


# -- real local HTTP servers -------------------------------------------------------------
Route = Callable[[BaseHTTPRequestHandler, dict[str, list[str]]], None]


@dataclass
class Server:
    """A local HTTP server: ``routes[path](handler, query)`` answers; every request is recorded."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)

    def on(self, path: str, status: int, body: bytes | str, headers: dict[str, str] | None = None) -> None:
        self.routes[path] = lambda h, q: reply(h, status, body, headers)

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)


def reply(
    handler: BaseHTTPRequestHandler, status: int, body: bytes | str, headers: dict[str, str] | None = None
):
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def serve() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append((parts.path, query, dict(self.headers)))
            route = state.routes.get(parts.path)
            if route is None:
                reply(self, 404, b'{"detail":"Not Found"}')
            else:
                route(self, query)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as state:
        yield state


@pytest.fixture
def other_server() -> Iterator[Server]:
    """A second server: another port is another origin."""
    with serve() as state:
        yield state


def latest(items: list[tuple[Any, str, Any]]) -> str:
    """A /v3/locations/{id}/latest answer as OpenAQ v3 sends it."""
    results = [
        {"datetime": {"utc": utc, "local": utc}, "value": value, "sensorsId": sensor, "locationsId": 9001}
        for sensor, utc, value in items
    ]
    return json.dumps({"meta": {"name": "openaq-api", "found": len(results)}, "results": results})


LATEST = "/v3/locations/9001/latest"


def openaq(base: str, sensors: dict[int, Target] | None = None, **kwargs: Any) -> OpenAqSource:
    kwargs.setdefault("checks", ReadingChecks.from_settings(hue_settings()))
    return OpenAqSource(
        base,
        [9001],
        sensors or {101: PM25},
        poll_seconds=0,
        session=local_session(),
        now=lambda: T0,
        **kwargs,
    )


def obs(i: int, when: str, result: Any) -> dict[str, Any]:
    return {"@iot.id": i, "phenomenonTime": when, "result": result}


def minute(m: int) -> str:
    return f"2025-03-01T07:{m:02d}:00.000Z"


def sta_page(items: list[dict[str, Any]], next_link: str | None = None) -> str:
    body: dict[str, Any] = {"value": items}
    if next_link:
        body["@iot.nextLink"] = next_link
    return json.dumps(body)


def sensorthings(
    base: str, datastreams: dict[int | str, Target] | None = None, **kw: Any
) -> SensorThingsSource:
    kw.setdefault("checks", ReadingChecks.from_settings(hue_settings()))
    water = Target(station="hue-river-kimlong", metric="water_level", unit="m")
    return SensorThingsSource(
        base, datastreams or {7: water}, poll_seconds=0, session=local_session(), now=lambda: T0, **kw
    )


OBS7 = "/Datastreams(7)/Observations"


# -- (a) times far in the future -----------------------------------------------------------
def test_openaq_future_time_is_a_dead_letter_and_does_not_silence_the_sensor(server: Server) -> None:
    items: list[tuple[Any, str, Any]] = [(101, "2999-01-01T00:00:00Z", None)]
    server.routes[LATEST] = lambda h, q: reply(h, 200, latest(items))
    bus = MemoryBus()
    worker = EnvironmentWorker(openaq(server.base), bus.publisher(), feed_name="oaq")
    assert worker.step(at(0)) == 0
    assert worker.health["dead_letters"] == 1
    items[:] = [(101, "2999-01-01T00:00:00Z", None), (101, "2025-03-01T07:10:00Z", 30.0)]
    assert worker.step(at(1)) == 1  # the real reading still comes
    items[:] = [(101, "2999-01-01T00:00:00Z", None), (101, "2025-03-01T07:20:00Z", 31.0)]
    assert worker.step(at(2)) == 1
    assert worker.health["dead_letters"] == 1  # the same bad item: one dead letter
    assert [r.value for r in readings(bus)] == [30.0, 31.0]
    [letter] = letters(bus)
    assert "after it was received" in letter["reason"] and "2999" in letter["payload"]


def test_a_little_clock_skew_is_accepted_more_is_not() -> None:
    checks = ReadingChecks(EnvironmentSettings(max_future_seconds=300))
    checks.check_time(T0 + timedelta(seconds=299), T0)
    with pytest.raises(BadRecord, match="after it was received"):
        checks.check_time(T0 + timedelta(seconds=301), T0)


def test_sensorthings_future_time_is_rejected_before_it_moves_last_seen(server: Server) -> None:
    page = [obs(1, minute(1), 1.0)]
    server.routes[OBS7] = lambda h, q: reply(
        h, 200, sta_page(sorted(page, key=lambda o: o["phenomenonTime"])[::-1])
    )
    bus = MemoryBus()
    worker = EnvironmentWorker(sensorthings(server.base, top=10), bus.publisher(), feed_name="sta")
    assert worker.step(at(0)) == 1
    page.append(obs(2, "2999-06-01T00:00:00Z", 2.0))
    assert worker.step(at(1)) == 0 and worker.health["dead_letters"] == 1
    page.append(obs(3, minute(5), 3.0))
    assert worker.step(at(2)) == 1  # still polled with a filter from 07:01, not from 2999
    assert server.requests[-1][1]["$filter"] == ["phenomenonTime gt 2025-03-01T07:01:00.000Z"]
    assert worker.step(at(3)) == 0 and worker.health["dead_letters"] == 1
    assert [r.value for r in readings(bus)] == [1.0, 3.0]


# -- (b) overflows --------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_times_that_overflow_in_utc_are_bad_records(text: str) -> None:
    with pytest.raises(BadRecord, match="out of range"):
        parse_time(text)


def test_numbers_that_overflow_are_bad_records() -> None:
    with pytest.raises(BadRecord, match="too large"):
        parse_value(10**400)
    with pytest.raises(BadRecord, match="not finite"):
        parse_value("1" * 400)


def test_openaq_overflowing_items_do_not_lose_the_rest_of_the_answer(server: Server) -> None:
    body = json.loads(
        latest(
            [
                (101, "2025-03-01T07:00:00Z", 12.0),
                (102, "9999-12-31T23:59:59-01:00", 5),
                (103, "2025-03-01T07:00:00Z", 0),
            ]
        )
    )
    text = json.dumps(body).replace('"value": 0,', '"value": ' + "9" * 400 + ",")
    server.routes[LATEST] = lambda h, q: reply(h, 200, text)
    sensors = {
        101: PM25,
        102: PM25.model_copy(update={"metric": "no2"}),
        103: PM25.model_copy(update={"metric": "o3"}),
    }
    bus = MemoryBus()
    worker = EnvironmentWorker(openaq(server.base, sensors), bus.publisher(), feed_name="oaq")
    assert worker.step(at(0)) == 1
    assert worker.health["errors"] == 0 and worker.health["dead_letters"] == 2
    assert sorted(d["reason"].split(": ", 1)[1][:22] for d in letters(bus)) == [
        "time is out of range i",
        "value is too large: 99",
    ]


def test_sensorthings_overflowing_item_does_not_stop_the_other_datastreams(server: Server) -> None:
    server.on(OBS7, 200, sta_page([obs(1, "0001-01-01T00:00:00+01:00", 1.0)]))
    server.on("/Datastreams(8)/Observations", 200, sta_page([obs(2, minute(3), 2.5)]))
    streams: dict[int | str, Target] = {
        7: Target(station="hue-river-kimlong", metric="water_level"),
        8: Target(station="hue-river-truongtien", metric="water_level"),
    }
    bus = MemoryBus()
    worker = EnvironmentWorker(sensorthings(server.base, streams), bus.publisher(), feed_name="sta")
    assert worker.step(at(0)) == 1 and worker.health["errors"] == 0 and worker.health["dead_letters"] == 1
    assert [(r.source_id, r.value) for r in readings(bus)] == [("hue-river-truongtien", 2.5)]


def test_csv_with_an_overflowing_time_builds_and_dead_letters_the_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "time,station_id,metric,value,unit\n"
        "9999-12-31T23:59:59-01:00,hue-air-dongba,pm25,3,µg/m³\n"
        "2025-03-01T07:00:00Z,hue-air-dongba,pm25,4,µg/m³\n",
        encoding="utf-8",
    )
    settings = hue_settings()
    feed = FeedSettings(name="t", kind="csv_replay", options={"path": str(path)})
    source = build_source(feed, settings, tmp_path, now=lambda: T0)
    assert [r.value for r in source.due(T0)] == [4.0]
    [rejected] = source.take_rejects()
    assert "line 2" in rejected.reason and "out of range" in rejected.reason


def test_deeply_nested_json_is_a_dead_letter_not_a_recursion_error(server: Server) -> None:
    server.on(LATEST, 200, b"[" * 100_000)
    bus = MemoryBus()
    worker = EnvironmentWorker(openaq(server.base), bus.publisher(), feed_name="oaq")
    assert worker.step(at(0)) == 0
    assert worker.health["dead_letters"] == 1 and worker.health["errors"] == 1
    assert "nested too deeply" in worker.health["last_error"]
    assert "RecursionError" not in worker.health["last_error"]


# -- (c) nextLink loops ---------------------------------------------------------------------
def test_a_nextlink_back_to_a_page_already_read_ends_the_paging(server: Server) -> None:
    observations = [obs(i, minute(i), float(i)) for i in range(4)]

    def route(h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        newest = sorted(observations, key=lambda o: o["phenomenonTime"], reverse=True)[:4]
        skip = int(query.get("$skip", ["0"])[0])
        loop = f"{server.base}{OBS7}?$top=4&$skip={1 - skip}"  # page 0 -> page 1 -> page 0 ...
        reply(h, 200, sta_page(newest, loop))

    server.routes[OBS7] = route
    source = sensorthings(server.base, top=4, max_pages=10)
    bus = MemoryBus()
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="sta")
    assert worker.step(at(0)) == 4
    observations.extend(obs(i, minute(i), float(i)) for i in range(4, 8))
    before = server.count(OBS7)
    assert worker.step(at(1)) == 4  # not 4 per page read
    assert server.count(OBS7) - before <= 2  # the first page and the looping one; not max_pages
    values = [r.value for r in readings(bus)]
    assert values == [float(i) for i in range(8)]


# -- (d) credentials stay with their origin --------------------------------------------------
def test_sensorthings_refuses_a_nextlink_to_another_origin_and_keeps_the_pages_read(
    server: Server, other_server: Server
) -> None:
    foreign = f"{other_server.base}/page2"
    server.on(OBS7, 200, sta_page([obs(1, minute(1), 1.0), obs(2, minute(2), 2.0)], foreign))
    other_server.on("/page2", 200, sta_page([obs(3, minute(3), 3.0), obs(4, minute(4), 4.0)], foreign))
    source = sensorthings(server.base, top=2, headers={"Authorization": "Bearer s3cret"})
    source.last_seen[7] = datetime(2025, 3, 1, 6, tzinfo=UTC)  # a later poll: pages are followed
    bus = MemoryBus()
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="sta")
    assert worker.step(at(0)) == 2  # the page of the configured origin is kept
    assert server.requests[0][2].get("Authorization") == "Bearer s3cret"
    assert other_server.requests == []  # nothing at all went there: no token, no request
    assert worker.health["errors"] == 1 and worker.health["dead_letters"] == 0
    assert f"refused {foreign}" in worker.health["last_error"]
    assert source.last_seen[7] == datetime(2025, 3, 1, 7, 2, tzinfo=UTC)  # what was read, no further


def test_openaq_refuses_a_redirect_to_another_origin_and_stores_nothing_of_it(
    server: Server, other_server: Server
) -> None:
    admin = f"{other_server.base}/internal-admin"
    server.on(LATEST, 302, b"", {"Location": admin})
    other_server.on("/internal-admin", 200, b"root:x:0:0 INTERNAL-ONLY-SECRET db_password=hunter2")
    bus = MemoryBus()
    worker = EnvironmentWorker(openaq(server.base, api_key="k-123"), bus.publisher(), feed_name="oaq")
    assert worker.step(at(0)) == 0
    assert server.requests[0][2].get("X-API-Key") == "k-123"
    assert other_server.requests == []
    assert worker.health["dead_letters"] == 0 and letters(bus) == []  # its body is not stored
    assert worker.health["errors"] == 1
    assert worker.health["last_error"].startswith(f"refused {admin}: HTTP 302 from {server.base}{LATEST}")


def test_a_backslash_in_a_redirect_cannot_hide_another_origin(server: Server, other_server: Server) -> None:
    """``http://other:port\\@origin/`` names ``origin`` to urlsplit but reaches ``other`` through requests:
    the origin is read the way the request is made, so the key never goes there."""
    host_port = other_server.base.split("://", 1)[1]
    hidden = f"http://{host_port}\\@{server.base.split('://', 1)[1]}{LATEST}"
    server.on(LATEST, 302, b"", {"Location": hidden})
    other_server.routes[LATEST] = lambda h, q: reply(h, 200, latest([(101, "2025-03-01T07:00:00Z", 9.0)]))
    other_server.routes["/%5C@" + server.base.split("://", 1)[1] + LATEST] = other_server.routes[LATEST]
    source = openaq(server.base, api_key="k-123")
    assert source.due(at(0)) == []
    assert other_server.requests == []


def test_the_origin_cookie_never_reaches_another_origin(server: Server, other_server: Server) -> None:
    server.on(
        LATEST,
        302,
        b"",
        {"Set-Cookie": "session=SECRETCOOKIE; Path=/", "Location": f"{other_server.base}{LATEST}"},
    )
    other_server.on(LATEST, 200, latest([(101, "2025-03-01T07:00:00Z", 9.0)]))
    source = openaq(server.base)
    assert source.due(at(0)) == [] and other_server.requests == []
    # the same origin may still redirect (and gets its cookie back)
    server.on(LATEST, 302, b"", {"Location": "/v3/moved/latest"})
    server.on("/v3/moved/latest", 200, latest([(101, "2025-03-01T07:00:00Z", 9.0)]))
    assert [r.value for r in source.due(at(1))] == [9.0]
    assert server.requests[-1][2].get("Cookie") == "session=SECRETCOOKIE"
    assert other_server.requests == []


def test_openaq_key_follows_a_redirect_on_the_same_origin(server: Server) -> None:
    server.on(LATEST, 301, b"", {"Location": "/v3/moved/latest"})
    server.routes["/v3/moved/latest"] = lambda h, q: reply(
        h, 200 if h.headers.get("X-API-Key") == "k-123" else 401, latest([(101, "2025-03-01T07:00:00Z", 9.0)])
    )
    assert [r.value for r in openaq(server.base, api_key="k-123").due(at(0))] == [9.0]


# -- (e) deadlines and Retry-After -----------------------------------------------------------
def test_a_server_sending_one_byte_at_a_time_cannot_hold_a_poll(server: Server) -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
        + b'{"results": []}'
    )
    sent: list[int] = []
    hung_up = threading.Event()
    release = threading.Event()

    def drip(h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        try:
            for byte in response:
                h.connection.sendall(bytes([byte]))
                sent.append(byte)
                if release.wait(0.2):  # one byte every 0.2 s (the poll's deadline is 1 s)
                    return
        except OSError:
            hung_up.set()
        h.close_connection = True

    server.routes[LATEST] = drip
    source = openaq(server.base, timeout_seconds=1.0)
    worker = EnvironmentWorker(source, MemoryBus().publisher(), feed_name="oaq")
    try:
        assert worker.step(at(0)) == 0
        assert "no complete answer within 1 s" in worker.health["last_error"]
        assert len(sent) < len(response)  # it gave up long before the response was complete
        assert hung_up.wait(30)  # and hung up on the server
    finally:
        release.set()


def test_retry_after_on_429_is_honoured(server: Server) -> None:
    server.on(LATEST, 429, b'{"detail":"Too Many Requests"}', {"Retry-After": "120"})
    worker = EnvironmentWorker(
        openaq(server.base), MemoryBus().publisher(), feed_name="oaq", backoff_initial=1
    )
    assert worker.step(at(0)) == 0
    assert worker.health["retry_at"] == at(120)  # the wait asked for, not 1, 2, 4 s
    assert worker.step(at(60)) == 0 and server.count(LATEST) == 1
    server.on(LATEST, 200, latest([(101, "2025-03-01T07:00:00Z", 9.0)]))
    assert worker.step(at(120)) == 1 and server.count(LATEST) == 2


def test_retry_after_on_503_as_an_http_date(server: Server) -> None:
    assert retry_after("Sat, 01 Mar 2025 08:02:00 GMT", now=lambda: T0) == 120.0
    assert retry_after("999999999", now=lambda: T0) == 3600.0  # bounded
    assert retry_after("soon", now=lambda: T0) is None
    server.on(OBS7, 503, b"busy", {"Retry-After": "90"})
    server.on("/Datastreams(8)/Observations", 200, sta_page([]))
    streams: dict[int | str, Target] = {
        7: Target(station="hue-river-kimlong", metric="water_level"),
        8: Target(station="hue-river-truongtien", metric="water_level"),
    }
    worker = EnvironmentWorker(sensorthings(server.base, streams), MemoryBus().publisher(), feed_name="sta")
    assert worker.step(at(0)) == 0 and worker.health["retry_at"] == at(90)
    assert server.count("/Datastreams(8)/Observations") == 0  # asked to wait: no other request either


# -- (f) bounded state, one dead letter per bad item -----------------------------------------
def test_sensorthings_dead_letters_a_bad_observation_once(server: Server) -> None:
    page = [obs(1, "soon", 1.0), obs(2, minute(2), "n/a")]
    server.routes[OBS7] = lambda h, q: reply(h, 200, sta_page(page))
    bus = MemoryBus()
    worker = EnvironmentWorker(sensorthings(server.base), bus.publisher(), feed_name="sta")
    for k in range(4):
        worker.step(at(k))
    assert worker.health["dead_letters"] == 2
    page.append(obs(3, minute(3), 3.0))
    assert worker.step(at(5)) == 1 and worker.health["dead_letters"] == 2


def test_openaq_memory_of_unmapped_sensors_and_bad_items_is_bounded(server: Server) -> None:
    poll = [0]

    def route(h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        base = poll[0] * 3000
        items = [(1000 + base + i, "2025-03-01T07:00:00Z", 1.0) for i in range(3000)]  # unmapped sensors
        items += [(f"x{base + i}", "2025-03-01T07:00:00Z", 1.0) for i in range(3000)]  # bad ids
        poll[0] += 1
        reply(h, 200, latest(items))

    server.routes[LATEST] = route
    source = openaq(server.base)
    for k in range(3):
        source.due(at(k))
        assert len(source.take_rejects()) == 3000  # every new bad item once
    assert len(source.ignored_sensors) <= MAX_REMEMBERED
    assert len(source._rejected) <= MAX_REMEMBERED


# -- (g) plausibility -------------------------------------------------------------------------
def test_out_of_range_values_are_bad_quality_and_sentinels_are_dead_letters(server: Server) -> None:
    items = [
        (101, "2025-03-01T07:00:00Z", -3.0),  # negative PM2.5
        (102, "2025-03-01T07:00:00Z", -999),  # the classic "no data"
        (103, "2025-03-01T07:00:00Z", 55.0),
    ]
    server.on(LATEST, 200, latest(items))
    sensors = {
        101: PM25,
        102: PM25.model_copy(update={"metric": "pm10"}),
        103: PM25.model_copy(update={"metric": "no2"}),
    }
    bus = MemoryBus()
    worker = EnvironmentWorker(openaq(server.base, sensors), bus.publisher(), feed_name="oaq")
    assert worker.step(at(0)) == 2
    assert sorted((r.metric, r.value, r.quality) for r in readings(bus)) == [
        ("no2", 55.0, "good"),
        ("pm25", -3.0, "bad"),
    ]
    [letter] = letters(bus)
    assert "sentinel" in letter["reason"]


def test_limits_and_sentinels_are_configuration() -> None:
    settings = hue_settings()
    assert settings.environment == EnvironmentSettings()  # hue.toml spells out the defaults
    assert settings.environment.metrics["pm25"] == MetricLimits(min=0, max=1000)
    assert {"pm25", "pm10", "temperature", "relative_humidity", "co2"} <= set(settings.environment.metrics)
    custom = EnvironmentSettings(metrics={"water_level": MetricLimits(min=-5, max=15, sentinels=[99.99])})
    checks = ReadingChecks(custom)
    with pytest.raises(BadRecord, match="sentinel"):
        checks.reading(time=T0, station="g", metric="water_level", value=99.99)
    assert checks.reading(time=T0, station="g", metric="water_level", value=16).quality == "bad"
    assert checks.reading(time=T0, station="g", metric="pm25", value=-3).quality == "good"  # no limits set
    with pytest.raises(ValueError):
        MetricLimits(min=5, max=1)


def test_csv_rejects_implausible_rows(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "\n".join(
            [
                "time,station_id,metric,value,unit",
                "1970-01-01T00:00:00Z,hue-air-dongba,pm25,10,µg/m³",  # 2 epoch zero
                "2025-03-01T07:00:00Z,hue-air-dongba,pm25,1_000,µg/m³",  # 3 underscore
                "2025-03-01T07:00:00Z,hue-air-dongba,pm10,١٢,µg/m³",  # 4 Arabic-Indic digits
                "2025-03-01T07:00:00Z,nowhere,pm25,10,µg/m³",  # 5 not a configured station
                "2025-03-01T07:00:00Z,hue-air-dongba,pm25,-4,µg/m³",  # 6 good row, bad quality
                "2025-03-01T07:00:00Z,hue-air-dongba,pm25,-4,µg/m³",  # 7 exact repeat
                "2025-03-01T07:00:00Z,hue-air-dongba,pm25,12,µg/m³",  # 8 conflicting value
                "2025-03-01T07:00:00Z,hue-air-dainoi,pm25,12,µg/m³",  # 9 good
                "2025-03-01T07:01:00Z,hue-air-dongba,pm25,-999,µg/m³",  # 10 sentinel
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    feed = FeedSettings(name="p", kind="csv_replay", options={"path": str(path)})
    source = build_source(feed, hue_settings(), tmp_path, now=lambda: T0)
    got = source.due(T0)
    assert [(r.source_id, r.value, r.quality) for r in got] == [
        ("hue-air-dongba", -4.0, "bad"),
        ("hue-air-dainoi", 12.0, "good"),
    ]
    reasons = {int(r.reason.split(":")[0].removeprefix("line ")): r.reason for r in source.take_rejects()}
    assert sorted(reasons) == [2, 3, 4, 5, 7, 8, 10]
    assert "before 2000" in reasons[2]
    assert "not a number" in reasons[3] and "not a number" in reasons[4]
    assert "nowhere" in reasons[5] and "[[stations]]" in reasons[5]
    assert "repeats line 6" in reasons[7]
    assert "conflicts with value -4 of line 6" in reasons[8]
    assert "sentinel" in reasons[10]


def test_series_csv_rejects_repeats_once_even_when_looping(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "offset_s,station_id,metric,value,unit\n"
        "0,hue-air-dongba,pm25,10,µg/m³\n"
        "0,hue-air-dongba,pm25,11,µg/m³\n"  # conflicts
        "60,hue-air-dongba,pm25,12,µg/m³\n"
        "60,hue-air-dongba,pm25,12,µg/m³\n"  # repeats
        "0,station-x,pm25,1,µg/m³\n",  # not configured
        encoding="utf-8",
    )
    source = build_source(
        FeedSettings(name="s", kind="csv_replay", options={"path": str(path), "cadence_seconds": 1}),
        hue_settings(),
        tmp_path,
        now=lambda: T0,
    )
    assert [r.value for r in source.due(at(5))] == [10.0, 12.0] * 3
    reasons = sorted(r.reason for r in source.take_rejects())
    assert len(reasons) == 3
    assert "conflicts with value 10 of line 2" in reasons[0] and "repeats line 4" in reasons[1]
    assert "station-x" in reasons[2]
    assert source.station_ids == ["hue-air-dongba"]


# -- (h) large and malformed files ------------------------------------------------------------
def test_a_large_timestamped_csv_is_streamed(tmp_path: Path) -> None:
    rows = 100_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("time,station_id,metric,value,unit\n")
        for i in range(rows):
            when = (T0 + timedelta(seconds=i)).isoformat()
            f.write(f"{when},hue-air-dongba,pm25,{i % 500},µg/m³\n")
    tracemalloc.start()
    try:
        source = CsvReplaySource(path, now=lambda: T0)
        first = source.due(at(9))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.value for r in first] == [float(i) for i in range(10)]
    assert source.bytes_read < path.stat().st_size / 10  # the first readings before the file is read
    assert peak < 20 * 1024 * 1024
    assert len(source.due(at(999))) == 990 and not source.exhausted


def test_a_large_series_csv_is_replayed_in_bounded_memory(tmp_path: Path) -> None:
    stations = ["hue-air-dongba", "hue-air-dainoi", "hue-air-truongtien"]
    steps = 40_000
    path = tmp_path / "series.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("offset_s,station_id,metric,value,unit\n")
        for i in range(steps):
            for s in stations:
                f.write(f"{i * 60},{s},pm25,{i % 400},µg/m³\n")
    tracemalloc.start()
    try:
        source = CsvReplaySource(path, cadence_seconds=1, backfill_minutes=1, now=lambda: T0)
        history = source.backfill()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(history) == 61 * 3 and source.station_ids == sorted(stations)
    assert [r.value for r in history if r.source_id == "hue-air-dainoi"] == [float(i) for i in range(61)]
    assert peak < 20 * 1024 * 1024


def test_a_compressed_csv_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "r.csv.gz"
    path.write_bytes(gzip.compress(b"offset_s,station_id,metric,value,unit\n0,hue-air-dongba,pm25,1,ug\n"))
    feed = FeedSettings(name="gz", kind="csv_replay", options={"path": str(path)})
    with pytest.raises(FeedConfigError, match="gzip-compressed and a series is read by position"):
        build_source(feed, hue_settings(), tmp_path, now=lambda: T0)


def test_rows_with_another_delimiter_stop_the_feed(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(
        "offset_s,station_id,metric,value,unit\n"
        + "".join(f"{i};hue-air-dongba;pm25;{i};ug\n" for i in range(50)),
        encoding="utf-8",
    )
    with pytest.raises(CsvFormatError, match="rows by ';'"):
        CsvReplaySource(path, now=lambda: T0)
    # one odd row among good ones is a dead letter, not a format error
    path.write_text(
        "offset_s,station_id,metric,value,unit\n0;hue-air-dongba;pm25;1;ug\n0,hue-air-dongba,pm25,1,ug\n",
        encoding="utf-8",
    )
    source = CsvReplaySource(path, now=lambda: T0, loop=False)
    assert len(source.due(at(1))) == 1 and len(source.take_rejects()) == 1


# -- (i) one bad answer costs only its own location or datastream ------------------------------
HUGE = "9" * 5000  # more digits than Python reads as an int (ValueError, not a JSON error)


def fresh_reading(polls: list[int]) -> Route:
    """Location 9001: a new reading of sensor 101 on every poll."""

    def route(h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        polls.append(1)
        reply(h, 200, latest([(101, f"2025-03-01T07:{len(polls):02d}:00Z", float(len(polls)))]))

    return route


@pytest.mark.parametrize("bad", ["huge-number", "bad-location"])
def test_openaq_a_malformed_location_does_not_cost_the_others_their_readings(
    server: Server, bad: str
) -> None:
    polls: list[int] = []
    server.routes[LATEST] = fresh_reading(polls)
    if bad == "huge-number":
        item = f'{{"datetime":{{"utc":"2025-03-01T07:00:00Z"}},"value":{HUGE},"sensorsId":102}}'
        body = f'{{"results":[{item}]}}'
        server.on("/v3/locations/9002/latest", 200, body)
    else:
        server.on("/v3/locations/9002/latest", 302, b"", {"Location": "http://[::1/x"})
    source = OpenAqSource(
        server.base,
        [9001, 9002],
        {101: PM25, 102: PM25.model_copy(update={"metric": "no2"})},
        poll_seconds=0,
        session=local_session(),
        now=lambda: T0,
        checks=ReadingChecks.from_settings(hue_settings()),
    )
    bus = MemoryBus()
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="oaq")
    for k in range(3):
        assert worker.step(at(100 * k)) == 1  # past the backoff of the failing location
        assert source.last_seen[101][0] == datetime(2025, 3, 1, 7, k + 1, tzinfo=UTC)
    assert [r.value for r in readings(bus)] == [1.0, 2.0, 3.0]
    assert worker.health["errors"] == 3 and "/v3/locations/9002/latest" in worker.health["last_error"]
    if bad == "huge-number":
        dead = letters(bus)
        assert len(dead) == 3 and all(d["reason"].startswith("not JSON from ") for d in dead)
        assert "4300 digits" in dead[0]["reason"] and dead[0]["payload"].endswith("]}")
    else:
        assert worker.health["dead_letters"] == 0  # no body to keep: an error naming the location
        assert "Invalid IPv6 URL" in worker.health["last_error"]


def test_sensorthings_a_malformed_datastream_or_nextlink_costs_only_its_own_readings(server: Server) -> None:
    page = [obs(1, minute(1), 1.0)]
    server.routes[OBS7] = lambda h, q: reply(h, 200, sta_page(page))
    server.on(
        "/Datastreams(8)/Observations",
        200,
        f'{{"value":[{{"@iot.id":9,"phenomenonTime":"{minute(2)}","result":{HUGE}}}]}}',
    )
    streams: dict[int | str, Target] = {
        7: Target(station="hue-river-kimlong", metric="water_level"),
        8: Target(station="hue-river-truongtien", metric="water_level"),
    }
    bus = MemoryBus()
    source = sensorthings(server.base, streams, top=2)
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="sta")
    assert worker.step(at(0)) == 1 and worker.health["dead_letters"] == 1
    assert "4300 digits" in letters(bus)[0]["reason"]
    # a full page whose nextLink is not a URL: the page is kept, the link is a dead letter
    server.on("/Datastreams(8)/Observations", 200, sta_page([]))
    page[:] = [obs(2, minute(2), 2.0), obs(3, minute(3), 3.0)]  # oldest first, as asked
    server.routes[OBS7] = lambda h, q: reply(h, 200, sta_page(page, "http://[::1/x"))
    assert worker.step(at(100)) == 2
    assert worker.health["errors"] == 2 and worker.health["truncated"] == 0  # nothing can be lost
    [letter] = letters(bus)  # the one new dead letter
    assert "@iot.nextLink from" in letter["reason"] and "not a usable URL" in letter["reason"]
    assert "[::1/x" in letter["payload"]
    assert source.last_seen[7] == datetime(2025, 3, 1, 7, 3, tzinfo=UTC)
    page[:] = [obs(4, minute(4), 4.0)]
    assert worker.step(at(200)) == 1  # and the next poll goes on from what was read
    assert server.requests[-2][1]["$filter"] == ["phenomenonTime gt 2025-03-01T07:03:00.000Z"]
    assert [r.value for r in readings(bus)] == [1.0, 2.0, 3.0, 4.0]


class Fails(ReadingChecks):
    """Checks with a bug for one station (a fault in a collaborator, not in the poller)."""

    def reading(self, **kwargs: Any) -> Any:
        if kwargs["station"] == "hue-river-truongtien":
            raise KeyError("a bug")
        return super().reading(**kwargs)


def test_an_unexpected_error_costs_only_its_own_location_or_datastream(server: Server) -> None:
    checks = Fails(hue_settings().environment)
    server.on(LATEST, 200, latest([(101, "2025-03-01T07:00:00Z", 1.0)]))
    server.on("/v3/locations/9002/latest", 200, latest([(102, "2025-03-01T07:00:00Z", 2.0)]))
    buggy = Target(station="hue-river-truongtien", metric="pm25")
    oaq = OpenAqSource(
        server.base, [9002, 9001], {101: PM25, 102: buggy}, poll_seconds=0,
        session=local_session(), now=lambda: T0, checks=checks,
    )
    assert [r.value for r in oaq.due(at(0))] == [1.0]
    assert 102 not in oaq.last_seen  # what was not returned is not marked as seen
    assert oaq.take_errors() == [f"KeyError reading the answer from {server.base}/v3/locations/9002/latest: "
                                 "'a bug'"]
    server.on(OBS7, 200, sta_page([obs(1, minute(1), 1.0)]))
    server.on("/Datastreams(8)/Observations", 200, sta_page([obs(2, minute(2), 2.0)]))
    sta = sensorthings(server.base, {8: buggy, 7: PM25}, checks=checks)
    assert [r.value for r in sta.due(at(0))] == [1.0]
    assert 8 not in sta.last_seen and sta.take_errors() == ["KeyError polling Datastreams(8): 'a bug'"]


# -- (j) a burst longer than max_pages pages is read over several polls ---------------------------
def second(s: int) -> str:
    return (T0 - timedelta(hours=1) + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")


def frost(server: Server, observations: list[dict[str, Any]], honour_order: bool = True) -> Route:
    """Observations as FROST serves them: $filter gt, $orderby asc|desc, $top, $skip, nextLink."""

    def route(h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        order = query.get("$orderby", ["phenomenonTime asc"])[0]
        newest_first = order.endswith("desc") or not honour_order
        items = sorted(observations, key=lambda o: o["phenomenonTime"], reverse=newest_first)
        if "$filter" in query:
            since = datetime.fromisoformat(query["$filter"][0].removeprefix("phenomenonTime gt "))
            items = [o for o in items if datetime.fromisoformat(o["phenomenonTime"]) > since]
        top, skip = int(query["$top"][0]), int(query.get("$skip", ["0"])[0])
        link = None
        if skip + top < len(items):
            rest = {"$top": top, "$skip": skip + top, "$orderby": order, **{k: v[0] for k, v in query.items()
                                                                         if k == "$filter"}}
            link = f"{server.base}{OBS7}?" + "&".join(f"{k}={requests.utils.quote(str(v))}" for k, v in
                                                     rest.items())
        reply(h, 200, sta_page(items[skip : skip + top], link))

    return route


def test_sensorthings_a_burst_longer_than_max_pages_is_read_over_the_next_polls(server: Server) -> None:
    observations = [obs(0, second(0), 0.0)]
    server.routes[OBS7] = frost(server, observations)
    bus = MemoryBus()
    source = sensorthings(server.base, top=3, max_pages=10)
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="sta")
    assert worker.step(at(0)) == 1
    observations.extend(obs(i, second(i), float(i)) for i in range(1, 101))  # 100 new ones
    got = [worker.step(at(k)) for k in range(1, 6)]
    assert got == [30, 30, 30, 10, 0]
    assert [r.value for r in readings(bus)] == [float(i) for i in range(101)]  # all, once, in order
    assert worker.health["truncated"] == 3 and worker.feed_health().details["truncated"] == 3
    assert worker.health["errors"] == 0  # a backlog, not a failure
    assert source.last_seen[7] == datetime.fromisoformat(second(100))


def test_sensorthings_truncation_by_a_server_that_pages_newest_first_is_reported(server: Server) -> None:
    observations = [obs(0, second(0), 0.0)]
    server.routes[OBS7] = frost(server, observations, honour_order=False)
    source = sensorthings(server.base, top=3, max_pages=2)
    worker = EnvironmentWorker(source, MemoryBus().publisher(), feed_name="sta")
    assert worker.step(at(0)) == 1
    observations.extend(obs(i, second(i), float(i)) for i in range(1, 11))
    assert worker.step(at(1)) == 6  # 10..5: the server sent the newest first, 1..4 cannot be read now
    assert worker.health["truncated"] == 1 and worker.health["errors"] == 1
    assert "the pages were not oldest first" in worker.health["last_error"]
    assert "may be lost" in worker.health["last_error"]


# -- (k) two readings of one sensor in one answer ---------------------------------------------------
def test_openaq_two_readings_of_one_sensor_in_one_answer_are_both_published(server: Server) -> None:
    items: list[tuple[Any, str, Any]] = [
        (101, "2025-03-01T07:59:00Z", 2.0),  # newest first, as a server may send them
        (101, "2025-03-01T07:58:00Z", 1.0),
    ]
    server.routes[LATEST] = lambda h, q: reply(h, 200, latest(items))
    bus = MemoryBus()
    worker = EnvironmentWorker(openaq(server.base), bus.publisher(), feed_name="oaq")
    assert worker.step(at(0)) == 2
    items.insert(0, (101, "2025-03-01T08:00:00Z", 3.0))
    assert worker.step(at(1)) == 1 and worker.health["dead_letters"] == 0
    assert [(r.time.minute, r.value) for r in readings(bus)] == [(58, 1.0), (59, 2.0), (0, 3.0)]
