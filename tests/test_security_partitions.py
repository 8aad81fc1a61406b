"""The security feed's "expected host silent" rule in distributed mode (real Kafka on tansu, real PostgreSQL).

With a snapshot store the detector runner keeps one instance of every detector per topic-partition.
The silent-host rule judges a configured list of hosts, some of which it may never have heard from;
without knowing which hosts its partition carries, every instance (of the security topic's other
partitions, and of other feeds' topics) called every host it never heard silent: a false alert for
each host that was logging all along. Each instance now judges only the hosts whose records land in
its own partition (the producers' partitioner applied to the host name).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from test_detector_state import Signals, saved_offsets, signal_readers, state_store  # noqa: F401
from test_distributed_e2e import kafka_bus, publish, wait_for

from detectors.runner import DetectorRunner
from detectors.security.rules import SecurityDetector
from detectors.threshold import ThresholdDetector
from ioc.bus.kafka import KafkaBus
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRuleSettings
from ioc.store.database import Store
from ioc.store.detector_state import PostgresSnapshotStore
from ioc.topics import TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]

SECURITY = TOPIC_BY_KIND["security.event"]
TALKERS = [f"hue-srv-{i:02d}" for i in range(20)]
QUIET = "hue-srv-quiet"


def line(t0: datetime, minute: int, host: str) -> SecurityEvent:
    return SecurityEvent(time=t0 + timedelta(minutes=minute), source_id=host, log="auth", action="login",
                         outcome="success", user="ops", src_ip="10.0.0.5", raw=f"{host} sshd: Accepted")


def test_only_the_partition_carrying_a_host_judges_it_silent(
        kafka_broker: str, state_store: Store, signal_readers: Callable[[KafkaBus], Signals]) -> None:  # noqa: F811
    bus = kafka_bus(kafka_broker, f"sh{uuid.uuid4().hex[:8]}")
    signals = signal_readers(bus)
    t0 = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
    rules = SecurityRuleSettings(enabled=["silent_host"], expected_hosts=[*TALKERS, QUIET], silent_minutes=15)
    threshold = ThresholdRule(name="pm25-high", metric="pm25", above=100, for_minutes=10, clear_margin=10)
    group = f"detectors-sh-{uuid.uuid4().hex[:8]}"
    state_group = bus.physical(group)  # snapshots are kept under the group's name on the broker
    runner = DetectorRunner(bus, [SecurityDetector(rules), ThresholdDetector([threshold])], group=group,
                            state=PostgresSnapshotStore(state_store.pool))
    # An hour of logs from every talker, none from the quiet host; an environment station too, so
    # the other feed's partitions have detector instances with a clock of their own. In two halves:
    # the rule counts a host never heard from the first progress of its instance.
    def hour(minutes: range) -> list[SecurityEvent | EnvironmentReading]:
        return [line(t0, m, h) for m in minutes for h in TALKERS] + [
            EnvironmentReading(time=t0 + timedelta(minutes=m), source_id=f"hue-aq-{s}", metric="pm25",
                               value=20.0, unit="µg/m³") for m in minutes for s in range(4)]

    sub = runner._subscription
    published = 0
    for half in (range(0, 30), range(30, 60)):
        records = hour(half)
        publish(bus, records)
        published += len(records)
        wait_for("every record read", lambda n=published: runner.run_once(timeout=0.2) is not None
                 and sum(saved_offsets(state_store, state_group).values()) == n, timeout=60, every=0)
    owners = {h: sub.partition_of(SECURITY, h) for h in [*TALKERS, QUIET]}
    assert set(owners.values()) == {0, 1, 2, 3}  # the talkers cover every partition (else: rename them)
    assert len({k for k in runner._slots if k[0] == SECURITY}) == 4
    # The end of the hour: every slot judged at the runner's clocks, as a replay's end does.
    runner.judge_at_watermarks()
    runner.judge_at_watermarks()  # twice: the other feed's instances have a first progress now
    wait_for("the signals published", lambda: len(signals.read()) >= runner.signals_published > 0,
             timeout=30, every=0)
    got = [(s.source_id, s.rule, s.status) for s in signals.read()]
    assert got == [(QUIET, "silent_host", "firing")], got
    assert len(signals.read()) == runner.signals_published == 1
    # The talkers' instances: each host is judged in the one slot of its own partition.
    security_slots = {k: s for k, s in runner._slots.items() if k[0] == SECURITY}
    for (_, partition), slot in security_slots.items():
        detector = next(d for d in slot.detectors if isinstance(d, SecurityDetector))
        assert detector.silent == ({QUIET} if owners[QUIET] == partition else set())
        assert set(detector.last_seen) == {h for h in TALKERS if owners[h] == partition}
    runner.close()
