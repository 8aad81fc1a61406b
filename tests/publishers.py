"""A bus publisher for tests of what ingest workers do while the broker is unreachable."""

from __future__ import annotations

from ioc.bus.memory import MemoryBus


class DownPublisher:
    """The memory bus behind a transport that is down for its first ``failures`` flushes: what was
    published since the last flush is lost with the failed flush, as a real producer reports it."""

    def __init__(self, bus: MemoryBus, failures: int) -> None:
        self.inner = bus.publisher()
        self.failures = failures
        self.queued: list[tuple[str, str | None, bytes]] = []

    def publish(self, topic: str, key: str | None, value: bytes) -> None:
        self.queued.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        queued, self.queued = self.queued, []
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker not reachable")
        for record in queued:
            self.inner.publish(*record)

    def close(self) -> None:
        pass
