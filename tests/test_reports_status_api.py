"""Staff change a report's status through the pages' API over real HTTP (login, CSRF, roles), every
change audited in the store, shown by Open311 ``GET requests/{id}`` and relayed to the bus."""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import migrated_database
from defusedxml import ElementTree as DET

from alerts.people import People
from ingest.reports.api import build_app
from ingest.reports.reader import StoreReportReader
from ingest.reports.relay import OutboxRelay
from ingest.reports.simulator import SAMPLE
from ingest.reports.store_sink import StoreSink
from ioc.config import Settings
from ioc.events import Event
from ioc.feeds.reports.records import FieldReport, ReportStatusChange
from ioc.feeds.reports.settings import ReportsFeed
from ioc.http_server import ThreadedServer
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.writer import StoreWriter
from tests.browser import serving_pages

PASSWORD = "correct horse battery staple"


@dataclass
class Served:
    pages: str
    open311: str
    store: Store


def report(rid: str, received: datetime) -> list[Event]:
    return [FieldReport(time=received, source_id=rid, service_code="lighting", category="Street light out",
                        lat=16.4637, lon=107.5909, ward="Phú Hội", client="hue_s", department="urban_works",
                        assignee_group="lighting_south", ack_due=received + timedelta(hours=2),
                        resolve_due=received + timedelta(days=2)),
            ReportStatusChange(time=received, source_id=rid, status="received", actor="client:hue_s")]


