"""The attack simulator: real-format lines that the real parsers take whole and the rules catch."""

from __future__ import annotations

import ipaddress
import threading
from datetime import UTC, datetime, timedelta

import pytest

from detectors.security.rules import SecurityDetector
from ingest.security.parsers import PARSERS, LineContext
from ingest.security.simulator import SimulatedAttackSource, attack_lines
from ioc.feeds.security.settings import SecurityRuleSettings

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


def parsed(log: str) -> list:
    ctx = LineContext(received=T0, host="hue-sim", simulated=True)
    return [PARSERS[log](line, ctx) for _, line in attack_lines(log, T0)]


@pytest.mark.parametrize("log", ["syslog", "web", "suricata"])
def test_every_simulated_line_parses_is_marked_and_names_documentation_addresses(log: str) -> None:
    events = parsed(log)  # a ParseError here fails the test: no dead letter from our own simulator
    assert events and all(e.simulated for e in events)
    for e in events:
        for address in (e.src_ip, e.dest_ip):
            if address:
                assert any(ipaddress.ip_address(address) in net for net in DOC_NETS), address
    times = [e.time for e in events]
    assert times == sorted(times) and T0 <= times[0] and times[-1] <= T0 + timedelta(minutes=10)


def test_the_rules_catch_every_scripted_attack_and_nothing_else() -> None:
    rules = SecurityDetector(SecurityRuleSettings())  # the default thresholds
    events = sorted(parsed("syslog") + parsed("web") + parsed("suricata"), key=lambda e: e.time)
    fired = {(s.rule, s.fingerprint) for e in events for s in rules.observe(e) if s.status == "firing"}
    assert fired == {
        ("brute_force", "brute_force:203.0.113.66"),
        ("compromise", "compromise:203.0.113.66:root"),
        ("spraying", "spraying:203.0.113.77"),
        ("web_attack", "web_attack:203.0.113.88"),
        ("web_errors", "web_errors:203.0.113.88"),
        ("port_scan", "port_scan:203.0.113.99"),
        ("ids", "ids:2001219:203.0.113.99"),
    }


class SteppingClock:
    """A clock that moves on by ``step`` each time it is read (no waiting in the test)."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def test_the_source_plays_the_script_in_time_and_starts_again() -> None:
    source = SimulatedAttackSource("web", name="sim-web", clock=SteppingClock(T0, timedelta(seconds=30)),
                                   poll_s=0)
    stop = threading.Event()
    lines: list[bytes] = []
    for batch, _received in source.read(stop):
        lines += batch
        if source.rounds == 1:
            stop.set()
    assert len(lines) >= len(attack_lines("web", T0))
    with pytest.raises(ValueError, match="no simulated script"):
        SimulatedAttackSource("fail2ban", name="x", clock=lambda: T0)


def test_a_simulator_feed_builds_a_worker_whose_records_say_simulated() -> None:
    from ingest.security import build_worker, feed_options
    from ioc.bus.memory import MemoryBus
    from ioc.config import FeedSettings
    from ioc.events import decode

    feed = FeedSettings(name="sim-auth", kind="security-simulator", options={"log": "syslog"})
    bus = MemoryBus()
    worker = build_worker(feed, bus.publisher(), samples_dir=".")  # type: ignore[arg-type]
    assert worker.simulated and isinstance(worker.source, SimulatedAttackSource)
    worker.handle([line for _, line in attack_lines("syslog", T0)], T0)
    assert worker.health["dead_letters"] == 0 and worker.events == len(attack_lines("syslog", T0))
    worker.out.flush(force=True)
    got = [decode(m.value) for m in bus.subscribe(["ioc.security.events"], "t").poll(1000, 0.1)]
    assert len(got) == worker.events and all(e.simulated for e in got)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="simulator plays"):
        feed_options(FeedSettings(name="x", kind="security-simulator", options={"log": "fail2ban"}))
