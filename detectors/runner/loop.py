"""The batch loop of the detector runner: route each event to its rules, advance them, publish, commit.

See :mod:`detectors.runner` for the whole; this module holds :class:`DetectorRunner`, one
consumer-group member of the bus: its construction, one batch (:meth:`DetectorRunner.run_once`),
the clock ticks and advances of its detectors, the publishing of their alert signals and the loop.
Detectors are advanced only once they have read everything available to them. While a backlog
drains, partitions are read at different paces, and a watermark taken from one partition would
declare the sources of a lagging partition silent; absence is judged once everything available
has been read (gaps inside the backlog are still found from the events themselves), so a replay
gives the same signals whatever the batching.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from detectors.base import Detector
from detectors.runner.broadcast import BroadcastFanout
from detectors.runner.clocks import advance, clock_of_kind, marks_of
from detectors.runner.partitions import PartitionSlots
from detectors.runner.retry import wait_out
from detectors.runner.slots import ALL, Slot, snapshot_names
from ioc.bus.base import Bus, BusUnavailable
from ioc.bus.broadcast import BroadcastReader
from ioc.bus.loop import TRANSIENT_ERRORS
from ioc.events import AlertSignal, Event
from ioc.records import MAX_AHEAD
from ioc.store.detector_state import SlotKey, SnapshotStore
from ioc.store.writer import DeadLetter
from ioc.topics import ALERT_SIGNALS, BROADCAST_TOPICS, DEAD_LETTERS, STORED_TOPICS, TOPIC_BY_KIND

log = logging.getLogger("detectors.runner")
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DetectorRunner(PartitionSlots, BroadcastFanout):
    """Runs detectors as one consumer-group member of the bus."""

    def __init__(
        self,
        bus: Bus,
        detectors: Sequence[Detector],
        group: str = "detectors",
        topics: Sequence[str] | None = None,
        signal_topic: str = ALERT_SIGNALS,
        use_wall_clock: bool = False,
        clock: Callable[[], datetime] | None = None,
        max_future_skew: timedelta = timedelta(minutes=5),
        state: SnapshotStore | None = None,
        factory: Callable[[], Sequence[Detector]] | None = None,
        checkpoint_interval: float = 0.0,
        max_backoff: float = 10.0,
        max_ahead: timedelta = MAX_AHEAD,
    ) -> None:
        # Without a snapshot store these judge every record; with one they are templates
        # (each slot gets instances of its own from ``factory``, by default deep copies of them).
        self.detectors = list(detectors)
        kinds = {kind for detector in self.detectors for kind in detector.kinds}
        if topics is None:
            unknown = sorted(k for k in kinds if k not in TOPIC_BY_KIND)
            if unknown:
                raise ValueError(f"no topic carries event kinds {unknown}")
            topics = sorted({TOPIC_BY_KIND[k] for k in kinds})
        self.broadcast_topics = tuple(t for t in topics if t in BROADCAST_TOPICS)
        topics = [t for t in topics if t not in BROADCAST_TOPICS]
        if not topics:
            raise ValueError("the detectors read no event kind: nothing to subscribe to")
        self.topics = tuple(topics)
        # the topics no store sink reads (fan-out copies): this role dead-letters their bad records
        self.dead_letter_topics = frozenset(t for t in (*self.topics, *self.broadcast_topics)
                                            if t not in STORED_TOPICS)
        self._dead: list[DeadLetter] = []
        self.group = group
        physical = getattr(bus, "physical", None)  # the broker's name, with the bus's namespace
        self.state_group = physical(group) if physical is not None else group
        self.signal_topic = signal_topic
        self.use_wall_clock = use_wall_clock
        self.max_future_skew = max_future_skew
        self.max_ahead = max_ahead
        self.state = state
        self.partitioned = state is not None
        self.checkpoint_interval = checkpoint_interval
        self.max_backoff = max_backoff
        self._factory = factory or (lambda: copy.deepcopy(self.detectors))
        self._names = snapshot_names(self.detectors)
        self._clock = clock or _utc_now
        self._subscription = bus.subscribe(self.topics, group)
        if self.partitioned:
            control = ("assignment", "take_released", "seek", "backlog", "partition_of", "offsets")
            missing = [m for m in control if not hasattr(self._subscription, m)]
            if missing:
                self._subscription.close()
                raise TypeError("detector snapshots need a bus with partition control "
                                f"({', '.join(missing)})")
        self._broadcast = (BroadcastReader(bus, self.broadcast_topics, group)
                           if self.broadcast_topics else None)
        self._kept: dict[tuple[str, str], Event] = {}  # latest broadcast record of each key
        self._publisher = bus.publisher()
        self._slots: dict[SlotKey, Slot] = {}
        if not self.partitioned:
            self._slots[ALL] = Slot(ALL, self.detectors)
        self._last_checkpoint = time.monotonic()
        self._closed = False
        self.events_seen = 0
        self.signals_published = 0
        self.dead_letters = 0  # records of :attr:`dead_letter_topics` published on ``ioc.deadletters``
        self.undecodable = 0  # not a record, or not one of a kind its topic carries
        self.detector_errors = 0
        self.future_events = 0  # live mode: event times too far ahead of the clock to move the watermark
        self.implausible_times = 0  # event times no source can have: never observed (a dead letter)
        self.last_event_time: datetime | None = None  # event time of the latest event handled
        self.watermark: datetime | None = None  # largest event time seen (any domain)
        self.clocks: dict[str, datetime] = {}  # clock domain -> largest event time seen in it
        self.slots_restored = 0  # partitioned: slots started from a snapshot
        self.slots_started_cold = 0  # partitioned: slots with no snapshot (or an unusable one)
        self.snapshots_discarded = 0  # partitioned: snapshots not used (an impossible time or offset)
        self.snapshots_saved = 0
        self.store_waits = 0

    # -- one batch ---------------------------------------------------------------------------------
    def run_once(self, max_records: int = 500, timeout: float = 0.5,
                 stop: threading.Event | None = None) -> int:
        """Handle one batch; return how many bus records it held."""
        signals: list[AlertSignal] = []
        if self._broadcast is not None:
            broadcast = self._read_broadcast(max_records, timeout, signals)
            if not self._broadcast.caught_up:  # nothing of our partitions before every warning is known
                if signals or self._dead:
                    self._publish(signals, stop)
                return broadcast
        messages = self._subscription.poll(max_records=max_records, timeout=timeout)
        polled = len(messages)
        if self.partitioned:
            messages = self._sync_slots(messages, stop)
        now = self._clock() if self.use_wall_clock else None
        touched: dict[SlotKey, Slot] = {}
        for message in messages:
            slot = self._slot_of(message)
            if slot is None:
                continue  # its partition left this member during the poll: its owner reads it
            if slot.fresh:
                self._replay(slot, signals)
            touched[slot.key] = slot
            event = self._decoded(message, now)
            if event is None:
                continue
            self.last_event_time = event.time
            if now is not None and event.time > now + self.max_future_skew:
                self.future_events += 1
            else:
                self._tick(slot, clock_of_kind(getattr(event, "kind", "")), event.time)
            for detector in slot.by_kind.get(getattr(event, "kind", ""), ()):
                signals.extend(self._call(detector, detector.observe, event))
        for slot in list(self._slots.values()):
            if not self._caught_up(slot, polled, max_records):
                continue
            decided: list[AlertSignal] = []
            for detector in slot.detectors:
                decided.extend(self._advance(slot, detector, now))
            if decided:
                signals.extend(decided)
                touched[slot.key] = slot
        if signals or self._dead:
            self._publish(signals, stop)
        if self.partitioned:
            for slot in touched.values():
                slot.dirty = True
            due = time.monotonic() - self._last_checkpoint >= self.checkpoint_interval
            if due and any(slot.dirty for slot in self._slots.values()):
                self.checkpoint(stop)
        elif polled:
            self._subscription.commit()
        return polled

    def judge_at_watermarks(self, stop: threading.Event | None = None) -> int:
        """Advance every slot to this runner's watermark of each clock domain, the latest event time
        read from any of its partitions, and publish what that decides; returns how many signals.

        Only for a caller that knows every record published before that time was read by every
        slot and that what is published later is not older: a replay that published its records in
        event-time order and has read all of them. Without it a partitioned runner judges each
        partition against its own clock, and a partition whose sources fell silent before the end of
        the replayed period would never see the silence judged; the one slot of an unpartitioned
        runner is at that watermark already, and live the wall clock moves every slot.
        """
        signals: list[AlertSignal] = []
        for slot in self._slots.values():
            clocks = dict(slot.clocks)
            for clock, when in self.clocks.items():
                advance(clocks, clock, when)
            decided: list[AlertSignal] = []
            for detector in slot.detectors:
                decided.extend(self._advance(slot, detector, None, clocks))
            if decided:
                signals.extend(decided)
                slot.dirty = True
        if signals:
            self._publish(signals, stop)
        return len(signals)

    def _tick(self, slot: Slot, clock: str, when: datetime) -> None:
        """Event time ``when`` was seen in clock domain ``clock``."""
        slot.tick(clock, when)
        advance(self.clocks, clock, when)
        if self.watermark is None or when > self.watermark:
            self.watermark = when

    def _advance(self, slot: Slot, detector: Detector, now: datetime | None,
                 clocks: dict[str, datetime] | None = None) -> list[AlertSignal]:
        """Advance one detector to the watermarks of its own kinds' clock domains (none: not yet);
        the slot's own, unless ``clocks`` are given."""
        marks = marks_of(detector.kinds, slot.clocks if clocks is None else clocks, now)
        if not marks:
            return []
        per_kind = getattr(detector, "advance_clocks", None)
        if per_kind is not None:
            return self._call(detector, per_kind, marks)
        return self._call(detector, detector.advance, max(marks.values()))

    def _call(
        self,
        detector: Detector,
        method: Callable[[Any], list[AlertSignal]],
        arg: Event | datetime | dict[str, datetime],
    ) -> list[AlertSignal]:
        """One detector step; a detector's bug is logged and counted, never a stuck partition."""
        try:
            return method(arg)
        except Exception:
            self.detector_errors += 1
            if isinstance(arg, dict):
                what = ", ".join(f"{k}@{t.isoformat()}" for k, t in sorted(arg.items()))
            elif isinstance(arg, datetime):
                what = arg.isoformat()
            else:
                what = f"{arg.source_id}@{arg.time.isoformat()}"
            log.exception("detector %s failed on %s", detector.name, what)
            return []

    def _publish(self, signals: list[AlertSignal], stop: threading.Event | None) -> None:
        """Publish and flush the signals and the dead letters set aside; a bus outage is waited out
        (republished signals are harmless, and a dead letter is kept by its origin's position)."""
        dead = list(self._dead)

        def send() -> None:
            for signal in signals:
                self._publisher.publish(self.signal_topic, signal.source_id, signal.to_wire())
            for letter in dead:
                self._publisher.publish(DEAD_LETTERS, letter.key, letter.message())
            self._publisher.flush()

        self._retry("bus unavailable", f"publishing {len(signals)} alert signal(s) and {len(dead)} "
                    "dead letter(s)", send, stop, (BusUnavailable,))
        del self._dead[:len(dead)]
        self.signals_published += len(signals)
        self.dead_letters += len(dead)
        for letter in dead:
            log.warning("dead letter: %s[%s]@%s (key %r): %s", letter.topic, letter.partition, letter.offset,
                        (letter.key or "")[:80], letter.reason[:200])

    def _retry(self, what: str, doing: str, action: Callable[[], T], stop: threading.Event | None,
               errors: tuple[type[BaseException], ...]) -> T:
        """Run ``action``, waiting out transient failures with exponential backoff (logged, counted)."""
        def waited() -> None:
            self.store_waits += 1

        return wait_out(what, doing, action, stop, errors, self.max_backoff, waited)

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Handle batches until ``stop`` is set, then checkpoint, commit and close."""
        try:
            while not stop.is_set():
                self.run_once(stop=stop)
        except BaseException:
            self.close(commit=False)  # the failed batch was not handled: let it be redelivered
            raise
        self.close()

    def close(self, commit: bool = True) -> None:
        """Save and commit what was handled (unless told not to) and leave the group."""
        if self._closed:
            return
        self._closed = True
        try:
            if commit:
                once = threading.Event()
                once.set()  # one try: a store outage at exit must not hold the process
                try:
                    self.checkpoint(once)
                except TRANSIENT_ERRORS as exc:  # pragma: no cover - the store went away at exit
                    log.warning("%s: state not saved at exit (%s); the next owner redoes the last "
                                "records", self.group, exc)
            self._publisher.close()
        finally:
            if self._broadcast is not None:
                self._broadcast.close()
            self._subscription.close()
