"""The consume-process-commit loop: a failed batch is retried, never skipped."""

from __future__ import annotations

import threading

import psycopg

from ioc.bus.loop import BatchConsumer
from ioc.bus.memory import MemoryBus


def test_a_batch_whose_handler_fails_is_redelivered_not_skipped() -> None:
    bus = MemoryBus(partitions=1)
    pub = bus.publisher()
    for i in range(10):
        pub.publish("t", "k", str(i).encode())
    seen: list[int] = []
    failures = iter([True, False])
    stop = threading.Event()

    def handle(batch) -> None:  # noqa: ANN001
        if next(failures, False):
            raise ValueError("a bug in the handler")
        seen.extend(int(m.value) for m in batch)
        if len(seen) >= 10:
            stop.set()

    consumer = BatchConsumer("test", bus.subscribe(["t"], "g"), handle, batch_size=5, poll_timeout=0.05)
    runner = threading.Thread(target=consumer.run, args=(stop,))
    runner.start()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert seen == list(range(10))
    assert consumer.health.errors == 1


def test_transient_store_errors_are_retried_with_backoff() -> None:
    bus = MemoryBus(partitions=1)
    bus.publisher().publish("t", "k", b"x")
    calls = []

    def handle(batch) -> None:  # noqa: ANN001
        calls.append(len(batch))
        if len(calls) < 3:
            raise psycopg.OperationalError("connection refused")

    consumer = BatchConsumer("test", bus.subscribe(["t"], "g"), handle, poll_timeout=0.05)
    assert consumer.run_once(threading.Event()) == 1
    assert calls == [1, 1, 1]
    assert consumer.health.waits == 2 and "connection refused" in consumer.health.last_error
    assert consumer.subscription.lag() == 0
