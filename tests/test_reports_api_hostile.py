"""The Open311 intake against hostile and sloppy clients: bodies, repeated parameters, jurisdictions,
addresses, languages. Real HTTP (waitress) or Flask's test client, on a real PostgreSQL store."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from defusedxml import ElementTree as DET
from flask.testing import FlaskClient

from ingest.reports.api import FORM_TEXT_BYTES, MAX_FORM_FIELDS, REFUSALS_BURST, build_app
from ingest.reports.limits import MAX_KEYS, RateLimiter
from ingest.reports.reader import StoreReportReader
from ingest.reports.store_sink import StoreSink
from ioc.feeds.reports.settings import ReportsFeed
from ioc.feeds.reports.tables import MIGRATIONS
from ioc.store.database import Store
from tests.test_reports_api import INSIDE, KEY, SAMPLE, Intake
from tests.test_reports_api import intake as served  # noqa: F401 (a fixture: the intake over HTTP)

VI = {"Accept-Language": "vi"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GOOD = f"api_key={KEY}&service_code=lighting&lat={INSIDE['lat']}&long={INSIDE['long']}".encode()


@pytest.fixture
def intake(served: Intake) -> Intake:  # noqa: F811 (the fixture imported above)
    """The intake of tests/test_reports_api.py, in English."""
    return served


def stored(intake: Intake) -> int:
    with intake.store.pool.connection() as conn:
        return int(conn.execute("SELECT count(*) FROM field_reports").fetchone()[0])


def test_a_urlencoded_body_is_bounded_before_it_is_split(intake: Intake) -> None:
    """A urlencoded form holds no photo: past its text allowance, or past its field count, it is refused
    (413, a dead letter) before Werkzeug splits millions of empty fields (seconds of CPU a post)."""
    url = f"{intake.url}/requests.json"
    many = GOOD + b"&" + b"a=&" * 2_000_000  # 6 MB, under MAX_CONTENT_LENGTH
    r = requests.post(url, data=many, headers=FORM, timeout=60)
    assert r.status_code == 413, r.text[:200]
    assert r.json() == [{"code": 413, "description": f"the form is longer than {FORM_TEXT_BYTES} bytes"}]
    chunked = requests.post(url, data=iter([GOOD, b"&" + b"a=&" * 200_000]), headers=FORM, timeout=60)
    assert chunked.status_code == 413 and "longer than" in chunked.json()[0]["description"]
    fields = GOOD + b"&" + b"&".join(b"attribute[k%d]=v" % i for i in range(MAX_FORM_FIELDS))
    assert len(fields) < FORM_TEXT_BYTES
    r = requests.post(url, data=fields, headers=FORM | VI, timeout=60)
    assert r.status_code == 413
    assert r.json()[0]["description"] == f"biểu mẫu gửi lên có quá {MAX_FORM_FIELDS} trường"
    assert [why for why, _ in intake.sink.dead] == [
        f"the form is longer than {FORM_TEXT_BYTES} bytes"] * 2 + [
        f"the form has more than {MAX_FORM_FIELDS} fields"]
    some = GOOD + b"&" + b"&".join(b"attribute[k%d]=v" % i for i in range(100))  # extras: still a report
    assert requests.post(url, data=some, headers=FORM, timeout=60).status_code == 201
    assert stored(intake) == 1


def test_a_form_that_is_not_utf8_is_refused_as_such_not_as_a_missing_key(intake: Intake) -> None:
    """Werkzeug reads a body that is not UTF-8 as an empty form: the app was told its (valid) key was
    missing and the dead letter kept nothing it sent."""
    body = GOOD + "&description=Đèn hỏng".encode("cp1258", errors="replace") + b"\xff"
    r = requests.post(f"{intake.url}/requests.xml", data=body, headers=FORM | VI, timeout=30)
    root = DET.fromstring(r.content)
    assert r.status_code == 400 and root.findtext("error/code") == "400"
    assert root.findtext("error/description").startswith("biểu mẫu không phải UTF-8")
    assert intake.sink.dead[0][0] == "the form is not UTF-8 (percent-encode its text as UTF-8)"
    assert stored(intake) == 0


@pytest.mark.parametrize("field", ["lat", "long", "description", "service_code", "api_key"])
def test_a_parameter_given_twice_is_refused_not_guessed(intake: Intake, field: str) -> None:
    """``lat=16.46&lat=10.77``: the first was taken and the other dropped without a word (a proxy or
    a firewall reading the last would judge another request)."""
    value = {"lat": "10.77", "long": "106.70", "description": "b", "service_code": "waste",
             "api_key": "wrong"}[field]
    body = GOOD + b"&description=a&" + f"{field}={value}".encode()
    r = requests.post(f"{intake.url}/requests.json", data=body, headers=FORM, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json() == [{"code": 400, "description": f"{field} is given more than once"}]
    assert stored(intake) == 0 and len(intake.sink.dead) == 1
    multipart = requests.post(f"{intake.url}/requests.json", timeout=30,
                              files=[("api_key", (None, KEY)), ("service_code", (None, "lighting")),
                                     ("lat", (None, INSIDE["lat"])), ("long", (None, INSIDE["long"])),
                                     ("description", (None, "a")), (field, (None, value))])
    assert multipart.status_code == 400 and "more than once" in multipart.json()[0]["description"]


def test_a_query_parameter_given_twice_is_refused(intake: Intake) -> None:
    first = requests.post(f"{intake.url}/requests.json", data=GOOD, headers=FORM, timeout=30)
    rid = first.json()[0]["service_request_id"]
    url = f"{intake.url}/requests.json?service_request_id=HUE-nope&service_request_id={rid}"
    r = requests.get(url, headers=VI, timeout=30)  # was: [] (the second list dropped)
    assert r.status_code == 400
    assert r.json() == [{"code": 400, "description": "service_request_id được gửi nhiều hơn một lần"}]
    r = requests.get(f"{intake.url}/requests.json?status=open&status=closed", timeout=30)
    assert r.status_code == 400 and r.json()[0]["description"] == "status is given more than once"
    assert [x["service_request_id"] for x in requests.get(
        f"{intake.url}/requests.json?service_request_id=HUE-nope,{rid}", timeout=30).json()] == [rid]


def test_another_jurisdiction_is_not_found(intake: Intake) -> None:
    """The spec's 404 for a ``jurisdiction_id`` this endpoint does not serve: a report meant for another
    city was stored and routed to Huế's departments."""
    r = intake.post(jurisdiction_id="sf.gov")
    assert r.status_code == 404, r.text
    assert r.json() == [{"code": 404, "description": "jurisdiction_id 'sf.gov' not found"}]
    assert intake.sink.dead[0][1]["jurisdiction_id"] == "sf.gov"
    r = requests.post(f"{intake.url}/requests.json?jurisdiction_id=sf.gov", data=GOOD, headers=FORM,
                      timeout=30)
    assert r.status_code == 404 and len(intake.sink.dead) == 2
    assert stored(intake) == 0
    for path in ("services.xml", "services/lighting.xml", "requests.xml", "requests/HUE-x.xml"):
        r = requests.get(f"{intake.url}/{path}", params={"jurisdiction_id": "sf.gov"}, headers=VI, timeout=30)
        root = DET.fromstring(r.content)
        assert r.status_code == 404 and root.findtext("error/code") == "404", path
        assert root.findtext("error/description") == "không tìm thấy jurisdiction_id 'sf.gov'"
    assert intake.post(jurisdiction_id="hue.gov.vn").status_code == 201  # its own, or none, is served
    ok = requests.get(f"{intake.url}/services.json", params={"jurisdiction_id": "hue.gov.vn"}, timeout=30)
    assert ok.status_code == 200 and stored(intake) == 1


