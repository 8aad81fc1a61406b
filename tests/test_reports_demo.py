"""``ioc demo`` runs the Open311 intake on its private PostgreSQL, fed by the SIMULATED reports: its
GET answers from the store, staff move a report on /reports311/, the citizen sees it."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import requests

from ioc.store.embedded import PASSWORD_FILE
from tests.demo_process import running_demo, sample_config
from tests.test_reports_status_api import change
from tests.waiting import wait_for


def test_demo_serves_open311_from_its_store_and_staff_changes_show(tmp_path: Path) -> None:
    with running_demo("--config", str(sample_config(tmp_path, cameras=False))) as demo:
        intake = wait_for(lambda: re.search(r"Open311: (http://127\.0\.0\.1:\d+/)", demo.output),
                          "the Open311 address")[1]
        login = wait_for(lambda: re.search(r"duty officer '([^']+)', password '([^']+)'", demo.output),
                         "the console's login")
        reports = wait_for(lambda: requests.get(f"{intake}requests.json?status=open", timeout=30).json(),
                           "open reports read from the store")
        assert all(r["description"].startswith("SIMULATED") for r in reports)
        # a citizen's app posts one; it goes over the bus into the store, where GET finds it
        posted = requests.post(f"{intake}requests.json", timeout=30, data={
            "api_key": "SIMULATED-hue-s-app-key-0001", "service_code": "waste", "lat": "16.4637",
            "long": "107.5909", "description": "SIMULATED: test report"})
        assert posted.status_code == 201, posted.text
        rid = posted.json()[0]["service_request_id"]
        wait_for(lambda: requests.get(f"{intake}requests/{rid}.json", timeout=30).ok,
                 "the posted report stored")

        staff = requests.Session()
        form = staff.get(f"{demo.url}login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        staff.post(f"{demo.url}login", data={"username": login[1], "password": login[2],
                                             "csrf_token": token[1], "next": "/reports311/"}, timeout=30)
        page = staff.get(f"{demo.url}reports311/", timeout=30)
        assert page.status_code == 200 and "/login" not in page.url
        moved = change(staff, demo.url.rstrip("/"), rid, status="assigned")
        assert moved.status_code == 200, moved.text
        seen = requests.get(f"{intake}requests/{rid}.json", timeout=30).json()[0]
        assert [h["status"] for h in seen["extended_attributes"]["history"]] == ["received", "assigned"]
        assert seen["status"] == "open" and seen["status_notes"] == "assigned"

        # the intake relays the change from the store's outbox to the bus (for the deadline rules)
        dsn = wait_for(lambda: re.search(r"\((postgresql://\S+)\)", demo.output), "the store's address")[1]
        assert demo.data_dir is not None  # the embedded store: its generated password is in its folder
        password = (demo.data_dir / "pgdata" / PASSWORD_FILE).read_text().strip()
        with psycopg.connect(dsn, password=password, autocommit=True) as conn:
            wait_for(lambda: conn.execute("SELECT count(*) FROM field_report_outbox").fetchone()[0] == 0,
                     "the outbox relayed to the bus")
