"""Broadcast topics: records every detector instance must see, whatever partitions it owns.

Broadcast topics (:data:`~ioc.topics.BROADCAST_TOPICS`: storm warnings) are not split by
the group: each runner reads them in full with a :class:`~ioc.bus.broadcast.BroadcastReader`,
before the records of its own partitions (it folds none of those until it has read every
broadcast record published before it started), and hands each record to the detectors of
every slot. It keeps the latest record of each key, for the slots it gets later, so a slot
restored from a snapshot also knows the warnings issued since. A broadcast record does not
move a slot's watermark (it is not that partition's data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from detectors.base import Detector
from detectors.runner.slots import Slot
from ioc.bus.base import Message
from ioc.bus.broadcast import BroadcastReader
from ioc.bus.loop import failure_reason
from ioc.events import AlertSignal, Event, EventDecodeError, decode
from ioc.records import implausible_time
from ioc.store.detector_state import SlotKey
from ioc.store.writer import DeadLetter
from ioc.topics import misplaced

log = logging.getLogger("detectors.runner")


class BroadcastFanout:
    """The runner's part that reads the broadcast topics and hands their records to every slot."""

    _broadcast: BroadcastReader | None
    _kept: dict[tuple[str, str], Event]  # latest broadcast record of each key, in arrival order
    _dead: list[DeadLetter]  # records set aside, not yet published
    dead_letter_topics: frozenset[str]
    _slots: dict[SlotKey, Slot]
    _call: Callable[[Detector, Callable[[Any], list[AlertSignal]], Any], list[AlertSignal]]
    _clock: Callable[[], datetime]
    use_wall_clock: bool
    max_ahead: timedelta
    events_seen: int
    undecodable: int
    implausible_times: int

    def _decoded(self, message: Message, now: datetime | None) -> Event | None:
        """The record of a bus message, counted as seen; ``None`` (counted undecodable) when it is not
        one, or not one of a kind its topic carries.

        One whose event time no source can have (before 1990; live, more than ``max_ahead`` past the
        clock ``now``) is ``None`` too, counted in ``implausible_times``: observed, it would hold its
        source's state in the future (a threshold rule would drop every later reading as too late).
        Each refused record is set aside (:meth:`_set_aside`).
        """
        try:
            event = decode(message.value)
        except (ValueError, TypeError, RecursionError) as exc:
            self.undecodable += 1
            self._set_aside(message, str(exc) if isinstance(exc, EventDecodeError) else failure_reason(exc))
            return None
        wrong = misplaced(message.topic, getattr(event, "kind", ""))
        if wrong is not None:
            self.undecodable += 1
            self._set_aside(message, wrong)
            return None
        self.events_seen += 1
        why = implausible_time(event.time, now, self.max_ahead)
        if why is not None:
            self.implausible_times += 1
            if self.implausible_times % 1000 == 1:  # the first, then one in a thousand
                log.warning("detectors: %s of %s not observed (%d so far): %s", getattr(event, "kind", "?"),
                            event.source_id[:80], self.implausible_times, why)
            self._set_aside(message, why)
            return None
        return event

    def _set_aside(self, message: Message, reason: str) -> None:
        """A refused record of a topic no store sink reads (:attr:`dead_letter_topics`): a dead letter,
        published with the next signals (before the offsets are committed); the sink dead-letters
        those of its own topics."""
        if message.topic in self.dead_letter_topics:
            self._dead.append(DeadLetter.for_message(message, "detectors", reason))

    def _read_broadcast(self, max_records: int, timeout: float, out: list[AlertSignal]) -> int:
        """Read the broadcast topics' new records and hand them to every slot; how many were read."""
        assert self._broadcast is not None
        for slot in self._slots.values():
            if slot.fresh:
                self._replay(slot, out)
        messages = self._broadcast.poll(max_records, timeout if not self._broadcast.caught_up else 0.0)
        now = self._clock() if self.use_wall_clock else None
        for message in messages:
            event = self._decoded(message, now)
            if event is None:
                continue
            key = message.key if message.key is not None else f"@{message.partition}:{message.offset}"
            self._kept.pop((message.topic, key), None)
            self._kept[(message.topic, key)] = event  # the latest of each key, in arrival order
            for slot in self._slots.values():
                self._deliver(slot, event, out)
        return len(messages)

    def _replay(self, slot: Slot, out: list[AlertSignal]) -> None:
        """Give a new slot the broadcast records read before it was made."""
        slot.fresh = False
        for event in self._kept.values():
            self._deliver(slot, event, out)

    def _deliver(self, slot: Slot, event: Event, out: list[AlertSignal]) -> None:
        detectors = slot.by_kind.get(getattr(event, "kind", ""), ())
        for detector in detectors:
            out.extend(self._call(detector, detector.observe, event))
        if detectors:
            slot.dirty = True