def test_a_wildcard_accept_language_is_answered_in_the_citys_language(intake: Intake) -> None:
    """``Accept-Language: *`` names no language: an English city answered it in Vietnamese (the first
    language the intake speaks)."""
    for header in ("*", "fr-FR, *;q=0.5"):
        r = intake.post(headers={"Accept-Language": header}, api_key="wrong")
        assert r.json() == [{"code": 403, "description": "api_key missing or not known"}], header
    r = intake.post(headers={"Accept-Language": "fr, *;q=0.5, vi;q=0.1"}, api_key="wrong")
    assert r.json()[0]["description"] == "thiếu api_key hoặc api_key không hợp lệ"


@pytest.fixture
def client(plain_store: Store, tmp_path: Path) -> Iterator[tuple[FlaskClient, StoreSink]]:
    """The intake through Flask's test client: each request may come from another address."""
    raw = tomllib.loads(SAMPLE.read_text()) | {"photo_dir": str(tmp_path / "photos")}
    with plain_store.pool.connection() as conn:
        for m in MIGRATIONS:
            m.apply(conn, plain_store.caps)
    sink = StoreSink(plain_store.pool)
    app = build_app(ReportsFeed.model_validate(raw), sink.publish, sink.dead_letter,
                    StoreReportReader(plain_store.pool))
    yield app.test_client(), sink


