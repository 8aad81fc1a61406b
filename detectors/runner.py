"""The detector runner: feeds fact topics to the detectors and publishes their alert signals.

One batch is: poll, decode (an undecodable record is counted and skipped; the
store sink dead-letters it), route each event to the detectors that read its
kind, advance the detectors to the watermark, publish the signals on
``ioc.alerts.signals`` keyed by source, flush, and only then commit the
consumed offsets. This is the only place a wall clock is read.

Watermarks are kept per *clock domain*: the feed a record kind belongs to, the
``<feed>`` of its topic ``ioc.<feed>.<kind>`` (:func:`clock_of_kind`), so the
camera records (detections, frame statistics) share one clock, the
environment readings another, the vessel positions a third, the storm warnings
a fourth. A domain's watermark is the largest event time seen in it; in live
mode (``use_wall_clock``) it is at least the injected clock's time, so silence
is noticed even when nothing arrives, and a record more than
``max_future_skew`` ahead of that clock moves no watermark. A detector is
advanced to the watermark of the domain of the kinds it reads, never to
another feed's: a replay re-timed ahead of the wall clock, or a storm warning
issued for later, cannot make a camera that is sending look silent. A detector
that reads kinds of several domains, or judges rules of several kinds (the
stale rules), implements ``advance_clocks`` and gets the watermark of each kind
(see :mod:`detectors.base`); any other gets the latest of its kinds'.

Detectors are advanced only once they have read everything available to them.
While a backlog drains, partitions are read at different paces, and a
watermark taken from one partition would declare the sources of a lagging
partition silent; absence is judged once everything available has been read
(gaps inside the backlog are still found from the events themselves), so a
replay gives the same signals whatever the batching.

Two ways to hold detector state:

* Without a snapshot store (embedded mode, replays, tests) one set of detectors
  judges every record of the subscription, as one *slot*; it is caught up when a
  poll returns fewer records than asked for.
* With a :class:`~ioc.store.detector_state.SnapshotStore` (distributed mode), every
  topic-partition the member owns is a slot with detectors of its own (built by
  ``factory``), its own watermarks and the offset of its next record. After the
  signals of a batch are flushed, the slots that changed are saved as snapshots,
  and then the offsets are committed. When a partition is assigned (first poll,
  rebalance, restart) its snapshot is restored and the partition is read from the
  snapshot's offset; a partition that leaves the member takes its slot with it.
  A slot is caught up when its partition has no record left to fetch (the fetch
  high watermark), so a restored detector in live mode first reads what arrived
  while it was down and only then judges silence against the clock. See
  :mod:`ioc.store.detector_state`.

Broadcast topics (:data:`~ioc.topics.BROADCAST_TOPICS`: storm warnings) are not split by
the group: each runner reads them in full with a :class:`~ioc.bus.broadcast.BroadcastReader`,
before the records of its own partitions (it folds none of those until it has read every
broadcast record published before it started), and hands each record to the detectors of
every slot. It keeps the latest record of each key, for the slots it gets later, so a slot
restored from a snapshot also knows the warnings issued since. A broadcast record does not
move a slot's watermark (it is not that partition's data).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from detectors.base import Detector, dump_time, load_time
from ioc.bus.base import Bus, BusUnavailable, Message
from ioc.bus.broadcast import BroadcastReader
from ioc.bus.loop import TRANSIENT_ERRORS
from ioc.events import AlertSignal, Event, decode
from ioc.store.detector_state import SlotKey, SlotSnapshot, SnapshotStore
from ioc.topics import ALERT_SIGNALS, BROADCAST_TOPICS, TOPIC_BY_KIND

log = logging.getLogger(__name__)

ALL: SlotKey = ("*", -1)  # the one slot of a runner without a snapshot store
CLOCKS_KEY = "@clocks"  # a slot snapshot's per-domain watermarks, beside the detectors' states
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def clock_of_topic(topic: str) -> str:
    """The clock domain of a topic: ``<feed>`` of ``[replay.<ns>.]ioc.<feed>.<kind>``, else the topic."""
    parts = topic.split(".")
    if len(parts) >= 4 and parts[0] == "replay":
        parts = parts[2:]
    return parts[1] if len(parts) >= 3 and parts[0] == "ioc" else topic


def clock_of_kind(kind: str) -> str:
    """The clock domain of an event kind: the feed of the topic that carries it."""
    topic = TOPIC_BY_KIND.get(kind)
    return clock_of_topic(topic) if topic is not None else kind.split(".", 1)[0]


@dataclass
class _Slot:
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
        self.by_kind = {}
        for detector in self.detectors:
            for kind in sorted(detector.kinds):
                self.by_kind.setdefault(kind, []).append(detector)


def _snapshot_names(detectors: Sequence[Detector]) -> list[str]:
    """The key of each detector's state in a snapshot: its name (``name#2`` for a repeat)."""
    seen: dict[str, int] = {}
    out = []
    for detector in detectors:
        seen[detector.name] = seen.get(detector.name, 0) + 1
        out.append(detector.name if seen[detector.name] == 1 else f"{detector.name}#{seen[detector.name]}")
    return out