@pytest.fixture
def served(pg_plain: EmbeddedPostgres) -> Iterator[Served]:
    store = open_store(migrated_database(pg_plain), pool_max=12, want_timescaledb=False)
    received = datetime.now(UTC) - timedelta(minutes=20)
    StoreWriter(store.pool, store.caps).write([*report("HUE-A", received), *report("HUE-B", received),
                                               *report("HUE-C", received)])
    people = People(store.pool)
    people.add_user("lan", "operator", PASSWORD)
    people.add_user("kiosk", "viewer", PASSWORD)
    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()))
    sink = StoreSink(store.pool)
    intake = ThreadedServer(build_app(cfg, sink.publish, sink.dead_letter, StoreReportReader(store.pool)),
                            "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=intake.serve_forever, daemon=True)
    thread.start()
    try:
        with serving_pages(store.pool, Settings()) as base:
            yield Served(base, f"http://127.0.0.1:{intake.server_port}", store)
    finally:
        intake.shutdown()
        thread.join(timeout=30)
        store.close()


def logged_in(base: str, name: str) -> requests.Session:
    """A session logged in through the login form, as a browser would (CSRF field from the form)."""
    s = requests.Session()
    form = s.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = s.post(f"{base}/login", data={"username": name, "password": PASSWORD, "csrf_token": token[1],
                                           "next": "/reports311/"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    return s


def change(s: requests.Session, base: str, rid: str, **body: str) -> requests.Response:
    return s.post(f"{base}/reports311/api/requests/{rid}/status", json=body, timeout=30,
                  headers={"X-CSRFToken": s.cookies.get("_csrf_token") or ""})


def test_staff_move_a_report_through_its_lifecycle(served: Served) -> None:
    lan = logged_in(served.pages, "lan")
    assigned = change(lan, served.pages, "HUE-A", status="assigned", assignee_group="lighting_north")
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_group"] == "lighting_north" and assigned.json()["actor"] == "lan"
    assert change(lan, served.pages, "HUE-A", status="in_progress").status_code == 200
    assert change(lan, served.pages, "HUE-A", status="resolved", reason="lamp replaced").status_code == 200
    again = change(lan, served.pages, "HUE-A", status="in_progress")
    assert again.status_code == 409 and "resolved" in again.json()["error"]
    # the same refusals asked from a Vietnamese screen read in Vietnamese, statuses by their names
    vi = lan.post(f"{served.pages}/reports311/api/requests/HUE-A/status?lang=vi",
                  json={"status": "in_progress"},
                  headers={"X-CSRFToken": lan.cookies.get("_csrf_token") or ""}, timeout=30)
    assert vi.status_code == 409
    assert vi.json()["error"] == \
        "phản ánh HUE-A đang ở trạng thái “Đã xử lý”: không thể chuyển sang “Đang xử lý”"
    lan.cookies.set("ioc_lang", "vi")  # the cookie a Vietnamese screen leaves: every answer follows it
    missing = change(lan, served.pages, "HUE-NONE", status="assigned").json()["error"]
    assert missing == "không có phản ánh HUE-NONE"
    too_long = change(lan, served.pages, "HUE-B", status="rejected", reason="x" * 1001).json()["error"]
    assert too_long == "lý do dài quá 1.000 ký tự"
    lan.cookies.set("ioc_lang", "en")
    # refused: no reason for a rejection, an unknown status, an unknown report, a bad team code
    assert change(lan, served.pages, "HUE-B", status="rejected").status_code == 400
    assert change(lan, served.pages, "HUE-B", status="closed").status_code == 400
    assert change(lan, served.pages, "HUE-NONE", status="assigned").status_code == 404
    bad_team = change(lan, served.pages, "HUE-B", status="assigned", assignee_group="no spaces!")
    assert bad_team.status_code == 400
    assert change(lan, served.pages, "HUE-B", status="rejected", reason="outside the city's remit").ok

    with served.store.pool.connection() as conn:  # the audit: who, what, why, in order
        rows = conn.execute("SELECT status, actor, reason FROM field_report_status "
                            "WHERE request_id = 'HUE-A' ORDER BY time").fetchall()
        queued = conn.execute("SELECT count(*) FROM field_report_outbox").fetchone()[0]
    assert rows == [("received", "client:hue_s", ""), ("assigned", "lan", ""), ("in_progress", "lan", ""),
                    ("resolved", "lan", "lamp replaced")]
    assert queued == 4

    # the citizen sees every change through Open311, in JSON and XML (the staff member is not named)
    [seen] = requests.get(f"{served.open311}/requests/HUE-A.json", timeout=30).json()
    assert seen["status"] == "closed" and seen["status_notes"] == "resolved: lamp replaced"
    history = seen["extended_attributes"]["history"]
    assert [h["status"] for h in history] == ["received", "assigned", "in_progress", "resolved"]
    assert history[1]["assignee_group"] == "lighting_north" and "lan" not in str(history)
    xml = DET.fromstring(requests.get(f"{served.open311}/requests/HUE-B.xml", timeout=30).content)
    assert [c.findtext("status") for c in xml.iter("change")] == ["received", "rejected"]
    assert xml.find("request/extended_attributes/history/change[2]/reason").text == "outside the city's remit"

    # the outbox goes to the bus once, oldest first, so the deadline rules see the changes
    sent: list[Event] = []
    relay = OutboxRelay(served.store.pool, sent.extend, lambda reason, payload: None)
    assert relay.relay_once() == 4 and relay.relay_once() == 0
    assert [(e.source_id, e.status) for e in sent] == [("HUE-A", "assigned"), ("HUE-A", "in_progress"),  # type: ignore
                                                       ("HUE-A", "resolved"), ("HUE-B", "rejected")]


def test_only_logged_in_staff_with_the_token_may_change(served: Served) -> None:
    url = f"{served.pages}/reports311/api/requests/HUE-C/status"
    assert requests.post(url, json={"status": "assigned"}, timeout=30).status_code == 403  # no CSRF token
    anonymous = requests.Session()
    anonymous.get(f"{served.pages}/login", timeout=30)
    token = anonymous.cookies.get("_csrf_token") or ""
    assert anonymous.post(url, json={"status": "assigned"}, headers={"X-CSRFToken": token},
                          timeout=30).status_code == 401
    kiosk = logged_in(served.pages, "kiosk")
    refused = change(kiosk, served.pages, "HUE-C", status="assigned")
    assert refused.status_code == 403 and "viewer" in refused.json()["error"]
    kiosk.cookies.set("ioc_lang", "vi")
    assert change(kiosk, served.pages, "HUE-C", status="assigned").json()["error"] == \
        "người xem không được thay đổi phản ánh"
    lan = logged_in(served.pages, "lan")
    assert lan.post(url, json={"status": "assigned"}, timeout=30).status_code == 403  # token missing
    with served.store.pool.connection() as conn:
        changes = conn.execute("SELECT count(*) FROM field_report_status "
                               "WHERE request_id = 'HUE-C'").fetchone()
    assert changes[0] == 1


def test_concurrent_changes_of_one_report_make_one_change(served: Served) -> None:
    lan = logged_in(served.pages, "lan")
    assert change(lan, served.pages, "HUE-C", status="assigned").ok
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: change(lan, served.pages, "HUE-C", status="resolved").status_code,
                              range(8)))
    assert sorted(codes) == [200] + [409] * 7
    with served.store.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM field_report_status WHERE request_id = 'HUE-C' AND "
                            "status = 'resolved'").fetchone()[0] == 1
