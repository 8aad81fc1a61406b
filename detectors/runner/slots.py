"""A slot: one set of detectors with its progress (offset, watermarks), and what its snapshot holds.

Without a snapshot store one slot (:data:`ALL`) judges every record of the subscription; with
one, every topic-partition the runner owns is a slot of its own (:mod:`.partitions`). A slot's
snapshot keeps each detector's state under its name (:func:`snapshot_names`) and the slot's
per-domain watermarks under :data:`CLOCKS_KEY`; :func:`implausible_snapshot` says when one holds an
event time no source can have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detectors.base import Detector, KeepsEventTimes, load_time
from detectors.runner.clocks import advance, clock_of_topic
from ioc.records import implausible_time
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
    unchecked: int | None = None  # restored: its snapshot's offset, not yet checked against the log

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


def implausible_snapshot(snapshot: SlotSnapshot, names: Sequence[str], detectors: Sequence[Detector],
                         now: datetime | None, max_ahead: timedelta) -> str | None:
    """Why ``snapshot`` cannot be restored as is: an event time in it no source can have (before 1990,
    or more than ``max_ahead`` after the clock ``now`` of a live runner), in its watermarks or in what
    ``detectors`` (restored from it, named ``names``) keep; ``None`` when it has none. Such a snapshot
    was saved before those times were refused at intake: a year-9999 reading in it would hold its
    station's rule in that year."""
    marks = {f"the {clock} watermark": when for clock, when in saved_clocks(snapshot).items()}
    if snapshot.watermark is not None:
        marks["the watermark"] = snapshot.watermark
    for what, when in sorted(marks.items()):
        if why := implausible_time(when, now, max_ahead):
            return f"{what}: {why}"
    for name, detector in zip(names, detectors, strict=True):
        if not isinstance(detector, KeepsEventTimes):
            continue
        try:
            times = list(detector.event_times())
        except (OverflowError, ValueError) as exc:  # a time past what a datetime holds
            return f"the state of detector {name}: {exc}"
        for when in times:
            if why := implausible_time(when, now, max_ahead):
                return f"the state of detector {name}: {why}"
    return None
