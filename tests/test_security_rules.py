"""Security rules on recorded event lists: in order, shuffled, with duplicates, across a snapshot."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from detectors.security import SecurityDetector
from ioc.events import AlertSignal
from ioc.feeds.security import SecurityEvent, SecurityRules

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
RULES = SecurityRules(
    brute_force_failures=5,
    brute_force_window_s=300,
    spray_accounts=4,
    scan_ports=10,
    scan_hosts=5,
    web_errors=6,
    silent_after_s=600,
    expected_hosts=["hue-gw", "hue-web"],
    allow_networks=["10.0.0.0/8"],
    allow_users=["backup"],
)


def ev(t: float, **kw: object) -> SecurityEvent:
    base: dict[str, object] = {"time": T0 + timedelta(seconds=t), "source_id": "hue-gw"}
    base.update(kw)
    base.setdefault("raw", f"line {t} {sorted(kw.items())}")
    return SecurityEvent(**base)  # type: ignore[arg-type]


def fail(t: float, ip: str, user: str = "root") -> SecurityEvent:
    return ev(t, category="auth", outcome="failure", src_ip=ip, user=user, action="login")


def run(events: list[SecurityEvent], det: SecurityDetector | None = None) -> list[AlertSignal]:
    det = det or SecurityDetector(RULES)
    return [s for e in events for s in det.observe(e)]


def firing(signals: list[AlertSignal]) -> set[tuple[str, str]]:
    return {(s.rule, s.fingerprint) for s in signals if s.status == "firing"}


def test_brute_force_then_success_is_a_possible_compromise() -> None:
    events = [fail(i * 10, "203.0.113.7") for i in range(5)]
    events.append(ev(60, category="auth", outcome="success", src_ip="203.0.113.7", user="root"))
    signals = run(events)
    rules = [s.rule for s in signals]
    assert rules == ["brute_force", "possible_compromise"]
    assert signals[1].severity == "critical" and signals[1].details["failures"] == 5


def test_four_failures_or_spread_out_failures_raise_nothing() -> None:
    assert run([fail(i * 10, "203.0.113.7") for i in range(4)]) == []
    assert run([fail(i * 100, "203.0.113.7") for i in range(5)]) == []  # 400 s > 300 s window


def test_order_and_duplicates_do_not_change_the_verdict() -> None:
    events = [fail(i * 10, "203.0.113.7", user=f"u{i}") for i in range(5)]
    events += [
        ev(5 + i, category="flow", src_ip="203.0.113.9", dest_ip="192.0.2.10", dest_port=1000 + i)
        for i in range(10)
    ]
    expected = firing(run(events))
    assert expected == {
        ("brute_force", "security:brute_force:203.0.113.7"),
        ("password_spray", "security:password_spray:203.0.113.7"),
        ("port_scan", "security:port_scan:203.0.113.9"),
    }
    rng = random.Random(7)
    for _ in range(5):
        shuffled = events + events[:4]  # duplicates too
        rng.shuffle(shuffled)
        assert firing(run(shuffled)) == expected
    # the same failure repeated is one failure
    assert run([fail(0, "203.0.113.8")] * 10) == []


def test_allow_lists_are_never_alerted_on() -> None:
    assert run([fail(i, "10.1.2.3") for i in range(20)]) == []
    assert run([fail(i, "203.0.113.7", user="backup") for i in range(20)]) == []


def test_web_attacks_and_error_bursts() -> None:
    attack = ev(
        0,
        source_id="hue-portal",
        category="web",
        src_ip="203.0.113.20",
        path="/a/../../etc/passwd",
        status=404,
        outcome="failure",
    )
    signals = run([attack])
    assert [s.rule for s in signals] == ["web_attack"] and signals[0].details["match"] == "../"
    errs = [
        ev(i, source_id="hue-portal", category="web", src_ip="203.0.113.21", path=f"/p{i}", status=404)
        for i in range(6)
    ]
    assert [s.rule for s in run(errs)] == ["web_errors"]
    clean = [
        ev(i, source_id="hue-portal", category="web", src_ip="198.51.100.1", path="/", status=200)
        for i in range(50)
    ]
    assert run(clean) == []


def test_ids_alerts_group_by_signature_with_a_count_and_resolve() -> None:
    det = SecurityDetector(RULES)
    alerts = [
        ev(i, category="ids", src_ip="203.0.113.5", rule_id="2001219", signature="ET SCAN SSH", severity=1)
        for i in range(12)
    ]
    signals = run(alerts, det)
    assert [s.details["count"] for s in signals] == [1, 10]
    assert {s.fingerprint for s in signals} == {"security:ids:2001219:203.0.113.5"}
    assert signals[0].severity == "critical"
    resolved = det.advance(T0 + timedelta(hours=1))
    assert {(s.rule, s.status) for s in resolved if s.rule == "ids"} == {("ids", "resolved")}


def test_silent_host_fires_and_resolves_in_event_time() -> None:
    det = SecurityDetector(RULES)
    det.observe(fail(0, "203.0.113.1"))  # from hue-gw
    assert det.advance(T0 + timedelta(seconds=300)) == []
    signals = det.advance(T0 + timedelta(seconds=601))  # hue-gw last spoke at 0
    assert {(s.rule, s.source_id, s.status) for s in signals} == {("silent_host", "hue-gw", "firing")}
    # hue-web never spoke: judged from the first progress seen (300 s)
    signals = det.advance(T0 + timedelta(seconds=900))
    assert {(s.rule, s.source_id, s.status) for s in signals} == {("silent_host", "hue-web", "firing")}
    assert det.advance(T0 + timedelta(seconds=1000)) == []  # fired once
    back = det.observe(ev(700, source_id="hue-web", category="system"))
    assert [(s.rule, s.status) for s in back] == [("silent_host", "resolved")]


def test_snapshot_carries_the_windows_to_another_process() -> None:
    first = SecurityDetector(RULES)
    run([fail(i * 10, "203.0.113.7") for i in range(3)], first)
    second = SecurityDetector(RULES)
    second.restore(first.state())
    assert [s.rule for s in run([fail(40, "203.0.113.7"), fail(50, "203.0.113.7")], second)] == [
        "brute_force"
    ]
