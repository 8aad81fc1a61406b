"""The Open311 intake over real HTTP (waitress) against a real PostgreSQL store."""

from __future__ import annotations

import io
import threading
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from defusedxml import ElementTree as DET
from PIL import Image

from ingest.reports.api import build_app
from ingest.reports.reader import StoreReportReader
from ingest.reports.store_sink import StoreSink
from ioc.feeds.reports.settings import ReportsFeed
from ioc.feeds.reports.tables import MIGRATIONS
from ioc.http_server import ThreadedServer
from ioc.store.database import Store

SAMPLE = Path(__file__).parent.parent / "sample_streams" / "reports" / "feed.toml"
KEY = "SIMULATED-hue-s-app-key-0001"
INSIDE = {"lat": "16.4637", "long": "107.5909"}  # Phú Hội


def photo(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class Intake:
    url: str
    sink: StoreSink
    store: Store

    def post(self, fmt: str = "json", files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
             headers: dict[str, str] | None = None, **form: str) -> requests.Response:
        data = {"api_key": KEY, "service_code": "lighting", **INSIDE, "description": "Đèn hỏng"} | form
        return requests.post(f"{self.url}/requests.{fmt}", data=data, files=files, headers=headers,
                             timeout=60)


@pytest.fixture
def intake(plain_store: Store, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Intake]:
    """The intake; its city's language is the test's parameter (``indirect``), English if none."""
    language = getattr(request, "param", "en")
    raw = tomllib.loads(SAMPLE.read_text()) | {"photo_dir": str(tmp_path / "photos")}
    raw["clients"]["slow"] = {"api_key": "slow-client-key-0000001", "per_minute": 1, "burst": 2}
    cfg = ReportsFeed.model_validate(raw)
    with plain_store.pool.connection() as conn:
        for m in MIGRATIONS:
            m.apply(conn, plain_store.caps)
    sink = StoreSink(plain_store.pool)
    app = build_app(cfg, sink.publish, sink.dead_letter, StoreReportReader(plain_store.pool),
                    language=language)
    server = ThreadedServer(app, "127.0.0.1", 0, threads=8)

    def serve() -> None:
        try:
            server.serve_forever()
        except OSError:  # the loop's sockets closed under it by shutdown()
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Intake(f"http://127.0.0.1:{server.server_port}", sink, plain_store)
    finally:
        server.shutdown()
        thread.join(timeout=30)


def test_services_json_and_xml(intake: Intake) -> None:
    services = requests.get(f"{intake.url}/services.json", timeout=30).json()
    assert {s["service_code"] for s in services} >= {"lighting", "waste", "road"}
    for s in services:
        assert set(s) >= {"service_code", "service_name", "description", "metadata", "type", "keywords",
                          "group"}
        assert s["metadata"] is False and s["type"] == "realtime"
    xml = requests.get(f"{intake.url}/services.xml", timeout=30)
    assert xml.headers["content-type"].startswith("text/xml")
    assert xml.headers["X-Content-Type-Options"] == "nosniff"
    root = DET.fromstring(xml.content)
    assert root.tag == "services"
    codes = [s["service_code"] for s in services]
    assert [e.findtext("service_code") for e in root.findall("service")] == codes
    one = requests.get(f"{intake.url}/services/lighting.json", timeout=30).json()
    assert one["service_code"] == "lighting" and one["attributes"] == []
    missing = requests.get(f"{intake.url}/services/nope.xml", timeout=30)
    assert missing.status_code == 404
    err = DET.fromstring(missing.content)
    assert err.tag == "errors" and err.findtext("error/code") == "404"


def test_post_then_read_status_from_store(intake: Intake) -> None:
    r = intake.post(files=[("media", ("a.jpg", photo(), "image/jpeg"))], address_string="12 Lê Lợi")
    assert r.status_code == 201, r.text
    [made] = r.json()
    rid = made["service_request_id"]
    assert made["service_notice"] == ""
    got = requests.get(f"{intake.url}/requests/{rid}.json", timeout=30).json()
    [req] = got
    assert req["status"] == "open" and req["status_notes"] == "received"
    assert req["agency_responsible"] == "urban_works" and req["service_code"] == "lighting"
    assert req["address"] == "12 Lê Lợi" and abs(req["lat"] - 16.4637) < 1e-9
    with intake.store.pool.connection() as conn:
        ward, group, photos = conn.execute(
            "SELECT ward, assignee_group, photos FROM field_reports WHERE request_id = %s", (rid,)).fetchone()
    assert ward == "Phú Hội" and group == "lighting_south"  # the ward's own team
    assert Path(photos[0]["path"]).read_bytes() == photo()
    # a status change is an event too: the citizen sees it
    with intake.store.pool.connection() as conn:
        conn.execute("INSERT INTO field_report_status VALUES (now(), %s, 'rejected', 'not a public light', "
                     "'operator:lan', 'urban_works', 'lighting_south')", (rid,))
    xml = DET.fromstring(requests.get(f"{intake.url}/requests/{rid}.xml", timeout=30).content)
    assert xml.findtext("request/status") == "closed"
    assert xml.findtext("request/status_notes") == "rejected: not a public light"
    closed = requests.get(f"{intake.url}/requests.json", params={"status": "closed"}, timeout=30).json()
    assert [c["service_request_id"] for c in closed] == [rid]
    assert requests.get(f"{intake.url}/requests.json", params={"status": "open"}, timeout=30).json() == []


@pytest.mark.parametrize(("form", "code", "words"), [
    ({"api_key": "wrong"}, 403, "api_key"),
    ({"service_code": "nope"}, 400, "service_code"),
    ({"lat": "10.77", "long": "106.70"}, 400, "outside the city"),  # Saigon
    ({"lat": "nan", "long": "107.59"}, 400, "finite"),
    ({"lat": "", "long": ""}, 400, "required"),
    ({"description": "x" * 5000}, 400, "description"),
])
def test_bad_posts_get_the_spec_error_and_a_dead_letter(intake: Intake, form: dict[str, str], code: int,
                                                       words: str) -> None:
    for fmt in ("json", "xml"):
        r = intake.post(fmt, **form)
        assert r.status_code == code
        if fmt == "json":
            [e] = r.json()
            assert e["code"] == code and words in e["description"]
        else:
            root = DET.fromstring(r.content)
            assert root.findtext("error/code") == str(code) and words in root.findtext("error/description")
    assert len(intake.sink.dead) == 2 and all(words in reason for reason, _ in intake.sink.dead)
    assert requests.get(f"{intake.url}/requests.json", timeout=30).json() == []


def test_hostile_uploads_are_decoded_and_refused(intake: Intake) -> None:
    html = b"<html><script>alert(1)</script></html>"
    r = intake.post(files=[("media", ("cat.jpg", html, "image/jpeg"))])
    assert r.status_code == 400 and "not a readable image" in r.json()[0]["description"]
    assert "Error" not in r.json()[0]["description"]  # a reason for people, not an exception's name
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # ~60 kB on the wire, 400 Mpx decoded
    r = intake.post(files=[("media", ("bomb.png", bomb.getvalue(), "image/png"))])
    assert r.status_code == 400 and "pixels" in r.json()[0]["description"]
    tall = io.BytesIO()
    Image.new("L", (9000, 5000)).save(tall, "PNG")  # under Pillow's own guard, over max_photo_pixels
    r = intake.post(files=[("media", ("tall.png", tall.getvalue(), "image/png"))])
    assert r.status_code == 400 and "more than 40000000" in r.json()[0]["description"]
    r = intake.post(files=[("media", (f"{i}.jpg", photo(), "image/jpeg")) for i in range(4)])
    assert r.status_code == 400 and "more than 3 photos" in r.json()[0]["description"]
    huge = b"\xff\xd8" + b"0" * 16_000_000
    r = intake.post(files=[("media", ("big.jpg", huge, "image/jpeg"))])
    assert r.status_code == 413 and r.json()[0]["code"] == 413
    assert requests.get(f"{intake.url}/requests.json", timeout=30).json() == []


@pytest.mark.parametrize("intake", ["vi"], indirect=True)
def test_errors_answer_in_the_apps_language_else_the_citys(intake: Intake) -> None:
    """A Vietnamese city answers a refused post in Vietnamese unless the app's Accept-Language asks for
    English; the spec's codes and the dead letter's English reason stay as they are."""
    vi = {"Accept-Language": "vi-VN,vi;q=0.9"}
    en = {"Accept-Language": "en-GB,en;q=0.8"}
    saigon = {"lat": "10.77", "long": "106.70"}
    for headers in (None, vi):
        [e] = intake.post(headers=headers, **saigon).json()
        assert e == {"code": 400, "description": "vị trí 10.77000,106.70000 nằm ngoài địa bàn thành phố"}
    [e] = intake.post(headers=en, **saigon).json()
    assert e == {"code": 400, "description": "location 10.77000,106.70000 is outside the city"}
    assert [why for why, _ in intake.sink.dead] == ["location 10.77000,106.70000 is outside the city"] * 3
    r = intake.post("xml", headers=vi, api_key="wrong")
    root = DET.fromstring(r.content)
    assert r.status_code == 403 and root.findtext("error/code") == "403"
    assert root.findtext("error/description") == "thiếu api_key hoặc api_key không hợp lệ"
    html = b"<html><script>alert(1)</script></html>"
    [e] = intake.post(headers=vi, files=[("media", ("cat.jpg", html, "image/jpeg"))]).json()
    assert e["description"].startswith("ảnh thứ 1: không đọc được ảnh: "), e
    four = [("media", (f"{i}.jpg", photo(), "image/jpeg")) for i in range(4)]
    [e] = intake.post(headers=vi, files=four).json()
    assert e == {"code": 400, "description": "gửi quá 3 ảnh"}
    missing = requests.get(f"{intake.url}/requests/HUE-nope.json", headers=vi, timeout=30)
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "không tìm thấy phản ánh 'HUE-nope'"}]
    bad_status = requests.get(f"{intake.url}/requests.json", params={"status": "x"}, headers=en, timeout=30)
    assert bad_status.json() == [{"code": 400, "description": "status is open or closed"}]
    nowhere = requests.get(f"{intake.url}/nowhere.json", timeout=30)  # no route: a 404 of Werkzeug
    assert nowhere.status_code == 404 and nowhere.json() == [{"code": 404, "description": "Không tìm thấy"}]
    first = intake.post(headers=en).json()[0]["service_request_id"]
    assert intake.post(headers=vi).json()[0]["service_notice"] == f"Đã gộp với phản ánh {first}"


