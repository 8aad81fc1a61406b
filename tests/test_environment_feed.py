"""Environment feed: the real sample, CSV re-timing, bad input, HTTP pollers, the worker, hue.toml.

No mocks: the sample is the committed real data, the pollers talk to a real HTTP server on
127.0.0.1, the worker publishes on the real in-process bus and a separate subscription reads back.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ingest.environment import (
    SOURCE_FACTORIES,
    CsvReplaySource,
    EnvironmentWorker,
    FeedConfigError,
    OpenAqSource,
    SensorThingsSource,
    build_source,
    dead_letter_record,
)
from ingest.environment.base import Target
from ingest.environment.csv_replay import CsvFormatError
from ingest.environment.http import new_session
from ingest.registry import check_feed_options
from ingest.vessels import feed_options as vessel_feed_options
from ioc.bus.memory import MemoryBus
from ioc.config import DEFAULT_CONFIG, FeedSettings, Settings, load_settings
from ioc.events import decode
from ioc.feeds.environment.records import EnvironmentReading
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND
from tests.publishers import DownPublisher

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_streams"
SAMPLE = SAMPLES / "environment" / "readings.csv"
READINGS = TOPIC_BY_KIND["environment.reading"]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def hue_settings() -> Settings:
    """hue.toml validated as Settings (independently of load_settings' file plumbing)."""
    return Settings(**tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")))


def write_csv(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


def read_all(bus: MemoryBus, topics: list[str], group: str) -> list[Any]:
    sub = bus.subscribe(topics, group)
    out = []
    while batch := sub.poll(10_000, timeout=0.05):
        out.extend(batch)
    sub.commit()
    sub.close()
    return out


# -- the sample --------------------------------------------------------------------------
def test_sample_is_rebuilt_byte_for_byte_from_the_river_wheel() -> None:
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLES / "environment" / "make_sample.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == SAMPLE.read_text(encoding="utf-8")
    assert SAMPLE.stat().st_size < 300_000


def test_every_sample_row_becomes_a_valid_reading_of_a_configured_station() -> None:
    source = CsvReplaySource(SAMPLE, cadence_seconds=2, loop=False, now=lambda: T0)
    readings = source.due(at(10**7))
    assert source.take_rejects() == []
    assert len(readings) == source.rows_loaded == SAMPLE.read_text().count("\n") - 1 == 3304
    assert source.exhausted
    stations = {s.id: s for s in hue_settings().stations}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in readings:
        assert decode(r.to_wire()) == r
        assert r.source_id in stations
        counts[(r.source_id, r.metric)] += 1
    assert counts[("hue-air-dainoi", "co2")] == 170
    assert counts[("hue-air-truongtien", "temperature")] == 169
    assert counts[("hue-river-kimlong", "water_flow")] == 634
    first = readings[0]
    assert (first.source_id, first.metric, first.value, first.unit) == (
        "hue-air-dainoi",
        "temperature",
        23.18,
        "°C",
    )


# -- re-timing ---------------------------------------------------------------------------
def test_backfill_is_the_recent_past_and_increasing_per_station() -> None:
    source = CsvReplaySource(SAMPLE, cadence_seconds=2, backfill_minutes=3.75, now=lambda: T0)
    history = source.backfill()
    assert history and all(T0 - timedelta(minutes=3.75) <= r.time <= T0 for r in history)
    by_series: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for r in history:
        by_series[(r.source_id, r.metric)].append(r.time)
    assert len(by_series) == 3 * 4 + 2
    for times in by_series.values():
        assert len(times) == 113  # steps 0..112 at 2 s: 224 s <= 225 s
        assert all(b - a == timedelta(seconds=2) for a, b in zip(times, times[1:], strict=False))
    assert [r.time for r in history] == sorted(r.time for r in history)


def test_due_releases_rows_as_time_advances_and_never_twice() -> None:
    source = CsvReplaySource(SAMPLE, cadence_seconds=2, backfill_minutes=3.75, now=lambda: T0)
    assert len(source.due(T0)) == 113 * 14
    assert source.due(T0) == []
    assert source.due(at(0.9)) == []  # next step is at start + 113 * 2 s = T0 + 1 s
    step = source.due(at(1))
    assert len(step) == 14 and {r.time for r in step} == {at(1)}
    assert {r.source_id for r in step} == set(source.station_ids)
    later = source.due(at(21))
    assert sorted({r.time for r in later}) == [at(s) for s in range(3, 22, 2)]
    # values are the recorded ones, in order: Kim Long's step 113 is row 113 of its segment
    rows = [line.split(",") for line in SAMPLE.read_text().splitlines()[1:]]
    kimlong = [float(v) for _, st, _, v, _ in rows if st == "hue-river-kimlong"]
    assert [r.value for r in step if r.source_id == "hue-river-kimlong"] == [kimlong[113]]


def test_original_spacing_divided_by_speed(tmp_path: Path) -> None:
    rows = [(0, 400), (960, 410), (2880, 420), (3840, 430)]
    path = write_csv(
        tmp_path / "s.csv",
        ["offset_s,station_id,metric,value,unit"] + [f"{o},st-a,co2,{v},ppm" for o, v in rows],
    )
    source = CsvReplaySource(path, speed=480, backfill_minutes=0, loop=True, now=lambda: T0)
    got = source.due(at(20))
    assert [(r.time, r.value) for r in got] == [
        (at(0), 400.0),
        (at(2), 410.0),
        (at(6), 420.0),
        (at(8), 430.0),
        (at(10), 400.0),  # wraps one median spacing (960 s / 480 = 2 s) after the last row
        (at(12), 410.0),
        (at(16), 420.0),
        (at(18), 430.0),
        (at(20), 400.0),
    ]


def test_loop_wraps_seamlessly_and_stops_without_loop(tmp_path: Path) -> None:
    lines = ["offset_s,station_id,metric,value,unit,quality"]
    lines += [f"{i * 3600},gauge-1,water_flow,{100 + i},l/s,good" for i in range(3)]
    lines += ["0,gauge-2,water_flow,7,l/s,suspect"]
    path = write_csv(tmp_path / "loop.csv", lines)
    looping = CsvReplaySource(path, cadence_seconds=10, backfill_minutes=1, loop=True, now=lambda: T0)
    got = [r for r in looping.due(at(60)) if r.source_id == "gauge-1"]
    assert [r.value for r in got] == [100, 101, 102] * 4 + [100]  # -60 s .. +60 s, every 10 s
    assert [r.time for r in got] == [at(-60 + 10 * i) for i in range(13)]
    single = [r for r in looping.due(at(60)) if r.source_id == "gauge-2"]
    assert single == []  # nothing new at the same instant
    g2 = [r for r in looping.due(at(80)) if r.source_id == "gauge-2"]
    assert [r.time for r in g2] == [at(70), at(80)] and {r.quality for r in g2} == {"suspect"}

    once = CsvReplaySource(path, cadence_seconds=10, backfill_minutes=0, loop=False, now=lambda: T0)
    assert len(once.due(at(10**6))) == 4 and once.exhausted and once.due(at(10**7)) == []


def test_timestamped_csv_keeps_its_own_times(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        [
            "time,station_id,metric,value,unit",
            "2025-03-01T08:00:10+07:00,hue-air-dongba,pm25,35.5,µg/m³",
            "2025-03-01T01:00:05Z,hue-air-dongba,pm25,40,µg/m³",
            "2025-03-01T08:00:00,hue-air-dongba,pm25,41,µg/m³",
        ],
    )
    source = CsvReplaySource(path, backfill_minutes=0, now=lambda: T0)
    assert source.timestamped
    [rejected] = source.take_rejects()
    assert "line 4" in rejected.reason and "no timezone" in rejected.reason
    assert [(r.time, r.value) for r in source.due(datetime(2025, 3, 1, 1, 0, 7, tzinfo=UTC))] == [
        (datetime(2025, 3, 1, 1, 0, 5, tzinfo=UTC), 40.0)
    ]
    assert [r.value for r in source.due(datetime(2025, 3, 1, 2, tzinfo=UTC))] == [35.5]
    assert source.exhausted


# -- bad input ---------------------------------------------------------------------------
def test_bad_rows_become_dead_letters_and_good_rows_pass(tmp_path: Path) -> None:
    huge = "0,st-a,co2," + "9" * (1024 * 1024) + ",ppm"
    path = write_csv(
        tmp_path / "bad.csv",
        [
            "offset_s,station_id,metric,value,unit",
            "0,st-a,co2,400,ppm",  # 2 good
            "0,st-a,co2,four hundred,ppm",  # 3
            "60,st-a,co2,NaN,ppm",  # 4
            "60,st-a,co2,inf,ppm",  # 5
            "60,st-a,co2,410",  # 6 missing column
            "60,st-a,co2,410,ppm,extra",  # 7 unknown column
            huge,  # 8 1 MB line
            b"\x00\x01\x02\xff\xfe binary \x00junk",  # 9
            b"60,st-a,co2,\xff\xfe,ppm",  # 10 not UTF-8
            "60,st-a,CO2 level,410,ppm",  # 11 bad metric name
            "-5,st-a,co2,410,ppm",  # 12 negative offset
            "soon,st-a,co2,410,ppm",  # 13 offset not a number
            ",st-a,co2,410,ppm",  # 14 empty offset
            "60,,co2,410,ppm",  # 15 empty station
            "",  # blank line: not a row
            "60,st-a,co2,420,ppm",  # 17 good
            '120,"st-a",co2," 430 ",ppm',  # 18 good (quoted, padded)
        ],
    )
    source = CsvReplaySource(path, cadence_seconds=1, loop=False, now=lambda: T0)
    good = source.due(at(100))
    assert [r.value for r in good] == [400.0, 420.0, 430.0]
    rejects = source.take_rejects()
    reasons = {int(r.reason.split(":")[0].removeprefix("line ")): r.reason for r in rejects}
    assert sorted(reasons) == list(range(3, 16))
    expected = {
        3: "not a number",
        4: "not finite",
        5: "not finite",
        6: "missing column(s) unit",
        7: "unknown extra column",
        8: "longer than 65536 bytes",
        9: "NUL byte",
        10: "not UTF-8",
        11: "metric",
        12: "negative",
        13: "not a number",
        14: "not a number",
        15: "source_id",
    }
    for line, needle in expected.items():
        assert needle in reasons[line], reasons[line]
    assert source.take_rejects() == []  # handed over once

    # the worker publishes them as dead letters, payload cut to 64 KB, key = feed name
    bus = MemoryBus()
    source = CsvReplaySource(path, cadence_seconds=1, loop=False, now=lambda: T0, name="bad-feed")
    worker = EnvironmentWorker(source, bus.publisher())
    assert worker.step(at(100)) == 3
    letters = read_all(bus, [DEAD_LETTERS], "dl")
    assert len(letters) == 13 == worker.health["dead_letters"]
    records = [json.loads(m.value) for m in letters]
    assert {m.key for m in letters} == {"bad-feed"}
    assert all(set(r) == {"stage", "feed", "reason", "payload", "time"} for r in records)
    assert {r["stage"] for r in records} == {"ingest"} and {r["feed"] for r in records} == {"bad-feed"}
    big = next(r for r in records if "longer than" in r["reason"])
    assert len(big["payload"].encode()) == 64 * 1024 and big["payload"].startswith("0,st-a,co2,999")
    junk = next(r for r in records if "NUL" in r["reason"])
    assert "\\xff\\xfe binary" in junk["payload"]
    assert all(len(m.value) < 70_000 for m in letters)


def test_unrecognised_header_is_a_format_error(tmp_path: Path) -> None:
    for header in ("a,b,c", "offset_s,station_id,metric,value,unit,colour", "time,offset_s,value"):
        with pytest.raises(CsvFormatError):
            CsvReplaySource(write_csv(tmp_path / "h.csv", [header, "1,2,3"]), now=lambda: T0)
    with pytest.raises(CsvFormatError):
        CsvReplaySource(write_csv(tmp_path / "e.csv", []), now=lambda: T0)


def test_dead_letter_record_shape() -> None:
    value = dead_letter_record("ingest", "f", "why", b"\xff" + "é".encode() * 40_000, T0)
    record = json.loads(value)
    assert record["stage"] == "ingest" and record["feed"] == "f" and record["reason"] == "why"
    assert record["time"] == "2025-03-01T08:00:00+00:00"
    assert record["payload"].startswith("\\xffé") and len(record["payload"].encode()) <= 64 * 1024


# -- a real HTTP server -----------------------------------------------------------------
class FakeServerState:
    """What the local server answers: path -> handler(query, headers) -> (status, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[dict[str, list[str]], Any], tuple[int, bytes]]] = {}
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []


@pytest.fixture
def http_server() -> Iterator[tuple[str, FakeServerState]]:
    state = FakeServerState()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append((parts.path, query, dict(self.headers)))
            route = state.routes.get(parts.path)
            status, body = route(query, self.headers) if route else (404, b'{"detail":"Not Found"}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def local_session() -> requests.Session:
    session = new_session()
    session.trust_env = False  # never through a proxy to 127.0.0.1
    return session


def openaq_latest(items: list[tuple[int, str, Any]]) -> bytes:
    """A /v3/locations/{id}/latest answer as OpenAQ v3 sends it."""
    results = [
        {
            "datetime": {"utc": utc, "local": utc.replace("Z", "+07:00")},
            "value": value,
            "coordinates": {"latitude": 16.4733, "longitude": 107.5887},
            "sensorsId": sensor,
            "locationsId": 9001,
        }
        for sensor, utc, value in items
    ]
    meta = {"name": "openaq-api", "website": "/", "page": 1, "limit": 1000, "found": len(results)}
    return json.dumps({"meta": meta, "results": results}).encode()


def test_openaq_poller_against_a_local_server(http_server: tuple[str, FakeServerState]) -> None:
    base, state = http_server
    answer: dict[str, Any] = {"status": 200}
    latest = [
        (101, "2025-03-01T07:00:00Z", 35.2),  # pm25 -> Đông Ba
        (102, "2025-03-01T07:00:00Z", 18.0),  # no2 -> Đông Ba
        (103, "2025-03-01T07:00:00Z", 0.4),  # a sensor of the location that we do not map
    ]

    def route(query: dict[str, list[str]], headers: Any) -> tuple[int, bytes]:
        if headers.get("X-API-Key") != "k-123":
            return 401, b'{"detail":"Unauthorized"}'
        if answer["status"] != 200:
            return answer["status"], b'{"detail":"Internal Server Error"}'
        return 200, answer.get("body") or openaq_latest(latest)

    state.routes["/v3/locations/9001/latest"] = route
    sensors = {
        101: Target(station="hue-air-dongba", metric="pm25", unit="µg/m³"),
        102: Target(station="hue-air-dongba", metric="no2", unit="µg/m³"),
    }
    source = OpenAqSource(
        base, [9001], sensors, api_key="k-123", poll_seconds=0, session=local_session(), now=lambda: T0
    )
    bus = MemoryBus()
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="openaq-hue")

    assert worker.step(at(0)) == 2
    assert worker.health["connected"] is True
    assert worker.step(at(1)) == 0  # same latest values: not emitted again
    latest[0] = (101, "2025-03-01T07:15:00Z", 41.0)
    assert worker.step(at(2)) == 1

    answer["status"] = 500
    assert worker.step(at(3)) == 0
    assert worker.health["errors"] == 1 and worker.health["connected"] is False
    assert "HTTP 500" in worker.health["last_error"]
    polls = len(state.requests)
    assert worker.step(at(3.5)) == 0 and len(state.requests) == polls  # backing off: no request
    answer.update(status=200, body=b'{"meta": {"name": "openaq-api"}, "results": [{"datetime": ')
    assert worker.step(at(5)) == 0  # malformed JSON: an error and a dead letter, no crash
    assert worker.health["errors"] == 2 and worker.health["dead_letters"] == 1
    body = json.loads(
        openaq_latest([(102, "2025-03-01T07:30:00Z", None), (101, "2025-03-01T07:30:00Z", 44.5)])
    )
    body["results"] += [
        "junk",
        {"sensorsId": [101], "value": 1},
        {"sensorsId": 102, "datetime": None, "value": 3},
    ]
    answer["body"] = json.dumps(body).encode()
    assert worker.step(at(10)) == 1  # the null value and the hostile items are dead letters
    assert worker.step(at(11)) == 0  # and the bad items are not rejected again on every poll
    assert worker.health["dead_letters"] == 5 and worker.health["connected"] is True

    readings = [decode(m.value) for m in read_all(bus, [READINGS], "check")]
    assert sorted((r.metric, r.value) for r in readings) == [
        ("no2", 18.0),
        ("pm25", 35.2),
        ("pm25", 41.0),
        ("pm25", 44.5),
    ]
    assert all(isinstance(r, EnvironmentReading) and r.source_id == "hue-air-dongba" for r in readings)
    assert readings[0].time == datetime(2025, 3, 1, 7, tzinfo=UTC)
    letters = [json.loads(m.value) for m in read_all(bus, [DEAD_LETTERS], "dl")]
    assert ["not JSON" in d["reason"] for d in letters] == [True, False, False, False, False]
    assert [d["reason"].split(": ", 1)[1] for d in letters[1:]] == [
        "value is not a number: None",
        "result is not an object: str",
        "sensorsId is not an integer: [101]",
        "time is missing or not text: 'None'",
    ]
    assert state.requests[0][1]["limit"] == ["1000"]


def sensorthings_route(observations: list[dict[str, Any]], honour_filter: bool = True):
    """A FROST-like Observations endpoint: $filter phenomenonTime gt, $orderby asc|desc, $top, nextLink."""

    def route(query: dict[str, list[str]], headers: Any) -> tuple[int, bytes]:
        order = query.get("$orderby", ["phenomenonTime asc"])[0].split()[-1]
        items = sorted(observations, key=lambda o: o["phenomenonTime"], reverse=order == "desc")
        if honour_filter and "$filter" in query:
            op, literal = query["$filter"][0].split(" ", 2)[1:]
            assert op == "gt"
            since = datetime.fromisoformat(literal)
            items = [o for o in items if datetime.fromisoformat(o["phenomenonTime"]) > since]
        top = int(query.get("$top", ["100"])[0])
        skip = int(query.get("$skip", ["0"])[0])
        page = items[skip : skip + top]
        body: dict[str, Any] = {"value": page}
        if skip + top < len(items):
            body["@iot.nextLink"] = f"{route.base}/Datastreams(7)/Observations?" + (  # type: ignore[attr-defined]
                f"$top={top}&$skip={skip + top}&$orderby=phenomenonTime%20{order}"
                + (f"&$filter={query['$filter'][0].replace(' ', '%20')}" if "$filter" in query else "")
            )
        return 200, json.dumps(body).encode()

    return route


def obs(i: int, minute: int, result: Any) -> dict[str, Any]:
    return {"@iot.id": i, "phenomenonTime": f"2025-03-01T07:{minute:02d}:00.000Z", "result": result}


def test_sensorthings_poller_against_a_local_server(http_server: tuple[str, FakeServerState]) -> None:
    base, state = http_server
    observations = [obs(i, i, 1.0 + i / 10) for i in range(5)]
    route = sensorthings_route(observations)
    route.base = base  # type: ignore[attr-defined]
    state.routes["/Datastreams(7)/Observations"] = route
    source = SensorThingsSource(
        base,
        {7: Target(station="hue-river-kimlong", metric="water_level", unit="m")},
        top=3,
        poll_seconds=0,
        session=local_session(),
        now=lambda: T0,
    )
    bus = MemoryBus()
    worker = EnvironmentWorker(source, bus.publisher(), feed_name="sta")

    assert worker.step(at(0)) == 3  # the newest $top on the first poll, emitted oldest first
    first_query = state.requests[-1][1]
    assert first_query["$orderby"] == ["phenomenonTime desc"] and "$filter" not in first_query
    assert worker.step(at(1)) == 0
    assert state.requests[-1][1]["$filter"] == ["phenomenonTime gt 2025-03-01T07:04:00.000Z"]
    assert state.requests[-1][1]["$orderby"] == ["phenomenonTime asc"]  # later polls: oldest first

    # a burst of 7 new observations (more than $top), one of them not a number
    observations.extend(obs(i, i, 2.0 + i / 10) for i in range(5, 12))
    observations[8]["result"] = "n/a"
    assert worker.step(at(2)) == 6  # pages followed through @iot.nextLink
    assert worker.health["dead_letters"] == 1
    assert worker.step(at(3)) == 0  # the bad one is not fetched and rejected again

    # a server that ignores $filter still gets no duplicates
    plain = sensorthings_route(observations, honour_filter=False)
    plain.base = base  # type: ignore[attr-defined]
    state.routes["/Datastreams(7)/Observations"] = plain
    assert worker.step(at(4)) == 0

    state.routes["/Datastreams(7)/Observations"] = lambda q, h: (500, b"oops")
    assert worker.step(at(5)) == 0 and worker.health["errors"] == 1
    state.routes["/Datastreams(7)/Observations"] = lambda q, h: (200, b"<html>not json</html>")
    assert worker.step(at(7)) == 0 and worker.health["errors"] == 2 and worker.health["dead_letters"] == 2
    observations.append(obs(99, 59, 3.5))
    state.routes["/Datastreams(7)/Observations"] = route
    assert worker.step(at(20)) == 1 and worker.health["connected"] is True

    readings = [decode(m.value) for m in read_all(bus, [READINGS], "check")]
    times = [r.time.minute for r in readings]
    assert times == [2, 3, 4, 5, 6, 7, 9, 10, 11, 59]
    assert {r.source_id for r in readings} == {"hue-river-kimlong"}
    assert {r.metric for r in readings} == {"water_level"}


def test_unreachable_server_is_counted_not_raised() -> None:
    source = OpenAqSource(
        "http://127.0.0.1:9",
        [1],
        {1: Target(station="s", metric="pm25")},
        poll_seconds=0,
        timeout_seconds=0.5,
        session=local_session(),
        now=lambda: T0,
    )
    worker = EnvironmentWorker(source, MemoryBus().publisher(), backoff_initial=1, backoff_max=4)
    for k in range(6):
        worker.step(at(k * 10))
    assert worker.health["errors"] == 6 and worker.health["connected"] is False
    assert "ConnectionError" in worker.health["last_error"]


# -- the worker on the bus ---------------------------------------------------------------
def test_worker_publishes_the_sample_on_the_memory_bus() -> None:
    settings = hue_settings()
    source = build_source(settings.feeds[0], settings, SAMPLES, now=lambda: T0)
    bus = MemoryBus(partitions=3)
    worker = EnvironmentWorker(source, bus.publisher())
    assert worker.feed == "environment-sample"
    published = worker.step(at(0)) + worker.step(at(1)) + worker.step(at(3))
    assert published == 115 * 14
    messages = read_all(bus, [READINGS], "wall")
    assert len(messages) == published == worker.health["readings"]
    readings = [decode(m.value) for m in messages]
    assert all(m.key == r.source_id for m, r in zip(messages, readings, strict=True))
    assert worker.health["last_reading_time"] == at(3)
    # per station, the partition keeps event-time order
    by_station: dict[str, list[datetime]] = defaultdict(list)
    for r in readings:
        by_station[r.source_id].append(r.time)
    assert all(t == sorted(t) for t in by_station.values())


def test_worker_run_loop_stops_on_the_event() -> None:
    settings = hue_settings()
    source = build_source(settings.feeds[0], settings, SAMPLES)
    bus = MemoryBus()
    worker = EnvironmentWorker(source, bus.publisher())
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 0.05))
    thread.start()
    stop.wait(0.3)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert worker.health["readings"] >= 113 * 14 and worker.health["connected"] is True



def test_unpublished_readings_are_kept_and_sent_after_the_bus_recovers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        ["offset_s,station_id,metric,value,unit"] + [f"{i},s,co2,{i},ppm" for i in range(4)],
    )
    source = CsvReplaySource(path, cadence_seconds=1, loop=False, now=lambda: T0)
    bus = MemoryBus()
    worker = EnvironmentWorker(source, DownPublisher(bus, failures=1))
    assert worker.step(at(1)) == 0 and worker.health["errors"] == 1
    assert worker.step(at(5)) == 4  # the two kept + two new, once the bus is back
    assert [
        decode(m.value).value for m in sorted(read_all(bus, [READINGS], "g"), key=lambda m: m.offset)
    ] == [0, 1, 2, 3]


# -- configuration ---------------------------------------------------------------------------
def test_hue_toml_validates_and_builds_its_feeds() -> None:
    settings = hue_settings()
    assert settings.city == "Huế" and settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.database.dsn is None and settings.bus.kind == "memory"
    assert settings.web.port == 8050 and settings.web.title == "Intelligent Operations Centre"
    ids = {s.id for s in settings.stations}
    assert len(ids) == len(settings.stations) == 5
    for s in settings.stations:  # inside Huế
        assert 16.40 < s.lat < 16.52 and 107.50 < s.lon < 107.65
    for rule in settings.rules.thresholds:
        assert set(rule.stations) <= ids
    assert [r.after_minutes for r in settings.rules.stale] == [15.0]
    [feed] = [f for f in settings.feeds if f.kind in SOURCE_FACTORIES]
    assert feed.options["loop"] is True
    source = build_source(feed, settings, SAMPLES, now=lambda: T0)
    assert set(source.station_ids) == ids
    # the commented examples are valid feeds too, once uncommented
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    blocks = text.split("# [[feeds]]")[1:]
    assert len(blocks) == 7
    for block in blocks:
        lines = [ln.removeprefix("# ") for ln in block.split("\n\n")[0].splitlines()[1:]]
        data = tomllib.loads("\n".join(["[[feeds]]", *lines]))
        example = FeedSettings(**data["feeds"][0])
        if example.kind in SOURCE_FACTORIES:
            assert build_source(example, settings, SAMPLES, now=lambda: T0).name == example.name
        elif example.kind.startswith(("security-", "services-")) or example.kind == "rss":
            check_feed_options(example, settings)  # raises with the reason if it is not valid
        else:
            assert vessel_feed_options(example)


def test_load_settings_reads_hue_toml() -> None:
    settings = load_settings()
    assert settings.web.title == "Intelligent Operations Centre"
    assert [f.name for f in settings.feeds] == ["environment-sample", "fleet-simulator", "security-sim-auth",
                                                "security-sim-web", "security-sim-ids", "press-sim",
                                                "motcua-sample", "hue-s"]
    assert [r.name for r in settings.rules.thresholds] == [r.name for r in hue_settings().rules.thresholds]


def test_bad_feed_options_are_config_errors() -> None:
    settings = hue_settings()
    bad = [
        FeedSettings(name="x", kind="mqtt"),
        FeedSettings(name="x", kind="csv_replay", options={"path": "environment/readings.csv", "cadence": 2}),
        FeedSettings(name="x", kind="csv_replay", options={"path": "environment/none.csv"}),
        FeedSettings(
            name="x", kind="csv_replay", options={"path": "environment/readings.csv", "stations": ["nope"]}
        ),
        FeedSettings(
            name="x",
            kind="openaq",
            options={"locations": [1], "sensors": {"1": {"station": "nope", "metric": "pm25"}}},
        ),
        FeedSettings(
            name="x",
            kind="sensorthings",
            options={
                "base_url": "http://x",
                "datastreams": {"1": {"station": "hue-air-dongba", "metric": "PM 2.5"}},
            },
        ),
    ]
    for feed in bad:
        with pytest.raises(FeedConfigError):
            build_source(feed, settings, SAMPLES, now=lambda: T0)


def fires(readings: list[EnvironmentReading], rule: Any) -> list[tuple[str, datetime]]:
    """Reference fold of a threshold rule: (station, time) where a breach has lasted for_minutes."""
    out = []
    for station in sorted({r.source_id for r in readings}):
        if rule.stations and station not in rule.stations:
            continue
        run_start, fired = None, False
        for r in (x for x in readings if x.source_id == station and x.metric == rule.metric):
            breach = r.value > rule.above if rule.above is not None else r.value < rule.below
            if not breach:
                run_start, fired = None, False
                continue
            run_start = run_start or r.time
            if not fired and (r.time - run_start).total_seconds() >= rule.for_minutes * 60:
                out.append((station, r.time))
                fired = True
    return out


def test_demo_raises_threshold_alerts_within_twenty_seconds() -> None:
    """The demo promise of hue.toml: readings every 2 s per station, alerts from the backfill at once,
    and the critical flood mark crossed live within 20 s."""
    settings = hue_settings()
    source = build_source(settings.feeds[0], settings, SAMPLES, now=lambda: T0)
    first20 = source.due(T0) + source.due(at(20))
    per_station = defaultdict(set)
    for r in first20:
        if r.time > T0:
            per_station[r.source_id].add(r.time)
    assert all(len(times) == 10 for times in per_station.values()) and len(per_station) == 5
    alerts = {rule.name: fires(first20, rule) for rule in settings.rules.thresholds}
    assert any(t <= T0 for fired in alerts.values() for _, t in fired)  # from the history
    flood = [(s, t) for s, t in alerts["river-flood-mark"] if t > T0]
    assert flood and flood[0][0] == "hue-river-kimlong" and flood[0][1] <= at(20)
    assert next(r for r in settings.rules.thresholds if r.name == "river-flood-mark").severity == "critical"
    assert not math.isnan(sum(r.value for r in first20))
