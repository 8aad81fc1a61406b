"""The field-report rules on recorded event lists, in Huế's time (Asia/Ho_Chi_Minh, UTC+7, no DST)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from detectors.reports import ReportBurstDetector, ReportDeadlineDetector
from ioc.events import AlertSignal, Event
from ioc.feeds.reports.records import FieldReport, ReportStatusChange
from ioc.feeds.reports.settings import ReportsRules

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
RULES = ReportsRules(warn_fraction=0.75, burst_count=3, burst_minutes=30)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=HUE)


def report(rid: str, at: str, ack_min: float = 120, resolve_min: float = 720, code: str = "lighting",
           ward: str = "Phú Hội", dup: str | None = None, category: str | None = None) -> FieldReport:
    t = local(at)
    return FieldReport(time=t, source_id=rid, service_code=code, category=category or code,
                       lat=16.46, lon=107.59, ward=ward, client="hue_s", department="urban_works",
                       assignee_group="night",
                       ack_due=t + timedelta(minutes=ack_min), resolve_due=t + timedelta(minutes=resolve_min),
                       duplicate_of=dup)


def status(rid: str, at: str, st: str, reason: str = "") -> ReportStatusChange:
    return ReportStatusChange(time=local(at), source_id=rid, status=st, reason=reason, actor="op")


def replay(detector: ReportDeadlineDetector | ReportBurstDetector,
           script: list[Event | str]) -> list[tuple[str, str, str, str]]:
    """Events observed and watermarks (local time strings) advanced, in order; signals as tuples."""
    out: list[AlertSignal] = []
    for step in script:
        out += detector.advance(local(step)) if isinstance(step, str) else detector.observe(step)
    return [(s.fingerprint, s.status, s.severity, s.time.astimezone(HUE).strftime("%d %H:%M")) for s in out]


def test_ack_deadline_across_the_night_shift_change() -> None:
    # received 21:30 by the day shift, due 23:30; warning at 75% = 23:00; the night shift (22:00-06:00)
    # acknowledges only at 23:40: critical at 23:30, then both resolve
    script: list[Event | str] = [
        report("R1", "2026-12-04T21:30"), "2026-12-04T22:00", "2026-12-04T22:59", "2026-12-04T23:00",
        "2026-12-04T23:29", "2026-12-04T23:31", status("R1", "2026-12-04T23:40", "assigned"),
        "2026-12-05T00:00",
    ]
    assert replay(ReportDeadlineDetector(RULES), script) == [
        ("reports.deadline:R1:ack:warning", "firing", "warning", "04 23:00"),
        ("reports.deadline:R1:ack:warning", "resolved", "warning", "04 23:30"),
        ("reports.deadline:R1:ack:critical", "firing", "critical", "04 23:30"),
        ("reports.deadline:R1:ack:critical", "resolved", "critical", "04 23:40"),
    ]


def test_resolve_deadline_over_midnight_and_a_met_one_stays_silent() -> None:
    script: list[Event | str] = [
        report("R2", "2026-12-04T20:00", ack_min=60, resolve_min=360),  # resolve due 02:00 next day
        report("R3", "2026-12-04T20:05", ack_min=60, resolve_min=360),
        status("R2", "2026-12-04T20:30", "in_progress"), status("R3", "2026-12-04T20:10", "assigned"),
        status("R3", "2026-12-04T23:00", "resolved"),
        "2026-12-05T01:00", "2026-12-05T02:01", status("R2", "2026-12-05T05:55", "rejected", "not ours"),
    ]
    assert replay(ReportDeadlineDetector(RULES), script) == [
        ("reports.deadline:R2:resolve:warning", "firing", "warning", "05 00:30"),
        ("reports.deadline:R2:resolve:warning", "resolved", "warning", "05 02:00"),
        ("reports.deadline:R2:resolve:critical", "firing", "critical", "05 02:00"),
        ("reports.deadline:R2:resolve:critical", "resolved", "critical", "05 05:55"),
    ]


def test_out_of_order_status_repeats_and_restore_give_the_same_signals() -> None:
    events: list[Event | str] = [
        status("R4", "2026-12-04T08:10", "assigned"), report("R4", "2026-12-04T08:00"),
        report("R4", "2026-12-04T08:00"), "2026-12-04T19:00", "2026-12-04T20:01",
    ]
    whole = replay(ReportDeadlineDetector(RULES), events)
    first = ReportDeadlineDetector(RULES)
    head = replay(first, events[:3])
    second = ReportDeadlineDetector(RULES)
    second.restore(json.loads(json.dumps(first.state())))
    assert head + replay(second, events[3:]) == whole == [
        ("reports.deadline:R4:resolve:warning", "firing", "warning", "04 17:00"),
        ("reports.deadline:R4:resolve:warning", "resolved", "warning", "04 20:00"),
        ("reports.deadline:R4:resolve:critical", "firing", "critical", "04 20:00"),
    ]


def test_a_burst_of_one_category_in_one_ward_is_one_alert() -> None:
    script: list[Event | str] = [
        report("B1", "2026-12-04T06:55", code="flooding"),
        report("B2", "2026-12-04T07:05", code="flooding"),
        report("X1", "2026-12-04T07:06", code="flooding", ward="Vĩnh Ninh"),  # another ward
        report("D1", "2026-12-04T07:07", code="flooding", dup="B2"),  # a grouped duplicate
        report("B3", "2026-12-04T07:10", code="flooding"),
        report("B4", "2026-12-04T07:12", code="flooding"),  # still the same alert
        "2026-12-04T07:30", "2026-12-04T07:36",
    ]
    assert replay(ReportBurstDetector(RULES), script) == [
        ("reports.burst:flooding|Phú Hội", "firing", "warning", "04 07:10"),
        ("reports.burst:flooding|Phú Hội", "resolved", "warning", "04 07:35"),  # B2 (07:05) left the window
    ]


def signals_advanced_every(detector: ReportDeadlineDetector | ReportBurstDetector, events: list[Event],
                           every: int | None) -> list[tuple[str, str, datetime]]:
    """Signals of ``events`` with the rule advanced after every ``every`` events (``None``: only at the
    end), as a runner advances it once it has read a batch (a backlog: one advance after many)."""
    out: list[AlertSignal] = []
    for i, e in enumerate(events, start=1):
        out += detector.observe(e)
        if every is not None and i % every == 0:
            out += detector.advance(e.time)
    out += detector.advance(events[-1].time + timedelta(days=30))
    return sorted((s.fingerprint, s.status, s.time) for s in out)


def test_the_signals_do_not_depend_on_how_often_the_rules_are_advanced() -> None:
    # a report resolved after its deadline inside a backlog (no advance between) is still an alert,
    # from the deadline to its resolution; one advanced past a deadline outright also gets the
    # warning that came first; a burst ends when it did, not when it is noticed
    import tomllib

    from ingest.reports.simulator import SAMPLE, simulate
    from ioc.feeds.reports.settings import ReportsFeed

    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()))
    events = simulate(cfg, local("2026-11-23T00:00"), days=3, per_day=120)
    rules = ReportsRules(burst_count=3, burst_minutes=60)
    for make in (ReportDeadlineDetector, ReportBurstDetector):
        each = signals_advanced_every(make(rules), events, 1)
        assert each and {s[1] for s in each} == {"firing", "resolved"}
        for every in (7, 500, None):
            assert signals_advanced_every(make(rules), events, every) == each, (make.__name__, every)


def test_registered_only_when_configured() -> None:
    from detectors.registry import build_detectors
    from ioc.config import Settings

    names = {d.name for d in build_detectors(Settings())}
    assert not names & {"reports_deadline", "reports_burst"}
    with_rules = Settings.model_validate({"rules": {"reports": {"burst_count": 4}}})
    built = {d.name: d for d in build_detectors(with_rules)}
    assert {"reports_deadline", "reports_burst"} <= set(built)


def test_the_alert_titles_read_in_either_language() -> None:
    """One stored alert reads in the screen's language: the titles are catalogue templates with fields,
    and the category's configured name is said through the field-report catalogue."""
    import json

    from ioc.i18n import render

    deadline = ReportDeadlineDetector(RULES)
    deadline.observe(report("R1", "2026-12-04T21:30", category="Street light out"))
    warned = deadline.advance(local("2026-12-04T23:00"))[0]
    burst = ReportBurstDetector(RULES)
    fired = [s for e in (report(f"B{i}", f"2026-12-04T07:0{i}", code="flooding",
                                category="Flooded street / blocked drain") for i in range(3))
             for s in burst.observe(e)][0]
    assert warned.title == "Report R1 (Street light out) about to miss its acknowledge deadline"
    assert fired.title == "3 reports of Flooded street / blocked drain in Phú Hội within 30 min"
    signals = (warned, fired)
    stored = [json.loads(json.dumps(s.title_params)) for s in signals]  # as the store keeps them
    vi = [render("alerts", s.title_template, p, "vi", s.title) for s, p in zip(signals, stored, strict=True)]
    assert vi == ["Phản ánh R1 (Đèn đường hỏng) sắp quá hạn tiếp nhận",
                  "3 phản ánh về Ngập đường / tắc cống tại Phú Hội trong 30 phút"]
    en = [render("alerts", s.title_template, p, "en", s.title) for s, p in zip(signals, stored, strict=True)]
    assert en == [warned.title, fired.title]
