"""Kafka-only behaviour of the bus: volume, namespaces, failures that must surface, security settings.

Runs against a real tansu broker (see ``tests/kafka_broker.py``); the contract
shared with the in-process bus is in ``test_bus_contract.py``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from ioc.bus.base import Message
from ioc.bus.kafka import KafkaBus, KafkaBusError, KafkaPublishError
from ioc.bus.kafka.publisher import KafkaPublisher
from ioc.config import BusSettings, KafkaSecurity

if TYPE_CHECKING:
    from kafka_broker import TansuBroker

pytest_plugins = ["kafka_broker"]

TEST_CONSUMER_OPTIONS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
#: A broker version to assume, so clients can be built without reaching any broker.
KNOWN_VERSION = {"api_version": (3, 9)}


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def kafka_bus(bootstrap: str, **kwargs: object) -> KafkaBus:
    settings = BusSettings(
        kind="kafka", bootstrap_servers=bootstrap, partitions=4, namespace=str(kwargs.pop("namespace", ""))
    )
    kwargs.setdefault("consumer_options", TEST_CONSUMER_OPTIONS)
    return KafkaBus(settings, client_id="test", **kwargs)  # type: ignore[arg-type]


def test_round_trip_20000_messages_exactly_once_in_a_namespace_with_a_rewind(kafka_broker: str) -> None:
    bus = kafka_bus(kafka_broker, namespace="hue")
    topic = unique("ioc.test.volume")
    sent = [(f"sensor-{i % 64}", f"reading-{i}".encode()) for i in range(20_000)]
    pub = bus.publisher()
    for key, value in sent:
        pub.publish(topic, key, value)
    pub.flush(60)
    pub.close()

    sub = bus.subscribe([topic], unique("sink"))
    deadline = time.monotonic() + 60
    first: list[Message] = []
    while not first:  # a batch whose processing "failed": rewind gives it back
        assert time.monotonic() < deadline
        first = sub.poll(1000, 0.5)
    sub.rewind()
    got: list[Message] = []
    while len(got) < len(sent):
        assert time.monotonic() < deadline, f"{len(got)} of {len(sent)} arrived"
        batch = sub.poll(5000, 0.5)
        got.extend(batch)
        if batch:
            sub.commit()
    got.extend(sub.poll(5000, 0.5))  # nothing more may come
    assert Counter((m.key, m.value) for m in got) == Counter(sent)
    assert {m.topic for m in got} == {topic}, "the namespace is stripped from message topics"
    assert sub.lag() == 0
    sub.close()

    admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
    try:
        (described,) = admin.describe_topics([f"hue.{topic}"])
        assert len(described["partitions"]) == 4
        assert topic not in admin.list_topics()
    finally:
        admin.close()
    bus.close()


def test_publisher_for_unreachable_broker_fails_fast_and_clearly(unreachable_bootstrap: str) -> None:
    bootstrap = unreachable_bootstrap
    bus = kafka_bus(bootstrap, client_options={"bootstrap_timeout_ms": 1500})
    start = time.monotonic()
    with pytest.raises(KafkaBusError, match=bootstrap):
        bus.publisher()
    assert time.monotonic() - start < 10
    bus.close()


def test_flush_raises_when_nothing_could_be_delivered(unreachable_bootstrap: str) -> None:
    bus = kafka_bus(unreachable_bootstrap, client_options={**KNOWN_VERSION, "bootstrap_timeout_ms": 1500})
    pub = bus.publisher()  # built without contacting a broker (version known)
    start = time.monotonic()
    for i in range(5):
        pub.publish("ioc.test.lost", f"k{i}", b"x")
    with pytest.raises(KafkaPublishError, match=r"5 record\(s\) were not delivered") as err:
        pub.flush(10)
    assert err.value.failed == 5
    assert time.monotonic() - start < 15
    pub.flush(1)  # the failure was reported once; nothing is pending now
    pub.producer.close(timeout=1)
    bus.close()


def ten_records_after_the_broker_stopped(bus: KafkaBus, broker: TansuBroker, topic: str) -> KafkaPublisher:
    """A publisher that delivered one record to ``topic``, then queued ten more once ``broker`` stopped."""
    pub = bus.publisher()
    pub.publish(topic, "a", b"before")
    pub.flush(10)
    broker.stop()
    for i in range(10):
        pub.publish(topic, f"k{i}", b"after")  # metadata is known: queued, not refused
    return pub


def test_flush_raises_when_the_broker_goes_away(private_kafka_broker: TansuBroker) -> None:
    bus = kafka_bus(
        private_kafka_broker.bootstrap,
        producer_options={"request_timeout_ms": 1000, "delivery_timeout_ms": 2500, "max_block_ms": 2000},
    )
    pub = ten_records_after_the_broker_stopped(bus, private_kafka_broker, unique("ioc.test.gone"))
    # every record is reported: failed (expired after delivery_timeout_ms) or, where kafka-python has
    # not expired a batch by the flush's timeout, not acknowledged; none silently lost
    with pytest.raises(KafkaPublishError, match=r"10 record\(s\)") as err:
        pub.flush(20)
    assert err.value.failed == 10
    pub.producer.close(timeout=1)
    bus.close()


def test_close_while_the_broker_is_gone_reports_the_records_and_does_not_wait_for_delivery(
        private_kafka_broker: TansuBroker) -> None:
    # the delivery timeout is ten minutes here: a close that waited for it would hold a stopping role
    # that long (two minutes with the default); close gives the records its own few seconds instead
    bus = kafka_bus(private_kafka_broker.bootstrap,
                    producer_options={"request_timeout_ms": 1000, "delivery_timeout_ms": 600_000})
    pub = ten_records_after_the_broker_stopped(bus, private_kafka_broker, unique("ioc.test.closing"))
    start = time.monotonic()
    with pytest.raises(KafkaPublishError, match=r"10 record\(s\) were not acknowledged") as err:
        pub.close(timeout=2)
    assert err.value.failed == 10
    assert time.monotonic() - start < 300, "close waited for the delivery timeout"
    sender = pub.producer._sender  # noqa: SLF001 - the producer's own thread must end, not linger
    sender.join(timeout=60)
    assert not sender.is_alive()
    bus.close()


def test_commit_never_moves_offsets_of_partitions_given_away(kafka_broker: str) -> None:
    bus = kafka_bus(kafka_broker)
    topic, group = unique("ioc.test.revoke"), unique("g")
    pub = bus.publisher()
    for i in range(400):
        pub.publish(topic, f"src-{i % 32}", str(i).encode())
    pub.close()

    a = bus.subscribe([topic], group)
    polled = 0
    deadline = time.monotonic() + 30
    while polled < 400:  # a alone owns every partition and reads everything, uncommitted
        assert time.monotonic() < deadline
        polled += len(a.poll(1000, 0.2))

    b = bus.subscribe([topic], group)
    stop = threading.Event()

    def keep_polling(sub: object) -> None:
        while not stop.is_set():
            sub.poll(1000, 0.2)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=keep_polling, args=(s,), daemon=True) for s in (a, b)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while True:  # until the group has settled: both own partitions, none owned twice
        owned_a, owned_b = a.consumer.assignment(), b.consumer.assignment()
        if owned_a and owned_b and not owned_a & owned_b and len(owned_a | owned_b) == 4:
            break
        assert time.monotonic() < deadline, f"group did not settle: {owned_a} / {owned_b}"
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(10)
    a.commit()  # must cover a's partitions only, though a read b's too before the rebalance
    owned_by_a = set(a.consumer.assignment())
    owned_by_b = set(b.consumer.assignment())
    assert owned_by_a and owned_by_b and not owned_by_a & owned_by_b

    probe = KafkaConsumer(bootstrap_servers=kafka_broker, group_id=group, enable_auto_commit=False)
    try:
        committed = {tp: probe.committed(tp) for tp in (TopicPartition(topic, p) for p in range(4))}
    finally:
        probe.close(autocommit=False)
    assert all(committed[tp] is None for tp in owned_by_b), committed
    assert any(committed[tp] is not None for tp in owned_by_a), committed
    a.close()
    b.close()
    bus.close()


def test_security_settings_reach_every_client(unreachable_bootstrap: str) -> None:
    settings = BusSettings(
        kind="kafka",
        bootstrap_servers=unreachable_bootstrap,
        security=KafkaSecurity(
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_plain_username="ioc",
            sasl_plain_password="s3cret",
        ),
    )
    bus = KafkaBus(settings, client_options=KNOWN_VERSION)
    pub = bus.publisher()
    try:
        config = pub.producer.config  # what kafka-python really got
        assert config["security_protocol"] == "SASL_PLAINTEXT"
        assert config["sasl_mechanism"] == "PLAIN"
        assert config["sasl_plain_username"] == "ioc"
        assert config["sasl_plain_password"] == "s3cret"
        assert config["acks"] == -1 and config["enable_idempotence"] is True
        for other in (bus.consumer_config("g"), bus.admin_config()):
            assert other["security_protocol"] == "SASL_PLAINTEXT"
            assert other["sasl_plain_username"] == "ioc"
        assert bus.consumer_config("g")["enable_auto_commit"] is False
    finally:
        pub.producer.close(timeout=1)
        bus.close()


def test_settled_waits_for_every_group_of_the_namespace_to_commit_all_it_reads(kafka_broker: str) -> None:
    """The tests' "nothing more will come" condition (``kafka_broker.settled``) says no while a
    group has something unread or uncommitted, or another group lags, and yes once all have caught up."""
    from kafka_broker import settled

    namespace = unique("settle").replace(".", "-")
    bus = kafka_bus(kafka_broker, namespace=namespace)
    pub = bus.publisher()
    for i in range(40):
        pub.publish("ioc.test.settle", f"k{i % 8}", b"x")
    pub.flush(60)
    assert not settled(kafka_broker, namespace)  # no group has committed anything yet
    fast, slow = bus.subscribe(["ioc.test.settle"], "fast"), bus.subscribe(["ioc.test.settle"], "slow")
    read = {"fast": len(fast.poll(10, 5.0)), "slow": len(slow.poll(10, 5.0))}
    assert 0 < read["fast"] < 40 and 0 < read["slow"] < 40
    fast.commit()
    slow.commit()
    assert not settled(kafka_broker, namespace)  # each has read part of it
    for name, sub in (("fast", fast), ("slow", slow)):
        deadline = time.monotonic() + 60
        while read[name] < 40:
            assert time.monotonic() < deadline, f"{name}: {read[name]} of 40 read"
            read[name] += len(sub.poll(500, 0.5))
        assert not settled(kafka_broker, namespace)  # read, not committed (or the other lags)
        sub.commit()
    assert settled(kafka_broker, namespace)
    pub.publish("ioc.test.settle", "k0", b"late")
    pub.flush(60)
    assert not settled(kafka_broker, namespace)  # a late record: both groups lag again
    for sub in (fast, slow):
        sub.close()
    pub.close()
    bus.close()
