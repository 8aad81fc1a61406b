"""The bus contract, run on the in-process bus and on Kafka (a real tansu broker).

Each test runs twice: once on :class:`~ioc.bus.memory.MemoryBus`, once on
:class:`~ioc.bus.kafka.KafkaBus`. Topic and group names are unique per test,
so the Kafka runs share one broker per session.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

import pytest

from ioc.bus.base import Bus, Message, Subscription
from ioc.bus.kafka import KafkaBus, KafkaSubscription
from ioc.bus.memory import MemoryBus, MemorySubscription
from ioc.config import BusSettings
from tests.waiting import wait_for

pytest_plugins = ["kafka_broker"]

PARTITIONS = 4
#: Short group timeouts so joins and rebalances take seconds, not tens of seconds.
TEST_CONSUMER_OPTIONS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
#: How long a test waits for a group to settle or for messages to arrive.
WAIT = 30.0


@pytest.fixture(params=["memory", "kafka"])
def bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    """The bus under test."""
    if request.param == "memory":
        b: Bus = MemoryBus(partitions=PARTITIONS)
    else:
        bootstrap = request.getfixturevalue("kafka_broker")
        b = KafkaBus(
            BusSettings(kind="kafka", bootstrap_servers=bootstrap, partitions=PARTITIONS),
            client_id="contract",
            consumer_options=TEST_CONSUMER_OPTIONS,
        )
    try:
        yield b
    finally:
        b.close()


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def assigned(sub: Subscription) -> set[tuple[str, int]]:
    """The (topic, partition) slots a member owns now."""
    if isinstance(sub, MemorySubscription):
        return set(sub._assigned)
    assert isinstance(sub, KafkaSubscription)
    return {(tp.topic, tp.partition) for tp in sub.consumer.assignment()}


class Reader:
    """Polls one member continuously in its own thread, as a worker does, committing each batch.

    (Polling several Kafka members round-robin from one thread leaves each member's
    group join unattended half of the time, which kafka-python 3.0 answers with a
    fresh JoinGroup, i.e. another rebalance: one thread per member avoids that.)
    """

    def __init__(self, sub: Subscription, commit: bool = True) -> None:
        self.sub = sub
        self.commit = commit
        self.messages: list[Message] = []
        self.empty_polls = 0  # polls that found nothing more
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self.sub.poll(500, 0.2)
                if batch:
                    with self._lock:
                        self.messages.extend(batch)
                    if self.commit:
                        self.sub.commit()
                else:
                    self.empty_polls += 1
        except BaseException as exc:  # surfaced by stop()
            self._error = exc

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def stop(self) -> list[Message]:
        """Stop polling; the messages received so far."""
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "reader did not stop"
        if self._error is not None:
            raise self._error
        return list(self.messages)


def settled_empty(readers: Sequence[Reader]) -> None:
    """Wait until every reader has polled once more and found nothing: anything beyond what was
    published (a message delivered twice) would have come by then."""
    marks = [r.empty_polls for r in readers]
    wait_for(lambda: all(r.empty_polls > mark for r, mark in zip(readers, marks, strict=True)),
             "every reader coming back empty once more", interval=0.02)


def settle(readers: Sequence[Reader], slots: int) -> None:
    """Wait until the group has split all ``slots`` among the members (nothing published yet)."""
    deadline = time.monotonic() + WAIT
    while True:
        owned = [assigned(r.sub) for r in readers]
        union = set().union(*owned)
        if all(owned) and len(union) == slots and sum(map(len, owned)) == slots:
            return
        assert time.monotonic() < deadline, f"group did not settle: {owned}"
        time.sleep(0.05)


def drain(readers: Sequence[Reader], count: int) -> list[list[Message]]:
    """Wait until ``count`` messages arrived in total and every reader came back empty once more;
    stop the readers."""
    deadline = time.monotonic() + WAIT
    while sum(r.count() for r in readers) < count:
        assert time.monotonic() < deadline, (
            f"only {sum(r.count() for r in readers)} of {count} messages arrived"
        )
        time.sleep(0.02)
    settled_empty(readers)
    return [r.stop() for r in readers]


def read(sub: Subscription, count: int, commit: bool = True) -> list[Message]:
    """All ``count`` messages one member gets."""
    (got,) = drain([Reader(sub, commit)], count)
    return got


def publish(bus: Bus, topic: str, records: Sequence[tuple[str, bytes]]) -> None:
    pub = bus.publisher()
    for key, value in records:
        pub.publish(topic, key, value)
    pub.flush(30)
    pub.close()


def records(n: int, keys: int = 16, tag: str = "") -> list[tuple[str, bytes]]:
    return [(f"src-{i % keys}", f"{tag}{i}".encode()) for i in range(n)]


def test_keyed_order_within_partition(bus: Bus) -> None:
    topic = unique("ioc.test.order")
    sub = bus.subscribe([topic], unique("g"))
    sent = records(400, keys=8)
    publish(bus, topic, sent)
    got = read(sub, len(sent))
    sub.close()
    assert len(got) == len(sent)
    by_key: dict[str | None, list[bytes]] = defaultdict(list)
    partition_of: dict[str | None, set[int]] = defaultdict(set)
    for m in got:
        assert m.topic == topic
        by_key[m.key].append(m.value)
        partition_of[m.key].add(m.partition)
    for key in {k for k, _ in sent}:
        assert by_key[key] == [v for k, v in sent if k == key], f"order broken for {key}"
        assert len(partition_of[key]) == 1, f"{key} spread over partitions {partition_of[key]}"
    per_partition: dict[int, list[int]] = defaultdict(list)
    for m in got:
        per_partition[m.partition].append(m.offset)
    for offsets in per_partition.values():
        assert offsets == sorted(offsets)


def test_group_members_split_partitions_exactly_once(bus: Bus) -> None:
    topic, group = unique("ioc.test.split"), unique("g")
    a = bus.subscribe([topic], group)
    b = bus.subscribe([topic], group)
    readers = [Reader(a), Reader(b)]
    settle(readers, PARTITIONS)
    sent = records(600, keys=32)
    publish(bus, topic, sent)
    got_a, got_b = drain(readers, len(sent))
    assert got_a and got_b, "both members must get work"
    assert not {m.partition for m in got_a} & {m.partition for m in got_b}
    assert Counter((m.key, m.value) for m in got_a + got_b) == Counter(sent)
    assert a.lag() == 0 and b.lag() == 0
    a.close()
    b.close()


def test_uncommitted_messages_redelivered_after_close(bus: Bus) -> None:
    topic, group = unique("ioc.test.redeliver"), unique("g")
    first = bus.subscribe([topic], group)
    sent = records(200)
    publish(bus, topic, sent)
    got = read(first, len(sent), commit=False)
    assert Counter((m.key, m.value) for m in got) == Counter(sent)
    first.close()  # no commit: everything goes to the next member
    second = bus.subscribe([topic], group)
    again = read(second, len(sent))
    second.close()
    assert Counter((m.key, m.value) for m in again) == Counter(sent)


def test_new_member_resumes_after_committed_offsets(bus: Bus) -> None:
    topic, group = unique("ioc.test.resume"), unique("g")
    first = bus.subscribe([topic], group)
    old = records(150, tag="old-")
    publish(bus, topic, old)
    assert len(read(first, len(old))) == len(old)
    first.close()
    new = records(100, tag="new-")
    publish(bus, topic, new)
    second = bus.subscribe([topic], group)
    resumed = read(second, len(new))
    second.close()
    assert Counter((m.key, m.value) for m in resumed) == Counter(new), "committed ones came back"


def test_two_groups_each_see_everything(bus: Bus) -> None:
    topic = unique("ioc.test.groups")
    g1 = bus.subscribe([topic], unique("g1"))
    g2 = bus.subscribe([topic], unique("g2"))
    sent = records(300)
    publish(bus, topic, sent)
    readers = [Reader(g1), Reader(g2)]
    deadline = time.monotonic() + WAIT
    while min(r.count() for r in readers) < len(sent):
        assert time.monotonic() < deadline, [r.count() for r in readers]
        time.sleep(0.02)
    settled_empty(readers)
    got1, got2 = (r.stop() for r in readers)
    g1.close()
    g2.close()
    assert Counter((m.key, m.value) for m in got1) == Counter(sent)
    assert Counter((m.key, m.value) for m in got2) == Counter(sent)


def test_lag_drops_to_zero_after_commit(bus: Bus) -> None:
    topic = unique("ioc.test.lag")
    sub = bus.subscribe([topic], unique("g"))
    sent = records(120)
    publish(bus, topic, sent)
    assert len(read(sub, len(sent), commit=False)) == len(sent)
    assert sub.lag() == len(sent)
    sub.commit()
    assert sub.lag() == 0
    sub.close()


def test_offsets_say_where_an_owned_partitions_log_begins_and_ends(bus: Bus) -> None:
    """What a detector runner checks a restored snapshot's offset against: one past the end of the
    partition (the topic was recreated) describes a log that is gone."""
    topic = unique("ioc.test.offsets")
    sub = bus.subscribe([topic], unique("g"))
    publish(bus, topic, [("one-key", b"%d" % i) for i in range(7)])  # one key: one partition
    (partition,) = {m.partition for m in read(sub, 7, commit=False)}
    got = wait_for(lambda: sub.offsets(topic, partition), "the partition's offsets")
    assert (got.first, got.end, got.committed) == (0, 7, None)
    assert got.holds(7) and not got.holds(8) and got.restart() == 0
    sub.commit()
    got = wait_for(lambda: sub.offsets(topic, partition), "the partition's offsets")
    assert got.committed == 7 and got.end == 7 and got.restart() == 7
    assert sub.offsets(f"{topic}.other", 0) is None  # not a partition it owns
    sub.close()