class DetectorRunner:
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
        self.group = group
        self.signal_topic = signal_topic
        self.use_wall_clock = use_wall_clock
        self.max_future_skew = max_future_skew
        self.state = state
        self.partitioned = state is not None
        self.checkpoint_interval = checkpoint_interval
        self.max_backoff = max_backoff
        self._factory = factory or (lambda: copy.deepcopy(self.detectors))
        self._names = _snapshot_names(self.detectors)
        self._clock = clock or _utc_now
        self._subscription = bus.subscribe(self.topics, group)
        if self.partitioned:
            missing = [m for m in ("assignment", "take_released", "seek", "backlog")
                       if not hasattr(self._subscription, m)]
            if missing:
                self._subscription.close()
                raise TypeError("detector snapshots need a bus with partition control "
                                f"({', '.join(missing)})")
        self._broadcast = (BroadcastReader(bus, self.broadcast_topics, group)
                           if self.broadcast_topics else None)
        self._kept: dict[tuple[str, str], Event] = {}  # latest broadcast record of each key
        self._publisher = bus.publisher()
        self._slots: dict[SlotKey, _Slot] = {}
        if not self.partitioned:
            self._slots[ALL] = _Slot(ALL, self.detectors)
        self._last_checkpoint = time.monotonic()
        self._closed = False
        self.events_seen = 0
        self.signals_published = 0
        self.undecodable = 0
        self.detector_errors = 0
        self.future_events = 0  # live mode: event times too far ahead of the clock to move the watermark
        self.last_event_time: datetime | None = None  # event time of the latest event handled
        self.watermark: datetime | None = None  # largest event time seen (any domain)
        self.clocks: dict[str, datetime] = {}  # clock domain -> largest event time seen in it
        self.slots_restored = 0  # partitioned: slots started from a snapshot
        self.slots_started_cold = 0  # partitioned: slots with no snapshot (or an unusable one)
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
                if signals:
                    self._publish(signals, stop)
                return broadcast
        messages = self._subscription.poll(max_records=max_records, timeout=timeout)
        polled = len(messages)
        if self.partitioned:
            messages = self._sync_slots(messages, stop)
        now = self._clock() if self.use_wall_clock else None
        touched: dict[SlotKey, _Slot] = {}
        for message in messages:
            slot = self._slot_of(message)
            if slot is None:
                continue  # its partition left this member during the poll: its owner reads it
            if slot.fresh:
                self._replay(slot, signals)
            touched[slot.key] = slot
            try:
                event = decode(message.value)
            except (ValueError, TypeError, RecursionError):
                self.undecodable += 1
                continue
            self.events_seen += 1
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
        if signals:
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

    def _tick(self, slot: _Slot, clock: str, when: datetime) -> None:
        """Event time ``when`` was seen in clock domain ``clock``."""
        if clock not in slot.clocks or when > slot.clocks[clock]:
            slot.clocks[clock] = when
        if slot.watermark is None or when > slot.watermark:
            slot.watermark = when
        if clock not in self.clocks or when > self.clocks[clock]:
            self.clocks[clock] = when
        if self.watermark is None or when > self.watermark:
            self.watermark = when

    def _advance(self, slot: _Slot, detector: Detector, now: datetime | None) -> list[AlertSignal]:
        """Advance one detector to the watermarks of its own kinds' clock domains (none: not yet)."""
        marks: dict[str, datetime] = {}
        for kind in detector.kinds:
            mark = slot.clocks.get(clock_of_kind(kind))
            if now is not None:
                mark = now if mark is None else max(mark, now)
            if mark is not None:
                marks[kind] = mark
        if not marks:
            return []
        per_kind = getattr(detector, "advance_clocks", None)
        if per_kind is not None:
            return self._call(detector, per_kind, marks)
        return self._call(detector, detector.advance, max(marks.values()))

    # -- broadcast topics --------------------------------------------------------------------------
    def _read_broadcast(self, max_records: int, timeout: float, out: list[AlertSignal]) -> int:
        """Read the broadcast topics' new records and hand them to every slot; how many were read."""
        assert self._broadcast is not None
        for slot in self._slots.values():
            if slot.fresh:
                self._replay(slot, out)
        messages = self._broadcast.poll(max_records, timeout if not self._broadcast.caught_up else 0.0)
        for message in messages:
            try:
                event = decode(message.value)
            except (ValueError, TypeError, RecursionError):
                self.undecodable += 1
                continue
            self.events_seen += 1
            key = message.key if message.key is not None else f"@{message.partition}:{message.offset}"
            self._kept.pop((message.topic, key), None)
            self._kept[(message.topic, key)] = event  # the latest of each key, in arrival order
            for slot in self._slots.values():
                self._deliver(slot, event, out)
        return len(messages)

    def _replay(self, slot: _Slot, out: list[AlertSignal]) -> None:
        """Give a new slot the broadcast records read before it was made."""
        slot.fresh = False
        for event in self._kept.values():
            self._deliver(slot, event, out)

    def _deliver(self, slot: _Slot, event: Event, out: list[AlertSignal]) -> None:
        detectors = slot.by_kind.get(getattr(event, "kind", ""), ())
        for detector in detectors:
            out.extend(self._call(detector, detector.observe, event))
        if detectors:
            slot.dirty = True

    def _slot_of(self, message: Message) -> _Slot | None:
        if not self.partitioned:
            return self._slots[ALL]
        slot = self._slots.get((message.topic, message.partition))
        if slot is None:
            return None
        if slot.next_offset is not None and message.offset < slot.next_offset:
            # Positions only move forward after a restore: the log itself went back
            # (topic recreated, offsets reset). The snapshot describes another log.
            log.warning("%s: %s[%d] went back from offset %d to %d (topic recreated?); "
                        "its detectors start again empty", self.group, message.topic,
                        message.partition, slot.next_offset, message.offset)
            slot = self._slots[slot.key] = _Slot(slot.key, list(self._factory()))
            self.slots_started_cold += 1
        slot.next_offset = message.offset + 1
        return slot

    def _caught_up(self, slot: _Slot, polled: int, max_records: int) -> bool:
        """True when the slot's detectors have read every record available to them."""
        if not self.partitioned:
            return polled < max_records
        backlog = self._subscription.backlog(*slot.key)  # type: ignore[attr-defined]
        return backlog == 0

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
        """Publish and flush; a bus outage is waited out (republished signals are harmless)."""
        def send() -> None:
            for signal in signals:
                self._publisher.publish(self.signal_topic, signal.source_id, signal.to_wire())
            self._publisher.flush()

        self._retry("bus unavailable", f"publishing {len(signals)} alert signal(s)", send, stop,
                    (BusUnavailable,))
        self.signals_published += len(signals)

    # -- slots and snapshots -----------------------------------------------------------------------
    def _sync_slots(self, messages: list[Message], stop: threading.Event | None) -> list[Message]:
        """Drop the slots of partitions that left; restore those of partitions that came.

        Returns the messages still to handle: those of a partition that had to be moved
        to its snapshot's offset are dropped (they are fetched again from there).
        """
        sub: Any = self._subscription
        for key in sub.take_released():
            if self._slots.pop(key, None) is not None:
                log.info("%s: %s[%d] left this member; its detectors go with it", self.group, *key)
        owned = {key for key in sub.assignment() if key[0] in self.topics}
        for key in [k for k in self._slots if k not in owned]:
            del self._slots[key]
        new = sorted(owned - set(self._slots))
        if not new:
            return messages
        assert self.state is not None
        state = self.state
        snapshots = self._retry("store unavailable", "loading detector state",
                                lambda: state.load(self.group, new), stop, TRANSIENT_ERRORS)
        first: dict[SlotKey, int] = {}
        for m in messages:
            first.setdefault((m.topic, m.partition), m.offset)
        moved: set[SlotKey] = set()
        for key in new:
            slot = self._slots[key] = _Slot(key, list(self._factory()))
            snapshot = snapshots.get(key)
            if snapshot is None:
                self.slots_started_cold += 1
                log.info("%s: %s[%d] assigned; no saved state, starting empty", self.group, *key)
                continue
            self._restore(slot, snapshot)
            if first.get(key) != snapshot.next_offset:
                sub.seek(key[0], key[1], snapshot.next_offset)
                moved.add(key)
            log.info("%s: %s[%d] assigned; state restored (saved %s by %s), reading from offset %d",
                     self.group, key[0], key[1], snapshot.saved_at, snapshot.saved_by or "?",
                     snapshot.next_offset)
        if not moved:
            return messages
        return [m for m in messages if (m.topic, m.partition) not in moved]

    def _restore(self, slot: _Slot, snapshot: SlotSnapshot) -> None:
        fresh: list[Detector] | None = None
        for i, (name, detector) in enumerate(zip(self._names, slot.detectors, strict=True)):
            saved = snapshot.detectors.get(name)
            if saved is None:
                continue  # a detector added since: it starts empty
            try:
                detector.restore(saved)
            except Exception as exc:
                log.warning("%s: %s[%d]: detector %s cannot restore its saved state (%s); it starts empty",
                            self.group, slot.key[0], slot.key[1], name, exc)
                fresh = fresh or list(self._factory())
                slot.detectors[i] = fresh[i]
        slot.route()
        slot.next_offset = snapshot.next_offset
        for clock, when in self._saved_clocks(snapshot).items():
            self._tick(slot, clock, when)
        self.slots_restored += 1

    @staticmethod
    def _saved_clocks(snapshot: SlotSnapshot) -> dict[str, datetime]:
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

    def _snapshot(self, slot: _Slot) -> SlotSnapshot:
        states: dict[str, dict[str, Any]] = {}
        for name, detector in zip(self._names, slot.detectors, strict=True):
            try:
                states[name] = detector.state()
            except Exception:
                self.detector_errors += 1
                log.exception("detector %s cannot snapshot its state; it will restart empty", name)
        states[CLOCKS_KEY] = {clock: dump_time(when) for clock, when in sorted(slot.clocks.items())}
        assert slot.next_offset is not None
        return SlotSnapshot(slot.key[0], slot.key[1], slot.next_offset, slot.watermark, states)

    def checkpoint(self, stop: threading.Event | None = None) -> int:
        """Save the slots that changed, then commit the offsets; return how many were saved.

        Called after the signals of everything handled were flushed, so a snapshot never
        covers a record whose signals could still be lost.
        """
        self._last_checkpoint = time.monotonic()
        if not self.partitioned:
            self._subscription.commit()
            return 0
        dirty = [s for s in self._slots.values() if s.dirty and s.next_offset is not None]
        if dirty:
            snapshots = [self._snapshot(s) for s in dirty]
            assert self.state is not None
            state = self.state
            self._retry("store unavailable", f"saving the state of {len(dirty)} partition(s)",
                        lambda: state.save(self.group, snapshots), stop, TRANSIENT_ERRORS)
            for slot in dirty:
                slot.dirty = False
            self.snapshots_saved += len(snapshots)
        self._subscription.commit()
        return len(dirty)

    def _retry(self, what: str, doing: str, action: Callable[[], T], stop: threading.Event | None,
               errors: tuple[type[BaseException], ...]) -> T:
        """Run ``action``, waiting out transient failures with exponential backoff (logged)."""
        delay = 0.2
        while True:
            try:
                return action()
            except errors as exc:
                self.store_waits += 1
                reason = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                log.warning("detectors: %s (%s); waiting %.1f s before %s again", what, reason, delay, doing)
                if stop is not None:
                    if stop.wait(delay):
                        raise
                else:
                    time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

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
