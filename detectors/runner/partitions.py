"""Detector state per topic-partition (distributed mode): restored when assigned, saved when done.

With a :class:`~ioc.store.detector_state.SnapshotStore`, every topic-partition the member owns
is a slot with detectors of its own (built by ``factory``), its own watermarks and the offset of
its next record. After the signals of a batch are flushed, the slots that changed are saved as
snapshots, and then the offsets are committed. When a partition is assigned (first poll,
rebalance, restart) its snapshot is restored and the partition is read from the snapshot's
offset; a partition that leaves the member takes its slot with it. A slot is caught up when its
partition has no record left to fetch (the fetch high watermark), so a restored detector in live
mode first reads what arrived while it was down and only then judges silence against the clock.
See :mod:`ioc.store.detector_state`.

A snapshot is not used (logged, counted in ``snapshots_discarded``; the partition starts empty, as
one without a snapshot) when it holds an event time no source can have
(:func:`~detectors.runner.slots.implausible_snapshot`), or when its offset is not in the partition's
log (:meth:`PartitionSlots._check_positions`: beyond its end or before its beginning, as after the
topic was deleted and recreated or a broker lost its data); the latter then reads from the group's
committed offset if the log holds it, else from its beginning.

Without a snapshot store (embedded mode, replays, tests) one set of detectors judges every
record of the subscription, as one slot; it is caught up when a poll returns fewer records
than asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from detectors.base import Detector, OwningDetector, dump_time
from detectors.runner.slots import ALL, CLOCKS_KEY, Slot, implausible_snapshot, saved_clocks
from ioc.bus.base import Message, Subscription
from ioc.bus.loop import TRANSIENT_ERRORS
from ioc.store.detector_state import SlotKey, SlotSnapshot, SnapshotStore
from ioc.topics import carries

log = logging.getLogger("detectors.runner")


class PartitionSlots:
    """The runner's part that keeps a slot per owned partition and saves and restores its state.

    Snapshots are kept under :attr:`state_group`, the group's name on the broker (with the bus's
    namespace, as ``IOC_BUS__NAMESPACE`` prefixes it): two namespaces sharing one database keep
    apart, and a role in a new namespace never restores another's offsets and skips records.
    """

    group: str
    state_group: str
    topics: tuple[str, ...]
    state: SnapshotStore | None
    partitioned: bool
    detector_errors: int
    slots_restored: int
    slots_started_cold: int
    snapshots_saved: int
    snapshots_discarded: int
    max_ahead: timedelta
    use_wall_clock: bool
    _clock: Callable[[], datetime]
    _slots: dict[SlotKey, Slot]
    _names: list[str]
    _factory: Callable[[], Sequence[Detector]]
    _subscription: Subscription
    _last_checkpoint: float
    _tick: Callable[[Slot, str, datetime], None]
    _retry: Callable[..., Any]

    def _new_detectors(self, key: SlotKey) -> list[Detector]:
        """Fresh detectors for the slot of ``key``, each that judges unheard sources told its own."""
        detectors = list(self._factory())
        topic, partition = key
        sub: Any = self._subscription

        def owns(kind: str, source: str) -> bool:
            return carries(topic, kind) and sub.partition_of(topic, source) == partition

        for detector in detectors:
            if isinstance(detector, OwningDetector):
                detector.claim(owns)
        return detectors

    def _slot_of(self, message: Message) -> Slot | None:
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
            slot = self._slots[slot.key] = Slot(slot.key, self._new_detectors(slot.key))
            self.slots_started_cold += 1
        slot.next_offset = message.offset + 1
        return slot

    def _caught_up(self, slot: Slot, polled: int, max_records: int) -> bool:
        """True when the slot's detectors have read every record available to them."""
        if not self.partitioned:
            return polled < max_records
        backlog = self._subscription.backlog(*slot.key)  # type: ignore[attr-defined]
        return backlog == 0

    def _sync_slots(self, messages: list[Message], stop: threading.Event | None) -> list[Message]:
        """Drop the slots of partitions that left; restore those of partitions that came; check
        the offsets of restored snapshots against the partitions' logs.

        Returns the messages still to handle: those of a partition that had to be moved
        to another offset are dropped (they are fetched again from there).
        """
        sub: Any = self._subscription
        for key in sub.take_released():
            if self._slots.pop(key, None) is not None:
                log.info("%s: %s[%d] left this member; its detectors go with it", self.group, *key)
        owned = {key for key in sub.assignment() if key[0] in self.topics}
        for key in [k for k in self._slots if k not in owned]:
            del self._slots[key]
        new = sorted(owned - set(self._slots))
        if new:
            messages = self._restore_new(new, messages, stop)
        return self._check_positions(messages, stop)

    def _restore_new(self, new: list[SlotKey], messages: list[Message],
                     stop: threading.Event | None) -> list[Message]:
        """Give each newly owned partition a slot, restored from its snapshot where it has a usable one."""
        sub: Any = self._subscription
        assert self.state is not None
        state = self.state
        snapshots = self._retry("store unavailable", "loading detector state",
                                lambda: state.load(self.state_group, new), stop, TRANSIENT_ERRORS)
        first: dict[SlotKey, int] = {}
        for m in messages:
            first.setdefault((m.topic, m.partition), m.offset)
        moved: set[SlotKey] = set()
        for key in new:
            slot = self._slots[key] = Slot(key, self._new_detectors(key))
            snapshot = snapshots.get(key)
            if snapshot is None:
                self.slots_started_cold += 1
                log.info("%s: %s[%d] assigned; no saved state, starting empty", self.group, *key)
                continue
            why = self._restore(slot, snapshot)
            if why is not None:
                self._discard(key, f"its saved state holds {why}", "the committed offset")
                continue
            slot.unchecked = snapshot.next_offset
            if first.get(key) != snapshot.next_offset:
                sub.seek(key[0], key[1], snapshot.next_offset)
                moved.add(key)
            log.info("%s: %s[%d] assigned; state restored (saved %s by %s), reading from offset %d",
                     self.group, key[0], key[1], snapshot.saved_at, snapshot.saved_by or "?",
                     snapshot.next_offset)
        if not moved:
            return messages
        return [m for m in messages if (m.topic, m.partition) not in moved]

    def _discard(self, key: SlotKey, why: str, start: str) -> None:
        """Start ``key``'s slot again empty: its snapshot cannot be used (logged and counted)."""
        self._slots[key] = Slot(key, self._new_detectors(key))
        self.snapshots_discarded += 1
        self.slots_started_cold += 1
        log.warning("%s: %s[%d] assigned; saved state not used: %s; its detectors start empty from %s",
                    self.group, key[0], key[1], why, start)

    def _check_positions(self, messages: list[Message], stop: threading.Event | None) -> list[Message]:
        """Discard the restored slots whose snapshot's offset is not in their partition's log now.

        A snapshot past the end of its partition (or before its first kept record) describes another
        log: the topic was deleted and recreated, or a broker lost its data. Read from it, the
        partition would never be read again on some brokers (Tansu answers nothing there; Kafka resets
        the position). A slot stays unchecked (and not caught up) until the bus can say where the log
        ends; then it is kept, or started empty from the committed offset (else the first record).
        Returns the messages still to handle (none of a partition moved here).
        """
        sub: Any = self._subscription
        moved: set[SlotKey] = set()
        for slot in [s for s in self._slots.values() if s.unchecked is not None]:
            key = slot.key
            bounds = self._retry("bus unavailable", f"asking the offsets of {key[0]}[{key[1]}]",
                                 lambda k=key: sub.offsets(*k), stop, TRANSIENT_ERRORS)
            if bounds is None:
                continue  # not yet known: asked again after the next poll
            offset, slot.unchecked = slot.unchecked, None
            if bounds.holds(offset):
                continue
            where = (f"past the partition's end ({bounds.end})" if offset > bounds.end
                     else f"before its first record ({bounds.first})")
            start = bounds.restart()
            self._discard(key, f"its offset {offset} is {where} (topic recreated or broker data lost?)",
                          f"offset {start}")
            self.slots_restored -= 1  # counted when its state was loaded: it was not restored after all
            sub.seek(key[0], key[1], start)
            moved.add(key)
        if not moved:
            return messages
        return [m for m in messages if (m.topic, m.partition) not in moved]

    def _restore(self, slot: Slot, snapshot: SlotSnapshot) -> str | None:
        """Load ``snapshot`` into ``slot``; the reason it cannot be used (the slot is then left as is,
        to be replaced), or ``None``."""
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
                fresh = fresh or self._new_detectors(slot.key)
                slot.detectors[i] = fresh[i]
        now = self._clock() if self.use_wall_clock else None  # as at intake: no receiving clock, no "ahead"
        why = implausible_snapshot(snapshot, self._names, slot.detectors, now, self.max_ahead)
        if why is not None:
            return why
        slot.route()
        slot.next_offset = snapshot.next_offset
        for clock, when in saved_clocks(snapshot).items():
            self._tick(slot, clock, when)
        self.slots_restored += 1
        return None

    def _snapshot(self, slot: Slot) -> SlotSnapshot:
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
                        lambda: state.save(self.state_group, snapshots), stop, TRANSIENT_ERRORS)
            for slot in dirty:
                slot.dirty = False
            self.snapshots_saved += len(snapshots)
        self._subscription.commit()
        return len(dirty)
