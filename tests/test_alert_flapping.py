"""The flapping damper holds for every rule: a fingerprint writes a bounded number of audit rows
however fast its condition flips (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.escalation import Escalator
from alerts.service import AlertService
from alerts.settings import AlertSettings
from ioc.events import AlertSignal
from ioc.store.database import Store

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RULES = {  # a fingerprint of each kind of rule: the damper knows nothing of rules
    "camera_fault": "camera_fault:camera-faults:hue-cam-ngomon:offline",
    "stale": "stale:air-silent:hue-air-dongba",
    "threshold": "threshold:co2-high:hue-air-dongba",
}


def signal(detector: str, status: str, t: datetime) -> AlertSignal:
    return AlertSignal(time=t, source_id="src", detector=detector, rule="r", fingerprint=RULES[detector],
                       status=status, severity="warning", title=f"{detector} flapping", started_at=t)  # type: ignore[arg-type]


def audit_rows(store: Store) -> list[tuple[str, str]]:
    with store.pool.connection() as conn:
        return conn.execute("SELECT action, to_state FROM alert_audit ORDER BY id").fetchall()


@pytest.mark.parametrize("detector", sorted(RULES))
def test_a_condition_flipping_every_second_writes_a_bounded_audit(store: Store, detector: str) -> None:
    now = [T0]
    settings = AlertSettings(flapping_minutes=10, flapping_reopens=3)
    svc = AlertService(store.pool, settings, clock=lambda: now[0])
    escalator = Escalator(store.pool, settings, clock=lambda: now[0])
    # Two minutes of a condition flipping every half second (the demo's camera storm), in batches.
    for second in range(120):
        t = T0 + timedelta(seconds=second)
        now[0] = t
        half = t + timedelta(seconds=0.5)
        svc.apply_many([signal(detector, "firing", t), signal(detector, "resolved", half)])
    rows = audit_rows(store)
    # raise, then at most flapping_reopens reopen/resolve pairs; after that it is held open.
    assert rows[0] == ("raise", "open")
    assert rows.count(("reopen", "reopened")) == 3 and len(rows) <= 8
    with store.pool.connection() as conn:
        alerts = conn.execute("SELECT state, count, resolved_at FROM alerts").fetchall()
    assert len(alerts) == 1 and alerts[0][:2] == ("reopened", 120)
    assert alerts[0][2] == T0 + timedelta(seconds=119.5)  # clear since then, held open

    # Still clear ten minutes later: the escalation job resolves it, with one audit row.
    now[0] = T0 + timedelta(seconds=119.5, minutes=10)
    assert escalator.run_once().flaps_settled == 0
    now[0] += timedelta(seconds=1)
    assert escalator.run_once().flaps_settled == 1
    added = [r for r in audit_rows(store)[len(rows):] if r[0] != "remind"]  # reminders: nobody acknowledged
    assert added == [("resolve", "resolved")]
    assert svc.alerts()[0].state == "resolved"


def test_a_held_alert_that_stays_clear_resolves_at_its_next_signal(store: Store) -> None:
    svc = AlertService(store.pool, AlertSettings(flapping_minutes=1, flapping_reopens=1), clock=lambda: T0)
    t = [T0 + timedelta(seconds=s) for s in range(8)]
    changes = svc.apply_many([signal("stale", "firing", t[0]), signal("stale", "resolved", t[1]),
                              signal("stale", "firing", t[2]), signal("stale", "resolved", t[3]),
                              signal("stale", "firing", t[4])])
    assert [c.action for c in changes] == ["raised", "resolved", "reopened", "held", "repeated"]
    assert svc.apply(signal("stale", "resolved", t[5])).action == "held"
    # Quiet in event time for more than the window: the next firing is a new episode.
    later = t[5] + timedelta(minutes=2)
    assert svc.apply(signal("stale", "firing", later)).action == "raised"
    assert [a.state for a in svc.alerts()] == ["open", "resolved"]
