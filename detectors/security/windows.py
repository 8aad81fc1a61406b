"""Event-time sliding windows keyed by source: out-of-order and duplicate safe, bounded, snapshotable."""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta
from typing import Any

from detectors.base import dump_time, load_time

MAX_ENTRIES = 4096  # per key: a flood keeps only the newest entries


class KeyedWindow:
    """Per key, sorted (time, item) entries; a duplicate (same time and item) is kept once."""

    def __init__(self, width: timedelta) -> None:
        self.width = width
        self.entries: dict[str, list[tuple[datetime, str]]] = {}

    def add(self, key: str, time: datetime, item: str) -> bool:
        """Record one entry; False when it was already there (a duplicate)."""
        rows = self.entries.setdefault(key, [])
        entry = (time, item)
        if entry in rows:
            return False
        insort(rows, entry)
        if len(rows) > MAX_ENTRIES:
            del rows[: len(rows) - MAX_ENTRIES]
        return True

    def around(self, key: str, time: datetime) -> list[list[tuple[datetime, str]]]:
        """Every window of ``width`` that contains ``time``: the entries of each, from each start point."""
        rows = self.entries.get(key, [])
        out = []
        for start, _ in rows:
            if start > time or start < time - self.width:
                continue
            out.append([r for r in rows if start <= r[0] <= start + self.width])
        return out

    def prune(self, before: datetime) -> None:
        """Forget entries older than ``before``."""
        for key in list(self.entries):
            kept = [r for r in self.entries[key] if r[0] >= before]
            if kept:
                self.entries[key] = kept
            else:
                del self.entries[key]

    def state(self) -> dict[str, Any]:
        return {k: [[dump_time(t), i] for t, i in rows] for k, rows in self.entries.items()}

    def restore(self, state: dict[str, Any]) -> None:
        self.entries = {k: [(load_time(t), i) for t, i in rows] for k, rows in state.items()}  # type: ignore[misc]
