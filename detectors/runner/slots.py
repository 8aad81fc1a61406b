"""A slot: one set of detectors with its progress (offset, watermarks), and what its snapshot holds.

Without a snapshot store one slot (:data:`ALL`) judges every record of the subscription; with
one, every topic-partition the runner owns is a slot of its own (:mod:`.partitions`). A slot's
snapshot keeps each detector's state under its name (:func:`snapshot_names`) and the slot's
per-domain watermarks under :data:`CLOCKS_KEY`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from detectors.base import Detector, load_time
from detectors.runner.clocks import advance, clock_of_topic
from ioc.store.detector_state import SlotKey, SlotSnapshot

ALL: SlotKey = ("*", -1)  # the one slot of a runner without a snapshot store
CLOCKS_KEY = "@clocks"  # a slot snapshot's per-domain watermarks, beside the detectors' states


@dataclass
class Slot:
    """The detectors of one topic-partition (or of everything), with their progress."""

    key: SlotKey
    detectors: list[Detector]
    by_kind: dict[str, list[Detector]] = field(default_factory=dict)
    next_offset: int | None = None  # partitioned: the next record not yet folded in
    watermark: datetime | None = None  # the latest of ``clocks``
    clocks: dict[str, datetime] = field(default_factory=dict)  # clock domain -> its watermark
    dirty: bool = False
    fresh: bool = True  # not yet given the broadcast records read before it was made

    def __post_init__(self) -> None:
        self.route()

    def route(self) -> None:
        """Which detectors read each event kind (again after a detector was replaced)."""
        self.by_kind = {}
        for detector in self.detectors:
            for kind in sorted(detector.kinds):
                self.by_kind.setdefault(kind, []).append(detector)

    def tick(self, clock: str, when: datetime) -> None:
        """Event time ``when`` was seen in clock domain ``clock``."""
        advance(self.clocks, clock, when)
        if self.watermark is None or when > self.watermark:
            self.watermark = when


def snapshot_names(detectors: Sequence[Detector]) -> list[str]:
    """The key of each detector's state in a snapshot: its name (``name#2`` for a repeat)."""
    seen: dict[str, int] = {}
    out = []
    for detector in detectors:
        seen[detector.name] = seen.get(detector.name, 0) + 1
        out.append(detector.name if seen[detector.name] == 1 else f"{detector.name}#{seen[detector.name]}")
    return out


def saved_clocks(snapshot: SlotSnapshot) -> dict[str, datetime]:
    """A snapshot's per-domain watermarks; one written before they existed gives its topic's."""
    saved = snapshot.detectors.get(CLOCKS_KEY)
    clocks: dict[str, datetime] = {}
    if isinstance(saved, dict):
        for clock, text in saved.items():
            when = load_time(text) if isinstance(text, str) else None
            if when is not None:
                clocks[str(clock)] = when
    if not clocks and snapshot.watermark is not None:
        clocks[clock_of_topic(snapshot.topic)] = snapshot.watermark
    return clocks
