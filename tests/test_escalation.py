"""Escalation with a controllable clock: the right step at the right time, stopped by acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from conftest import Clock

from alerts.escalation import Escalator, register_alert_jobs
from alerts.lifecycle import Actor
from alerts.service import AlertService
from alerts.settings import AlertSettings, EscalationPolicy, EscalationStep, Recipient
from ioc.events import AlertSignal
from ioc.store.database import Store
from tests.waiting import wait_for

T0 = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
LAN = Actor("lan", "duty_officer")


def settings(remind: float | None = None, remind_ack: float | None = None) -> AlertSettings:
    return AlertSettings(
        escalation=[
            EscalationPolicy(
                severity="critical",
                steps=[
                    EscalationStep(after_minutes=5, notify="shift_lead"),
                    EscalationStep(after_minutes=15, notify="director"),
                ],
                remind_every_minutes=remind,
                remind_acknowledged_every_minutes=remind_ack,
            ),
            EscalationPolicy(
                severity="warning", steps=[EscalationStep(after_minutes=30, notify="shift_lead")]
            ),
        ],
        recipients={"shift_lead": Recipient(name="Shift lead Trần"), "director": Recipient(name="Director")},
    )


def fire(svc: AlertService, fp: str, severity: str = "critical") -> int:
    sig = AlertSignal(
        time=svc.clock(),
        source_id=fp,
        detector="threshold",
        rule="flood",
        fingerprint=fp,
        status="firing",
        severity=severity,
        title=f"Water level high at {fp}",  # type: ignore[arg-type]
        area="Phú Hội",
        details={"metric": "water_level"},
    )
    alert_id = svc.apply(sig).alert_id
    assert alert_id is not None
    return alert_id


def escalations(store: Store, alert_id: int) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(
            "SELECT e.kind, e.seq, e.target, e.fired_at, n.channel, n.recipient, n.reason "
            "FROM alert_escalations e LEFT JOIN notifications n ON n.alert_id = e.alert_id "
            "AND n.reason = CASE e.kind WHEN 'step' THEN 'escalation' ELSE e.kind END "
            "AND n.created_at = e.fired_at "
            "WHERE e.alert_id = %s ORDER BY e.fired_at, e.kind, e.seq",
            (alert_id,),
        ).fetchall()


def audit_notes(store: Store, alert_id: int, action: str) -> list[str]:
    with store.pool.connection() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT note FROM alert_audit WHERE alert_id = %s AND action = %s ORDER BY id",
                (alert_id, action),
            ).fetchall()
        ]


def test_steps_fire_on_time_once_and_stop_at_acknowledgement(plain_store: Store) -> None:
    clock = Clock(T0)
    cfg = settings()
    svc = AlertService(plain_store.pool, cfg, clock)
    esc = Escalator(plain_store.pool, cfg, clock)
    ignored = fire(svc, "ignored")  # nobody answers this one
    answered = fire(svc, "answered")  # acknowledged between the two steps
    early = fire(svc, "early")  # acknowledged before the first step
    warning = fire(svc, "warning", severity="warning")  # its policy is slower

    clock.at(4.99)
    assert esc.run_once().escalated == 0
    clock.at(3)
    svc.acknowledge(early, LAN)
    clock.at(5)
    assert esc.run_once().escalated == 2  # ignored + answered reach the shift lead
    assert esc.run_once().escalated == 0  # once only
    five = T0 + timedelta(minutes=5)
    assert escalations(plain_store, ignored) == [
        ("step", 0, "shift_lead", five, "console", "shift_lead", "escalation")
    ]
    assert audit_notes(plain_store, ignored, "escalate") == [
        "unacknowledged for 5 min: escalated to Shift lead Trần (console)"
    ]
    clock.at(7)
    svc.acknowledge(answered, LAN, "calling the pump crew")
    clock.at(14.9)
    assert esc.run_once().escalated == 0
    clock.at(15)
    assert esc.run_once().escalated == 1  # only the ignored one reaches the director
    assert [r[2] for r in escalations(plain_store, ignored)] == ["shift_lead", "director"]
    assert [r[2] for r in escalations(plain_store, answered)] == ["shift_lead"]
    assert escalations(plain_store, early) == [] and escalations(plain_store, warning) == []
    clock.at(30)
    assert esc.run_once().escalated == 1  # the warning's own step
    assert [r[2] for r in escalations(plain_store, warning)] == ["shift_lead"]
    with plain_store.pool.connection() as conn:
        rows = conn.execute(
            "SELECT actor, from_state, to_state FROM alert_audit WHERE action = 'escalate'"
        ).fetchall()
    assert set(rows) == {("system", "open", "open")}

    # a reopened alert is a new episode: it escalates again, from the time it reopened
    svc.resolve(ignored, LAN, "level dropping")
    clock.at(32)
    svc.reopen(ignored, LAN, "rising again")
    clock.at(36.9)
    assert esc.run_once().escalated == 0
    clock.at(37)
    assert esc.run_once().escalated == 1
    assert [r[2] for r in escalations(plain_store, ignored)] == ["shift_lead", "director", "shift_lead"]


def test_reminders_repeat_without_bursts_and_follow_the_acknowledger(plain_store: Store) -> None:
    clock = Clock(T0)
    cfg = settings(remind=3, remind_ack=20)
    svc = AlertService(plain_store.pool, cfg, clock)
    esc = Escalator(plain_store.pool, cfg, clock)
    alert = fire(svc, "gauge")
    clock.at(2.9)
    assert esc.run_once().reminded == 0
    clock.at(3)
    assert esc.run_once().reminded == 1
    clock.at(4)
    assert esc.run_once().reminded == 0
    clock.at(10)  # the scheduler slept: one reminder (the third period), not two
    assert esc.run_once().reminded == 1
    assert [(r[0], r[1]) for r in escalations(plain_store, alert) if r[0] == "remind"] == [
        ("remind", 1),
        ("remind", 3),
    ]
    clock.at(11)
    svc.acknowledge(alert, LAN)
    clock.at(30.9)
    run = esc.run_once()
    assert run.reminded == 0  # acknowledged: no more reminders to acknowledge
    clock.at(31)
    assert esc.run_once().reminded == 1
    assert escalations(plain_store, alert)[-1][:3] == ("remind_ack", 1, "duty")
    assert audit_notes(plain_store, alert, "remind")[-1] == (
        "reminder 1 to lan: acknowledged 20 min ago and still not resolved"
    )
    with plain_store.pool.connection() as conn:
        assert conn.execute("SELECT recipient FROM notifications WHERE reason = 'remind_ack'").fetchall() == [
            ("lan",)
        ]


def test_the_scheduler_runs_escalation_and_sends(plain_store: Store) -> None:
    """The apscheduler wiring: jobs registered, run on their own, the step fires and its notice is sent."""
    clock = Clock(T0)
    cfg = settings().model_copy(update={"escalation_check_seconds": 0.1})
    cfg.notifications.send_every_seconds = 0.1
    svc = AlertService(plain_store.pool, cfg, clock)
    alert = fire(svc, "scheduled")
    clock.at(6)
    scheduler = BackgroundScheduler(timezone="UTC")
    register_alert_jobs(scheduler, plain_store.pool, cfg, clock)
    assert {j.id for j in scheduler.get_jobs()} == {"alerts_escalation", "alerts_notifications"}
    scheduler.start()
    try:
        def sent_escalations() -> list[tuple]:
            with plain_store.pool.connection() as conn:
                return conn.execute(
                    "SELECT recipient FROM notifications WHERE alert_id = %s "
                    "AND reason = 'escalation' AND state = 'sent'",
                    (alert,),
                ).fetchall()

        sent = wait_for(sent_escalations, "the escalation notice sent by the scheduled jobs")
    finally:
        scheduler.shutdown(wait=True)
    assert sent == [("shift_lead",)]
