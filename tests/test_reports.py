"""Scheduled reports on a real PostgreSQL: periods, figures against what happened, PDF, two schedulers."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Clock
from pypdf import PdfReader

from alerts.lifecycle import Actor
from alerts.people import People
from alerts.service import AlertService
from dashboards.reports import archive
from dashboards.reports.figures import ReportFigures, gather
from dashboards.reports.making import run_due
from dashboards.reports.pdf import html_to_pdf
from dashboards.reports.periods import last_period, next_period_end, periods_between
from dashboards.reports.render import render_html
from dashboards.reports.settings import ReportSettings
from detectors.threshold import THRESHOLD_TITLES
from ioc.config import Settings
from ioc.events import AlertSignal
from ioc.store.database import Store

TZ = "Asia/Ho_Chi_Minh"  # UTC+7, no daylight saving
SHIFTS = ["06:00", "14:00", "22:00"]
LAN = Actor("lan", "duty_officer")
MINH = Actor("minh", "duty_officer")
# 2026-12-04 08:00 in Huế: inside the 06:00-14:00 shift, in the day that ends 2026-12-05 07:00
T0 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def signal(fp: str, minute: float, severity: str = "warning", area: str = "Đông Ba") -> AlertSignal:
    template = THRESHOLD_TITLES["above"]
    params = {"metric": "CO₂", "bound": "1000", "unit": " ppm", "minutes": "10", "area": f"{area} ({fp})"}
    return AlertSignal(time=T0 + timedelta(minutes=minute), source_id=fp, detector="threshold",
                       rule="co2-high",
                       fingerprint=fp, status="firing", severity=severity,  # type: ignore[arg-type]
                       title=template.format(**params), title_template=template, title_params=params,
                       area=area, started_at=T0, details={})


def test_periods_follow_the_citys_shifts_days_and_weeks() -> None:
    now = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # Monday 07:30 in Huế
    shift = last_period("shift", now, TZ, SHIFTS)
    assert shift is not None  # Monday 06:00-... : the last ended shift is Sunday 22:00 -> Monday 06:00
    assert (shift.start, shift.end) == (datetime(2026, 12, 6, 15, 0, tzinfo=UTC),
                                        datetime(2026, 12, 6, 23, 0, tzinfo=UTC))
    daily = last_period("daily", now, TZ, SHIFTS, "07:00")
    assert daily is not None and (daily.start, daily.end) == (datetime(2026, 12, 6, 0, 0, tzinfo=UTC),
                                                              datetime(2026, 12, 7, 0, 0, tzinfo=UTC))
    weekly = last_period("weekly", now, TZ, SHIFTS, "07:00", "mon")
    assert weekly is not None and weekly.end - weekly.start == timedelta(days=7)
    assert weekly.end == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    # three days down: every shift that ended in them, oldest first, back to back
    shifts = list(periods_between("shift", now - timedelta(days=3), now, TZ, SHIFTS))
    assert len(shifts) == 9 and all(a.end == b.start for a, b in zip(shifts, shifts[1:], strict=False))
    # what the archive page says comes next: each kind's next end after now (a mark at now has passed)
    assert next_period_end("shift", now, TZ, SHIFTS) == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 14:00
    assert next_period_end("daily", now, TZ, SHIFTS, "07:00") == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    assert next_period_end("weekly", now, TZ, SHIFTS, "07:00", "mon") \
        == datetime(2026, 12, 14, 0, 0, tzinfo=UTC)
    assert next_period_end("daily", datetime(2026, 12, 7, 0, 0, tzinfo=UTC), TZ, SHIFTS, "07:00") \
        == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)


def make_day(store: Store) -> Clock:
    """Three alerts in the day: one acknowledged by Lan in 10 min and resolved by Minh after 30 min,
    one acknowledged by Lan in 20 min, one critical left open and assigned to Minh."""
    clock = Clock(T0)
    People(store.pool).add_user("minh", "duty_officer", "correct horse battery")
    svc = AlertService(store.pool, clock=clock)
    a = svc.apply(signal("hue-co2-1", 0)).alert_id
    b = svc.apply(signal("hue-co2-2", 0, area="Vỹ Dạ")).alert_id
    c = svc.apply(signal("hue-co2-3", 0, severity="critical")).alert_id
    clock.advance(minutes=10)
    svc.acknowledge(a, LAN, "on it")
    clock.advance(minutes=10)
    svc.acknowledge(b, LAN)
    svc.assign(c, MINH, "minh")
    clock.advance(minutes=10)
    svc.resolve(a, MINH, "sensor cleaned")
    return clock


def test_figures_of_a_recorded_day_match_what_the_officers_did(plain_store: Store) -> None:
    make_day(plain_store)
    start, end = datetime(2026, 12, 4, 0, 0, tzinfo=UTC), datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    f = gather(plain_store.pool, start, end)
    assert (f.raised, f.acknowledged, f.resolved) == (3, 3, 1)  # assigning acknowledges too
    assert f.mean_ack == timedelta(minutes=(10 + 20 + 20) / 3) and f.mean_resolve == timedelta(minutes=30)
    officers = {o.name: o for o in f.officers}
    assert officers["lan"].acknowledged == 2 and officers["lan"].mean_ack == timedelta(minutes=15)
    assert officers["minh"].acknowledged == 1 and officers["minh"].mean_ack == timedelta(minutes=20)
    assert officers["minh"].resolved == 1 and officers["minh"].mean_resolve == timedelta(minutes=30)
    assert [(a["source_id"], a["holder"]) for a in f.open_critical] == [("hue-co2-3", "minh")]
    assert f.by_area == {"Đông Ba": {"warning": 1, "critical": 1}, "Vỹ Dạ": {"warning": 1}}
    assert f.incidents and sum(len(rows) for rows in f.timeline.values()) >= 5
    # the day before holds nothing
    empty = gather(plain_store.pool, start - timedelta(days=1), start)
    assert (empty.raised, empty.acknowledged, empty.open_critical) == (0, 0, [])


def test_report_in_both_languages_prints_to_a_pdf_with_tables_and_charts(plain_store: Store) -> None:
    make_day(plain_store)
    day = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    f = gather(plain_store.pool, day, day + timedelta(days=1))
    vi = render_html("daily", f, "vi", TZ, "Huế", simulated=True)
    en = render_html("daily", f, "en", TZ, "Huế")
    assert "Báo cáo sự cố hằng ngày" in vi and "MÔ PHỎNG" in vi and "Thời gian tiếp nhận trung bình" in vi
    assert "15 phút" in vi and "07:00" in vi  # Huế time, not UTC
    assert "CO₂ trên 1000 ppm trong 10 phút tại" in vi and "CO₂ above 1000 ppm for 10 min at" in en  # titles
    assert "Daily incident report" in en and "SIMULATED" not in en and "15 min" in en
    assert "<script" not in vi and "<svg" in vi
    # the incidents' timelines say who did what in the report's language, as the console does
    assert "<td>đã xác nhận</td>" in vi and "hệ thống" in vi and "<td>acknowledge</td>" not in vi
    assert "<td>acknowledged</td>" in en and "<td>system</td><td>raised</td><td>open</td>" in en  # no "– →"
    # each incident and the rule chart name its rule as people say it, not by the detector's code
    assert "· Vượt ngưỡng ·" in vi and "· Threshold exceeded ·" in en and "· threshold ·" not in vi + en
    assert ">Vượt ngưỡng<" in vi and ">threshold<" not in vi  # a bar's label in the rule chart
    assert not f.roles and "Không có tiến trình nào gửi tín hiệu hoạt động" in vi  # not a bare header
    reader = PdfReader(io.BytesIO(html_to_pdf(en)))
    text = " ".join(page.extract_text() for page in reader.pages)
    for expected in ("Daily incident report", "Alerts by area and severity", "lan", "minh", "hue-co2-3"):
        assert expected in text


def test_the_pdf_printer_fetches_nothing_a_report_names() -> None:
    """The printer opens the report as a file:// page: had any text reached the page as markup, an
    image there would have been fetched from the network or read from the disk. The report's own
    policy (default-src 'none', images only as data: URIs) lets nothing out."""
    from tests.browser import serving_wsgi

    asked: list[str] = []

    def site(environ: dict, start: Any) -> list[bytes]:
        asked.append(environ["PATH_INFO"])
        start("200 OK", [("Content-Type", "image/png")])
        return [b""]

    f = ReportFigures(datetime(2026, 12, 4, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC))
    page = render_html("daily", f, "en", TZ, "Huế")
    with serving_wsgi(site) as base:
        planted = page.replace("<body>", f'<body><img src="{base}/planted.png">'
                                         f'<link rel="stylesheet" href="{base}/planted.css">'
                                         '<iframe src="file:///etc/passwd"></iframe>', 1)
        assert html_to_pdf(planted).startswith(b"%PDF")
        assert asked == []  # the report's policy let nothing out
        html_to_pdf(planted.replace('http-equiv="Content-Security-Policy"', 'name="no-policy"'))
    assert "/planted.png" in asked  # without the policy the printer fetches it: this test would notice


def test_a_long_timeline_shows_its_first_entries_and_says_how_many_it_leaves_out(plain_store: Store) -> None:
    """An incident of 250 notes: its report shows the first 200 and says "50 later entries not shown";
    the other incident of the day keeps its whole timeline (the cut was 500 rows for all together)."""
    clock = make_day(plain_store)
    svc = AlertService(plain_store.pool, clock=clock)
    chatty = svc.apply(signal("hue-co2-9", 40, area="Phú Hội")).alert_id
    for n in range(249):
        clock.advance(seconds=10)
        svc.comment(chatty, LAN, f"call {n}")  # type: ignore[arg-type]
    day = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    f = gather(plain_store.pool, day, day + timedelta(days=1))
    incident = svc.get(chatty).incident_id  # type: ignore[arg-type]
    assert len(f.timeline[incident]) == 200 and f.timeline_left[incident] == 50  # type: ignore[index]
    assert [r["note"] for r in f.timeline[incident][1:3]] == ["call 0", "call 1"]  # type: ignore[index]
    others = [i["id"] for i in f.incidents if i["id"] != incident]
    assert others and all(f.timeline_left[i] == 0 for i in others)
    vi, en = (render_html("daily", f, lang, TZ, "Huế") for lang in ("vi", "en"))
    assert "50 later entries not shown" in en and "50 mục sau không được hiển thị" in vi


def test_two_schedulers_make_one_report_per_period_and_catch_up_after_downtime(plain_store: Store) -> None:
    make_day(plain_store)
    cfg = ReportSettings(kinds=["daily", "shift"], languages=["vi"], pdf=False, catch_up_days=2)
    now = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 08:00 on the 5th: the day to 07:00 has ended
    made: list[list[int]] = []

    def scheduler(name: str) -> None:
        made.append(run_due(plain_store.pool, cfg, tz=TZ, city="Huế", shift_starts=SHIFTS, maker=name,
                            now=now))

    threads = [threading.Thread(target=scheduler, args=(f"scheduler-{i}",)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rows = archive.recent(plain_store.pool, limit=100)
    keys = [(r.kind, r.period_start) for r in rows]
    assert len(keys) == len(set(keys)) == sum(len(m) for m in made)  # nothing made twice
    assert sum(r.kind == "daily" for r in rows) == 2 and sum(r.kind == "shift" for r in rows) == 6
    assert all(r.state == "done" for r in rows)
    # a later check makes only the periods that ended since
    later = run_due(plain_store.pool, cfg, tz=TZ, city="Huế", shift_starts=SHIFTS, maker="scheduler-0",
                    now=now + timedelta(hours=8))
    assert len(later) == 1  # the 06:00-14:00 shift of the 5th


def test_reports_page_needs_a_session_lists_reports_and_makes_one_for_an_incident(plain_store: Store) -> None:
    import re

    from dashboards.app import create_app

    make_day(plain_store)
    People(plain_store.pool).add_user("lan", "duty_officer", "correct horse battery")
    run_due(plain_store.pool, ReportSettings(kinds=["daily"], languages=["en"], pdf=False, catch_up_days=2),
            tz=TZ, city="Huế", shift_starts=SHIFTS, maker="s", now=datetime(2026, 12, 5, 1, 0, tzinfo=UTC))
    client = create_app(plain_store.pool, Settings()).server.test_client()
    anonymous = client.get("/reports/", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post("/login", data={"username": "lan", "password": "correct horse battery",
                                         "csrf_token": token.group(1), "next": "/reports/"})
    assert answer.status_code in (302, 303)
    listing = client.get("/reports/?lang=en").get_data(as_text=True)
    assert "Daily incident report" in listing and ".html" in listing
    assert "No report made yet." not in listing and 'href="/">←' in listing  # and a way back to the wall
    # when the next scheduled reports come, so an archive without them reads as "not yet"
    assert re.search(r"Next scheduled reports: Shift handover report [^;]+; Daily incident report [^;]+; "
                     r"Weekly incident report", listing), listing
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing)
    assert token is not None
    with plain_store.pool.connection() as conn:
        incident = conn.execute("SELECT min(id) FROM incidents").fetchone()
    assert incident is not None
    # the console's link: the form comes filled in
    asked = client.get(f"/reports/?lang=en&incident={incident[0]}").get_data(as_text=True)
    assert f'name="incident" type="number" min="1" required value="{incident[0]}"' in asked
    assert 'required value=' not in client.get("/reports/?incident=1%3Cb").get_data(as_text=True)
    made = client.post("/reports/incident", data={"incident": str(incident[0]), "lang": "vi",
                                                  "csrf_token": token.group(1)})
    assert made.status_code == 303
    from tests.test_reports_attacks import incident_reports

    mine = incident_reports(plain_store)  # made off the request: the list says so meanwhile
    assert len(mine) == 1 and mine[0].incident_id == incident[0] and mine[0].state == "done"
    body = client.get(f"/reports/{mine[0].id}.html").get_data(as_text=True)
    assert "Báo cáo sự cố" in body and "lan" in body


def test_a_report_is_delivered_through_the_notification_outbox(plain_store: Store) -> None:
    make_day(plain_store)
    cfg = ReportSettings(kinds=["daily"], languages=["en"], pdf=False, catch_up_days=1,
                         recipients=["shift_lead"], channels=["email"], base_url="https://ioc.example/")
    made = run_due(plain_store.pool, cfg, tz=TZ, city="Huế", shift_starts=SHIFTS, maker="s",
                   now=datetime(2026, 12, 5, 1, 0, tzinfo=UTC))
    assert len(made) == 1
    with plain_store.pool.connection() as conn:
        rows = conn.execute("SELECT channel, recipient, reason, subject, payload->>'message', state "
                            "FROM notifications WHERE reason = 'report'").fetchall()
    assert len(rows) == 1
    channel, recipient, reason, subject, message, state = rows[0]
    assert (channel, recipient, reason, state) == ("email", "shift_lead", "report", "pending")
    assert subject.startswith("Daily incident report · Huế")
    assert f"https://ioc.example/reports/{made[0]}.pdf" in message


def test_a_report_without_the_servers_address_names_itself_in_the_recipients_language(
        plain_store: Store) -> None:
    make_day(plain_store)
    cfg = ReportSettings(kinds=["daily"], languages=["vi", "en"], pdf=False, catch_up_days=1,
                         recipients=["shift_lead"], channels=["email"], base_url="")
    made = run_due(plain_store.pool, cfg, tz=TZ, city="Huế", shift_starts=SHIFTS, maker="s",
                   now=datetime(2026, 12, 5, 1, 0, tzinfo=UTC))
    assert len(made) == 2  # one per language; the recipient (no console user) reads the first, Vietnamese
    with plain_store.pool.connection() as conn:
        [(message, language)] = conn.execute("SELECT payload->>'message', payload->>'language' "
                                             "FROM notifications WHERE reason = 'report'").fetchall()
    assert language == "vi"
    assert message.endswith(f"Báo cáo số {made[0]}: xem tại trang Báo cáo."), message
    assert "report " not in message


def test_reports_carry_the_services_on_time_rate_by_department_and_the_overdue_count(
        plain_store: Store) -> None:
    from ingest.services.simulator import dossier_rows
    from ioc.feeds.services.records import DossierEvent
    from ioc.store.writer import StoreWriter

    start, end = datetime(2026, 12, 4, 0, 0, tzinfo=UTC), datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    rows = list(dossier_rows(start - timedelta(days=20), end, per_day=60))
    writer = StoreWriter(plain_store.pool, plain_store.caps)
    writer.write([DossierEvent(source_id="motcua", **r) for r in rows])
    last = {r["dossier_id"]: r for r in rows}  # each dossier as it stood at ``end``
    expected: dict[str, list[int]] = {}
    for d in last.values():
        if d.get("finished") and start <= d["finished"] < end:
            counts = expected.setdefault(d["department"], [0, 0])
            counts[0] += 1
            counts[1] += d["finished"] <= d["due"]
    overdue = sum(1 for d in last.values() if d["due"] < end and not d.get("finished"))
    f = gather(plain_store.pool, start, end)
    assert {d["department"]: [d["finished"], d["on_time"]] for d in f.services_on_time} == expected
    assert [d["rate"] for d in f.services_on_time] == sorted(d["rate"] for d in f.services_on_time)
    assert f.services_overdue == overdue > 0
    vi = render_html("daily", f, "vi", TZ, "Huế", simulated=True)
    assert "Dịch vụ hành chính công" in vi and "Hồ sơ quá hạn cuối kỳ" in vi
    assert f"<b>{overdue}</b>" in vi and f.services_on_time[0]["department"] in vi


def test_an_empty_archive_says_no_report_yet_and_when_the_next_come_or_that_none_are_scheduled(
        plain_store: Store) -> None:
    """A manager opening /reports/ on a new system saw a bare table header: the page now says no report
    is made yet and when the scheduled ones come, in the reader's language, or that they are off."""
    from tests import app_login

    client, _ = app_login.logged_in(plain_store, "lan", "duty_officer", next_page="/reports/")
    page = client.get("/reports/?lang=vi").get_data(as_text=True)
    assert "Chưa có báo cáo nào được lập." in page and "Báo cáo định kỳ tiếp theo: " in page
    assert "Báo cáo giao ca" in page and "Báo cáo sự cố hằng ngày" in page
    off = Settings.model_validate({"reports": {"enabled": False}})
    client, _ = app_login.logged_in(plain_store, "minh2", "duty_officer", settings=off, next_page="/reports/")
    page = client.get("/reports/?lang=en").get_data(as_text=True)
    assert "No report made yet." in page and "Scheduled reports are off ([reports] enabled)." in page
    assert "Next scheduled reports" not in page
