"""The reports page attacked by logged-in users through the real app on a real PostgreSQL: an incident
report holds what officers did after its last alert, and asking again and again for a report on an
incident that did not change makes no more reports (each one a headless Chromium run in the request)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Clock
from test_reports import LAN, MINH

from alerts.service import AlertService
from dashboards.reports import archive
from detectors.threshold import THRESHOLD_TITLES
from ioc.events import AlertSignal
from ioc.store.database import Store
from tests import app_login
from tests.waiting import HANG_GUARD_S, wait_for


def logged_in(store: Store, name: str, role: str) -> tuple[Any, str]:
    """A test client logged in through ``/login`` as ``name`` (``role``), and its CSRF token."""
    return app_login.logged_in(store, name, role, next_page="/reports/")


def an_incident(store: Store) -> tuple[AlertService, Clock, int, int]:
    """One alert two hours ago (the service's clock is the wall's, as it runs), acknowledged with a note
    half an hour later: the service, its clock, the alert's id and its incident's."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    clock = Clock(at)
    svc = AlertService(store.pool, clock=clock)
    params = {"metric": "CO₂", "bound": "1000", "unit": " ppm", "minutes": "10", "area": "Đông Ba"}
    template = THRESHOLD_TITLES["above"]
    alert = svc.apply(AlertSignal(time=at, source_id="hue-co2-1", detector="threshold", rule="co2-high",
                                  fingerprint="hue-co2-1", status="firing", severity="warning",
                                  title=template.format(**params), title_template=template,
                                  title_params=params, area="Đông Ba", started_at=at, details={})).alert_id
    clock.advance(minutes=30)
    svc.acknowledge(alert, LAN, "pump 3 restarted <b>by hand</b>")
    with store.pool.connection() as conn:
        row = conn.execute("SELECT incident_id FROM alerts WHERE id = %s", (alert,)).fetchone()
    assert row is not None and row[0] is not None
    return svc, clock, alert, int(row[0])


def incident_reports(store: Store) -> list[archive.ArchivedReport]:
    """The incident reports, once none is still being made (they are made off the request)."""
    def made() -> list[archive.ArchivedReport] | None:
        reports = [r for r in archive.recent(store.pool) if r.kind == "incident"]
        return None if any(r.state == "claimed" for r in reports) else reports

    return wait_for(made, "the incident reports made") or []


def test_an_incident_report_holds_what_officers_did_after_its_last_alert(plain_store: Store) -> None:
    _, _, _, incident = an_incident(plain_store)
    client, token = logged_in(plain_store, "lan", "duty_officer")
    made = client.post("/reports/incident", data={"incident": str(incident), "lang": "en",
                                                  "csrf_token": token})
    assert made.status_code == 303
    (report,) = incident_reports(plain_store)
    body = client.get(f"/reports/{report.id}.html").get_data(as_text=True)
    assert "pump 3 restarted &lt;b&gt;by hand&lt;/b&gt;" in body  # the note, as text


def test_asking_again_for_an_unchanged_incident_makes_no_second_report(plain_store: Store) -> None:
    svc, clock, alert, incident = an_incident(plain_store)
    client, token = logged_in(plain_store, "lan", "duty_officer")
    for _ in range(3):
        made = client.post("/reports/incident", data={"incident": str(incident), "lang": "en",
                                                      "csrf_token": token})
        assert made.status_code == 303 and made.headers["Location"] == "/reports/"
    assert len(incident_reports(plain_store)) == 1
    assert client.post("/reports/incident", data={"incident": str(incident), "lang": "vi",
                                                  "csrf_token": token}).status_code == 303
    assert len(incident_reports(plain_store)) == 2  # each language has its report
    clock.t = datetime.now(UTC)  # after the reports were made (the service writes the wall's time)
    svc.resolve(alert, MINH, "sensor cleaned")  # the incident's history moved on: a new report says so
    client.post("/reports/incident", data={"incident": str(incident), "lang": "en", "csrf_token": token})
    reports = incident_reports(plain_store)
    assert len(reports) == 3 and all(r.state == "done" for r in reports)
    newest = max(reports, key=lambda r: r.id)
    assert "sensor cleaned" in client.get(f"/reports/{newest.id}.html").get_data(as_text=True)
    for bad in ("99999999999999999999999", "-1", "1e3", "", "x"):  # never a 500
        assert client.post("/reports/incident", data={"incident": bad, "csrf_token": token}).status_code in (
            400, 404)
    viewer, viewer_token = logged_in(plain_store, "kiosk", "viewer")
    assert viewer.post("/reports/incident", data={"incident": str(incident),
                                                  "csrf_token": viewer_token}).status_code == 403


def test_the_officer_is_answered_while_the_pdf_is_still_printing(plain_store: Store, tmp_path: Any) -> None:
    """Chromium prints the PDF off the request: a "browser" that blocks until the test lets it go is
    configured; the officer is sent back to the list at once, which says the report is being made and
    looks again until it is there."""
    import os
    import stat

    from ioc.config import Settings

    gate = tmp_path / "gate"
    os.mkfifo(gate)
    printer = tmp_path / "chromium"
    # waits for the gate, the suite's hang guard at most: a maker that prints in the request then
    # fails this test instead of hanging it
    printer.write_text(f"#!/bin/sh\ntimeout {HANG_GUARD_S:.0f} cat {gate} > /dev/null\nexit 3\n")
    printer.chmod(printer.stat().st_mode | stat.S_IXUSR)
    _, _, _, incident = an_incident(plain_store)
    settings = Settings(reports={"chromium": str(printer)})
    client, token = app_login.logged_in(plain_store, "lan", "duty_officer", settings, "/reports/")
    made = client.post("/reports/incident",
                       data={"incident": str(incident), "lang": "en", "csrf_token": token})
    assert made.status_code == 303
    listing = client.get("/reports/?lang=en").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in listing and "being made" in listing
    def printer_waiting() -> int | None:
        try:
            return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the printer opened it
        except OSError:
            return None

    release = wait_for(printer_waiting, "the printer waiting for the gate")
    os.write(release, b"go\n")  # the printer reads it and fails: the report is made without a PDF
    os.close(release)
    (report,) = incident_reports(plain_store)
    assert report.state == "done" and not report.has_pdf
    assert '<meta http-equiv="refresh"' not in client.get("/reports/?lang=en").get_data(as_text=True)
