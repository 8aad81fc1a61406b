"""Security rules on recorded lists out of order and with redeliveries; allow-lists; silent hosts."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from detectors.security.rules import SecurityDetector
from ioc.events import AlertSignal
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRuleSettings
from ioc.i18n import gettext

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def login(
    t: float, outcome: str, user: str = "root", ip: str = "203.0.113.9", port: int = 50000
) -> SecurityEvent:
    raw = f"Dec  5 06:00:00 gw sshd[1]: {outcome} for {user} from {ip} port {port + int(t * 10)} ssh2"
    return SecurityEvent(
        time=T0 + timedelta(seconds=t),
        source_id="gw",
        log="auth",
        action="login",  # type: ignore[arg-type]
        outcome=outcome,
        user=user,
        src_ip=ip,
        raw=raw,
    )  # type: ignore[arg-type]


def fired(signals: list[AlertSignal]) -> set[tuple[str, str]]:
    return {(s.rule, s.fingerprint) for s in signals if s.status == "firing"}


def run(cfg: SecurityRuleSettings, events: list[SecurityEvent]) -> list[AlertSignal]:
    rules = SecurityDetector(cfg)
    return [s for e in events for s in rules.observe(e)]


CFG = SecurityRuleSettings(brute_force_failures=5, brute_force_minutes=5, spraying_accounts=4)


def test_a_redelivered_failure_counts_once() -> None:
    assert run(CFG, [login(0, "failure")] * 20) == []
    # five different attempts in the same second (a fast tool, RFC 3164 second stamps) count as five
    same_second = [login(0.01 * i, "failure", port=40000 + i * 1000) for i in range(5)]
    assert fired(run(CFG, same_second)) == {("brute_force", "brute_force:203.0.113.9")}


def test_order_and_redeliveries_do_not_change_the_verdict() -> None:
    events = [login(i * 30, "failure", user=f"u{i % 4}") for i in range(6)]
    events.append(login(200, "success", user="u1"))
    expected = fired(run(CFG, events))
    assert expected == {
        ("brute_force", "brute_force:203.0.113.9"),
        ("spraying", "spraying:203.0.113.9"),
        ("compromise", "compromise:203.0.113.9:u1"),
    }
    rng = random.Random(13)
    for _ in range(10):
        shuffled = [e for e in events if e.outcome == "failure"] + events[:3]
        rng.shuffle(shuffled)
        assert fired(run(CFG, shuffled + [events[-1]])) == expected


def test_a_late_failure_outside_the_window_is_not_counted() -> None:
    events = [login(600 + i, "failure") for i in range(4)] + [login(0, "failure")]  # 10 minutes late
    assert run(CFG, events) == []


def test_a_success_does_not_count_as_a_failure_afterwards() -> None:
    events = [login(i, "failure") for i in range(4)] + [login(5, "success")] + [login(6, "failure")]
    assert fired(run(CFG, events)) == {("brute_force", "brute_force:203.0.113.9")}
    signals = run(CFG, [login(i, "failure") for i in range(4)] + [login(5, "success")])
    assert signals == []  # four failures then a success: no compromise, no brute force


def test_allow_lists_silence_addresses_networks_and_accounts() -> None:
    allow = CFG.model_copy(
        update={"allow_networks": SecurityRuleSettings(allow_networks=["10.0.0.0/8"]).allow_networks}
    )
    assert run(allow, [login(i, "failure", ip="10.20.30.40") for i in range(20)]) == []
    assert fired(run(allow, [login(i, "failure") for i in range(20)])) != set()
    by_user = SecurityRuleSettings(brute_force_failures=5, allow_users=["backup"])
    assert run(by_user, [login(i, "failure", user="backup") for i in range(20)]) == []
    by_addr = SecurityRuleSettings(brute_force_failures=5, allow_addresses=["203.0.113.9"])
    assert run(by_addr, [login(i, "failure") for i in range(20)]) == []


def test_silent_host_fires_once_in_event_time_and_resolves_when_it_speaks() -> None:
    cfg = SecurityRuleSettings(expected_hosts=["gw", "web"], silent_minutes=10, clear_minutes=1)
    rules = SecurityDetector(cfg)
    rules.observe(login(0, "failure"))  # from gw
    assert rules.advance(T0 + timedelta(minutes=5)) == []
    out = rules.advance(T0 + timedelta(minutes=10))
    assert [(s.rule, s.source_id, s.status) for s in out] == [("silent_host", "gw", "firing")]
    assert out[0].time == T0 + timedelta(minutes=10)
    assert gettext("alerts", out[0].title_template, "vi", **out[0].title_params) == (
        "Không nhận được nhật ký từ gw trong 10 phút"
    )
    # web was never heard: judged from the first progress (5 min); the snapshot carries it all
    again = SecurityDetector(cfg)
    again.restore(json.loads(json.dumps(rules.state())))
    out = again.advance(T0 + timedelta(minutes=15))
    assert [(s.source_id, s.status) for s in out] == [("web", "firing")]
    assert again.advance(T0 + timedelta(minutes=30)) == []  # fired once, not resolved by quiet
    back = again.observe(login(31 * 60, "failure"))
    assert [(s.rule, s.source_id, s.status) for s in back] == [("silent_host", "gw", "resolved")]
