"""A file source's pacing read on a fake clock: how many lines it gave and each wait it asked for."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from ingest.vessels.sources import FileSource


def paced_waits(path: Path, speed: float, received: datetime) -> tuple[int, list[float]]:
    """Reads ``path`` at ``speed`` to its end; every wait passes at once on the fake clock."""
    now = [0.0]
    waited: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waited.append(timeout or 0.0)
            now[0] += timeout or 0.0
            return False

    source = FileSource(path, speed=speed, clock=lambda: received, monotonic=lambda: now[0])
    return sum(len(batch) for batch, _ in source.read(Stop())), waited