def test_rate_limit_per_key(intake: Intake) -> None:
    codes = [intake.post(api_key="slow-client-key-0000001").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert intake.post().status_code == 201  # another client's key is not limited by it


def test_duplicates_grouped_by_place_and_photo(intake: Intake) -> None:
    first = intake.post().json()[0]["service_request_id"]
    near = intake.post(lat="16.46375", long="107.59095").json()[0]  # ~7 m away, same category
    assert near["service_notice"] == f"Grouped with {first}"
    other = intake.post(service_code="waste").json()[0]
    assert other["service_notice"] == ""
    pic = [("media", ("p.jpg", photo((10, 200, 10)), "image/jpeg"))]
    a = intake.post(service_code="road", lat="16.475", long="107.575", files=pic).json()[0]
    b = intake.post(service_code="road", lat="16.485", long="107.595", files=pic).json()[0]  # far, same photo
    assert a["service_notice"] == "" and b["service_notice"] == f"Grouped with {a['service_request_id']}"


def test_fifty_concurrent_submissions_no_loss_no_duplication(intake: Intake) -> None:
    def one(i: int) -> str:
        pic = [("media", (f"{i}.jpg", photo((i * 5, 90, 9)), "image/jpeg"))]
        r = intake.post(description=f"report {i}", files=pic)
        assert r.status_code == 201, r.text
        return str(r.json()[0]["service_request_id"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = list(pool.map(one, range(50)))
    assert len(set(ids)) == 50
    with intake.store.pool.connection() as conn:
        rows = conn.execute("SELECT request_id, description FROM field_reports").fetchall()
        statuses = conn.execute("SELECT count(*) FROM field_report_status").fetchone()[0]
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert sorted(r[1] for r in rows) == sorted(f"report {i}" for i in range(50))
    assert statuses == 50


def test_stored_rows_read_back_as_the_same_records(intake: Intake) -> None:
    from psycopg.rows import dict_row

    from ioc.feeds.reports.tables import REPORT_TABLE, STATUS_TABLE

    rid = intake.post(files=[("media", ("a.jpg", photo(), "image/jpeg"))]).json()[0]["service_request_id"]
    with intake.store.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        report = REPORT_TABLE.from_row(cur.execute("SELECT * FROM field_reports").fetchone())
        first = STATUS_TABLE.from_row(cur.execute("SELECT * FROM field_report_status").fetchone())
    assert report.source_id == rid and len(report.photos) == 1 and report.ward == "Phú Hội"
    assert REPORT_TABLE.to_row(report)[1] == rid and first.status == "received"


def test_a_malformed_multipart_body_gets_the_spec_error_and_a_dead_letter(intake: Intake) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n' + KEY.encode() + b"\r\n"  # no end
    r = requests.post(f"{intake.url}/requests.xml", data=body, timeout=30,
                      headers={"Content-Type": "multipart/form-data; boundary=b"})
    root = DET.fromstring(r.content)
    assert r.status_code == 400 and "closing boundary" in root.findtext("error/description")
    assert len(intake.sink.dead) == 1 and "malformed multipart" in intake.sink.dead[0][0]


@pytest.mark.parametrize("text", ["ctl:\x01\x02\x1f", "nul\x00end", "odd\ufffe"])
def test_text_no_xml_or_store_can_keep_is_refused_at_intake(intake: Intake, text: str) -> None:
    """A control character would make every XML list unreadable (XML 1.0 cannot hold it even escaped)
    and a NUL cannot be stored at all: refused with a reason instead of 201 and a report that never
    appears."""
    for field in ("description", "address_string"):
        r = intake.post(**{field: text})
        assert r.status_code == 400, r.text
        assert f"{field} holds a control character (U+" in r.json()[0]["description"]
    assert intake.post(description="tab\tand\nnew line\r\n").status_code == 201  # what XML keeps
    assert len(intake.sink.dead) == 2
    listed = requests.get(f"{intake.url}/requests.xml", timeout=30)
    assert len(DET.fromstring(listed.content).findall("request")) == 1


def test_a_list_stays_well_formed_xml_when_a_stored_text_holds_a_control_character(intake: Intake) -> None:
    rid = intake.post().json()[0]["service_request_id"]
    with intake.store.pool.connection() as conn:  # written by other means than the intake
        conn.execute("INSERT INTO field_report_status VALUES (now(), %s, 'in_progress', %s, "
                     "'operator:lan', 'urban_works', 'lighting_south')", (rid, "ctl\x01\ufffe done"))
    for url in (f"{intake.url}/requests.xml", f"{intake.url}/requests/{rid}.xml"):
        root = DET.fromstring(requests.get(url, timeout=30).content)
        assert root.findtext("request/status_notes") == "in_progress: ctl done"


@pytest.mark.parametrize(("path", "params", "code"), [
    ("/requests/%00.json", {}, 404),
    ("/requests.json", {"service_request_id": "x\x00y"}, 400),
    ("/requests.json", {"service_code": "x\x00y"}, 400),
    ("/requests.json", {"service_request_id": ",".join(f"HUE-{i}" for i in range(201))}, 400),
    ("/requests.json", {"end_date": "0001-01-01T00:00:00Z"}, 400),
    ("/requests.xml", {"start_date": "9999-12-31T23:59:59Z"}, 400),
])
def test_hostile_queries_are_answered_with_the_spec_error_not_500(
        intake: Intake, path: str, params: dict[str, str], code: int) -> None:
    r = requests.get(f"{intake.url}{path}", params=params, timeout=30)
    assert r.status_code == code, r.text
    body = r.json()[0] if path.endswith(".json") else {"code": int(DET.fromstring(r.content).findtext(
        "error/code"))}
    assert body["code"] == code


def test_a_browser_forms_empty_file_input_is_no_photo_and_others_are_named(intake: Intake) -> None:
    # what every browser sends for an <input type=file name=media> left empty
    r = intake.post(files=[("media", ("", b"", "application/octet-stream"))])
    assert r.status_code == 201, r.text
    r = intake.post(files=[("media[]", ("a.jpg", photo(), "image/jpeg"))])
    assert r.status_code == 400 and "file field media[] is not read" in r.json()[0]["description"]
    as_json = {"api_key": KEY, "service_code": "lighting", **INSIDE}
    r = requests.post(f"{intake.url}/requests.json", json=as_json, timeout=30)
    assert r.status_code == 415 and "as a form" in r.json()[0]["description"]
    for odd in ("16_4637", "١٦.٤٦٣٧", "0x10"):
        r = intake.post(lat=odd)
        assert r.status_code == 400 and "lat is not a number" in r.json()[0]["description"], odd


def test_a_photo_sent_without_a_file_name_is_a_photo(intake: Intake) -> None:
    """RFC 7578 makes a file part's name optional: an app posting its JPEG under ``media`` without one
    was read as a text field and refused as "not UTF-8". A part whose Content-Type says image, video or
    audio is a file; any other (none is text/plain by the RFC) stays a field."""
    r = intake.post(files=[("media", (None, photo(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    with intake.store.pool.connection() as conn:
        [photos] = conn.execute("SELECT photos FROM field_reports WHERE request_id = %s", (rid,)).fetchone()
    assert Path(photos[0]["path"]).read_bytes() == photo()
    r = intake.post(files=[("address_string", (None, "12 Lê Lợi".encode(), "application/octet-stream"))])
    assert r.status_code == 201, r.text  # a field as a part, even one a client labels as bytes
    got = requests.get(f"{intake.url}/requests/{r.json()[0]['service_request_id']}.json", timeout=30).json()
    assert got[0]["address"] == "12 Lê Lợi"


def test_an_apps_media_url_is_kept_and_answered_never_fetched(intake: Intake) -> None:
    """The spec's media_url (a photo the client app keeps) was dropped without a word: it is now kept
    with the report, answered in the request's media_url, and refused when it is no web address."""
    url = "HTTPS://media.hue-s.example/p/123.jpg?size=l"
    r = intake.post(media_url=url)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    [got] = requests.get(f"{intake.url}/requests/{rid}.json", timeout=30).json()
    assert got["media_url"] == "https" + url[5:]  # its scheme in lower case, the rest as sent
    xml = DET.fromstring(requests.get(f"{intake.url}/requests/{rid}.xml", timeout=30).content)
    assert xml.findtext("request/media_url") == "https" + url[5:]
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "http://", "https://a b/c.jpg", "//x.example/a"):
        r = intake.post(media_url=bad)
        assert r.status_code == 400 and "media_url is not an http(s) address" in r.text, bad
    assert intake.post(media_url="").status_code == 201  # an empty field: no photo elsewhere



def test_contact_details_are_not_kept_and_the_answer_says_so(intake: Intake) -> None:
    """The spec's email, names and phone are personal data this intake does not keep: they were dropped
    without a word, and a citizen waited for a mail that never came. The answer now says so."""
    r = intake.post(email="lan@example.vn", first_name="Lan", phone="0905 000 000",
                    headers={"Accept-Language": "vi"})
    assert r.status_code == 201, r.text
    [made] = r.json()
    assert made["service_notice"] == "Thông tin liên hệ không được lưu: hãy theo dõi phản ánh bằng mã của nó"
    with intake.store.pool.connection() as conn:
        row = conn.execute("SELECT to_jsonb(r)::text FROM field_reports r WHERE request_id = %s",
                           (made["service_request_id"],)).fetchone()
    assert row is not None and "lan@example.vn" not in row[0] and "0905" not in row[0]
    assert "Contact" not in intake.post(email=" ").json()[0]["service_notice"]  # a blank one: nothing to say


def test_a_web_app_on_another_origin_may_read_the_answers(intake: Intake) -> None:
    """No CORS header: a citizens' web app served from the city's portal could post a report (a form
    post needs no preflight) but its browser hid the answer, the request's id with it."""
    origin = {"Origin": "https://hue-s.example"}
    made = intake.post(headers=origin)
    assert made.status_code == 201 and made.headers["Access-Control-Allow-Origin"] == "*"
    refused = intake.post(headers=origin, service_code="nope")
    assert refused.status_code == 400 and refused.headers["Access-Control-Allow-Origin"] == "*"
    listed = requests.get(f"{intake.url}/services.json", headers=origin, timeout=30)
    assert listed.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in listed.headers  # no cookie is ever trusted


def test_discovery_names_the_endpoint_and_its_formats(intake: Intake) -> None:
    """Apps built for many cities start at the spec's service discovery: it answered 404."""
    got = requests.get(f"{intake.url}/discovery.json", timeout=30)
    assert got.status_code == 200, got.text
    doc = got.json()
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == intake.url.rstrip("/") and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"] and doc["changeset"]
    # the endpoint it names answers, in both formats
    assert requests.get(f"{endpoint['url']}/services.json", timeout=30).ok
    xml = DET.fromstring(requests.get(f"{intake.url}/discovery.xml", timeout=30).content)
    assert xml.tag == "discovery" and xml.findtext("endpoints/endpoint/url") == endpoint["url"]
    assert [f.text for f in xml.findall("endpoints/endpoint/formats/format")] == endpoint["formats"]


def test_refusals_without_a_key_are_throttled_per_address_and_kept_small(intake: Intake) -> None:
    """Posting garbage without a key cannot fill the store: a dead letter keeps the spec's fields only
    (200 characters each) and how many others came, and past the address's allowance a refusal is only
    counted (429, Retry-After)."""
    from ingest.reports.api import REFUSALS_BURST

    junk = {f"f{i}": "x" * 300 for i in range(250)}
    codes = [intake.post(api_key="wrong", description="d" * 300, **junk).status_code
             for _ in range(REFUSALS_BURST + 5)]
    assert codes[:REFUSALS_BURST] == [403] * REFUSALS_BURST and 429 in codes[REFUSALS_BURST:]
    kept = [payload for _, payload in intake.sink.dead if payload is not None]
    assert REFUSALS_BURST <= len(kept) < REFUSALS_BURST + 5
    assert kept[0]["other_fields"] == 250 and kept[0]["description"] == "d" * 200
    assert not any(k.startswith("f") for k in kept[0])
    late = intake.post(api_key="wrong")
    assert late.status_code == 429 and late.headers["Retry-After"] == "60"
    assert intake.post().status_code == 201  # a client with its key is not held by the address