def test_refusals_of_one_ipv6_network_are_throttled_together(client: tuple[FlaskClient, StoreSink]) -> None:
    """An IPv6 subscriber has a /64 of addresses to rotate through: counted per address, every post
    of garbage from a new one was kept as a dead letter."""
    c, sink = client
    codes = [c.post("/requests.json", data={"api_key": "wrong"},
                    environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i:x}"}).status_code
             for i in range(REFUSALS_BURST + 5)]
    assert codes[:REFUSALS_BURST] == [403] * REFUSALS_BURST and 429 in codes[REFUSALS_BURST:]
    assert sum(p is not None for _, p in sink.dead) < REFUSALS_BURST + 5
    other = c.post("/requests.json", data={"api_key": "wrong"},
                   environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert other.status_code == 403  # the next network is its own
    v4 = c.post("/requests.json", data={"api_key": "wrong"}, environ_base={"REMOTE_ADDR": "::ffff:192.0.2.7"})
    assert v4.status_code == 403


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance_and_nobody_else_names_one(
        plain_store: Store, tmp_path: Path) -> None:
    """Behind the city's reverse proxy every post came from the proxy's address: one client posting
    garbage used up the refusal allowance of all. A proxy in ``trusted_proxies`` now names the client
    (``X-Forwarded-For``); a client that is no proxy cannot name another to escape its own count."""
    raw = tomllib.loads(SAMPLE.read_text()) | {"photo_dir": str(tmp_path / "photos"),
                                               "trusted_proxies": ["127.0.0.1"]}
    with plain_store.pool.connection() as conn:
        for m in MIGRATIONS:
            m.apply(conn, plain_store.caps)
    sink = StoreSink(plain_store.pool)
    c = build_app(ReportsFeed.model_validate(raw), sink.publish, sink.dead_letter,
                  StoreReportReader(plain_store.pool)).test_client()

    def refused(addr: str, forwarded: str) -> int:
        return c.post("/requests.json", data={"api_key": "wrong"}, headers={"X-Forwarded-For": forwarded},
                      environ_base={"REMOTE_ADDR": addr}).status_code

    codes = [refused("127.0.0.1", "203.0.113.5") for _ in range(REFUSALS_BURST + 2)]
    assert codes[:REFUSALS_BURST] == [403] * REFUSALS_BURST and codes[-1] == 429
    assert refused("127.0.0.1", "203.0.113.6") == 403  # another client behind the same proxy
    spoofed = [refused("198.51.100.9", f"203.0.113.{i}") for i in range(REFUSALS_BURST + 2)]
    assert spoofed[-1] == 429  # not a proxy: counted under its own address, whatever it writes
    with pytest.raises(ValueError, match="not an IP address or network"):
        ReportsFeed.model_validate(raw | {"trusted_proxies": ["proxy.example"]})


def test_a_rate_limiter_keeps_a_bounded_number_of_keys() -> None:
    """Keys may be addresses made up by the thousand: every call past MAX_KEYS scanned all buckets
    under the lock (milliseconds each, growing) and none was forgotten while they were recent."""
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.allow("kept", 1, 2) for _ in range(3)] == [True, True, False]
    for i in range(MAX_KEYS + 2000):
        limiter.allow(f"2001:db8::{i:x}", 30, 60)
        if i % 1000 == 0:
            assert limiter.allow("kept", 1, 2) is False  # a key in use stays held
    assert len(limiter) <= MAX_KEYS
    now[0] += 60.0
    assert limiter.allow("kept", 1, 2) is True  # and refills as before
