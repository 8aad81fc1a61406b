"""Dossier rules on recorded event lists, in Huế's time zone (UTC+7, no daylight saving)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from detectors.services.rules import ServicesDetector
from ioc.events import AlertSignal
from ioc.feeds.services.records import DossierEvent
from ioc.feeds.services.settings import ServicesRuleSettings

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 2, 7, 30, tzinfo=HUE)  # Monday, the morning shift opens


def dossier(
    i: str,
    status: str,
    t: datetime,
    due: datetime,
    *,
    received: datetime = T0,
    department: str = "Sở Tư pháp",
    procedure: str = "TP-01",
) -> DossierEvent:
    final = status in ("resolved", "returned")
    return DossierEvent(
        time=t,
        source_id="motcua",
        dossier_id=i,
        procedure_code=procedure,
        procedure_name="Cấp phiếu lý lịch tư pháp",
        level="online_4",
        department=department,
        status=status,
        received=received,
        due=due,
        finished=t if final else None,
    )


def run(detector: ServicesDetector, events: list[DossierEvent]) -> list[AlertSignal]:
    return [s for e in events for s in detector.observe(e)]


def test_approaching_then_overdue_then_resolved_across_shift_changes() -> None:
    cfg = ServicesRuleSettings(enabled=["approaching_due", "overdue"], approaching_hours=4)
    det = ServicesDetector(cfg)
    due = T0.replace(hour=17, minute=0)  # due at the end of the afternoon shift, local time
    assert run(det, [dossier("A1", "received", T0, due)]) == []
    assert det.advance(T0.replace(hour=12, minute=59)) == []  # 4 h 1 min before: nothing yet
    warn = det.advance(T0.replace(hour=13, minute=30))  # the afternoon shift opens
    assert [(s.rule, s.status, s.severity) for s in warn] == [("approaching_due", "firing", "warning")]
    assert det.advance(T0.replace(hour=16)) == []  # said once
    late = det.advance(T0.replace(hour=17, minute=1))
    assert [(s.rule, s.severity) for s in late] == [("overdue", "critical")]
    assert late[0].time == due.astimezone(late[0].time.tzinfo)  # the event time of the breach: the due time
    done = det.observe(dossier("A1", "resolved", T0 + timedelta(days=1, hours=1), due))
    assert sorted((s.rule, s.status) for s in done) == [
        ("approaching_due", "resolved"),
        ("overdue", "resolved"),
    ]
    # a late redelivery of the received change does not reopen it
    assert det.observe(dossier("A1", "received", T0, due)) == []


def test_overnight_due_in_utc_plus_seven_is_judged_in_absolute_time() -> None:
    det = ServicesDetector(ServicesRuleSettings(enabled=["overdue"]))
    due = datetime(2026, 3, 3, 0, 30, tzinfo=HUE)  # 17:30 UTC the day before
    det.observe(dossier("N1", "processing", T0, due))
    assert det.advance(datetime(2026, 3, 2, 17, 29, tzinfo=ZoneInfo("UTC"))) == []
    assert [s.rule for s in det.advance(datetime(2026, 3, 2, 17, 31, tzinfo=ZoneInfo("UTC")))] == ["overdue"]


def test_department_on_time_rate_below_target_fires_and_clears() -> None:
    cfg = ServicesRuleSettings(
        enabled=["on_time_rate"],
        on_time_min_finished=10,
        on_time_window_days=7,
        department_targets={"Sở Tư pháp": 0.8},
    )
    det = ServicesDetector(cfg)
    events = []
    for i in range(10):  # 7 of 10 on time: 70 % < 80 %
        t = T0 + timedelta(hours=i)
        due = t + (timedelta(hours=1) if i < 7 else -timedelta(minutes=1))
        events.append(dossier(f"D{i}", "resolved", t, due, received=t - timedelta(days=1)))
    fired = run(det, events)
    assert [(s.rule, s.status, s.details["finished"]) for s in fired] == [("on_time_rate", "firing", 10)]
    assert fired[0].title_params["rate"] == 70.0
    # a week later the late ones have left the window; on-time finishes bring it back
    later = T0 + timedelta(days=8)
    recovered = run(
        det,
        [
            dossier(
                f"R{i}",
                "resolved",
                later + timedelta(minutes=i),
                later + timedelta(days=1),
                received=later - timedelta(days=1),
            )
            for i in range(10)
        ],
    )
    assert [(s.rule, s.status) for s in recovered] == [("on_time_rate", "resolved")]


def test_procedure_median_handling_jump() -> None:
    cfg = ServicesRuleSettings(
        enabled=["handling_jump"], handling_recent=5, handling_baseline=10, handling_jump_ratio=1.5
    )
    det = ServicesDetector(cfg)
    events, t = [], T0
    for i, hours in enumerate([24] * 10 + [30, 30, 40, 40, 40]):
        t += timedelta(hours=1)
        events.append(
            dossier(f"H{i}", "resolved", t, t + timedelta(days=5), received=t - timedelta(hours=hours))
        )
    fired = run(det, events)
    assert [(s.rule, s.details["recent_median_h"], s.details["baseline_median_h"]) for s in fired] == [
        ("handling_jump", 40.0, 24.0)
    ]
    # a median 1.25 times the baseline is no jump
    det2 = ServicesDetector(cfg)
    calm = [
        e.model_copy(update={"received": e.finished - timedelta(hours=30 if i >= 10 else 24)})
        for i, e in enumerate(events)
    ]
    assert run(det2, calm) == []


def test_snapshot_restores_the_same_decisions() -> None:
    cfg = ServicesRuleSettings(approaching_hours=2, on_time_min_finished=2)
    det = ServicesDetector(cfg)
    due = T0 + timedelta(hours=3)
    det.observe(dossier("S1", "received", T0, due))
    det.observe(dossier("S2", "resolved", T0, due))
    copy = ServicesDetector(cfg)
    copy.restore(det.state())
    later = T0 + timedelta(hours=4)
    assert [s.fingerprint for s in copy.advance(later)] == [s.fingerprint for s in det.advance(later)]
    assert copy.state() == det.state()


def test_finished_dossiers_are_forgotten_after_sixty_days() -> None:
    det = ServicesDetector(ServicesRuleSettings(enabled=["overdue"]))
    det.observe(dossier("F1", "resolved", T0, T0 + timedelta(days=1)))
    assert "F1" in det.finished
    det.advance(T0 + timedelta(days=30))
    assert "F1" in det.finished  # a late redelivery within two months is still recognised
    det.advance(T0 + timedelta(days=61))
    assert "F1" not in det.finished



def test_dossier_titles_read_in_either_language_with_the_due_time_in_the_citys_zone() -> None:
    """A stored dossier alert reads in the screen's language; its due time is Huế's, in the
    language's form, not the ISO text in UTC the store received it in."""
    import json

    from ioc.i18n import render

    det = ServicesDetector(ServicesRuleSettings(enabled=["approaching_due", "overdue"], approaching_hours=4),
                           zone="Asia/Ho_Chi_Minh")
    due = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("UTC"))  # 17:00 in Huế
    det.observe(dossier("A7", "received", T0, due))
    warned, = det.advance(T0.replace(hour=14))
    late, = det.advance(T0.replace(hour=17, minute=5))
    titles = []
    for signal in (warned, late):
        stored = json.loads(json.dumps(signal.title_params))  # as the store keeps them
        titles.append({lang: render("alerts", signal.title_template, stored, lang, signal.title)
                       for lang in ("vi", "en")})
    assert titles == [
        {"vi": "Hồ sơ A7 của Sở Tư pháp sắp đến hạn lúc 17:00 2/3/26",
         "en": "Dossier A7 of Sở Tư pháp is due at 02/03/2026, 17:00"},
        {"vi": "Hồ sơ A7 của Sở Tư pháp đã quá hạn (hạn 17:00 2/3/26)",
         "en": "Dossier A7 of Sở Tư pháp is overdue (due 02/03/2026, 17:00)"},
    ]
    assert late.details["due"] == due.isoformat()  # the record keeps the exact instant
