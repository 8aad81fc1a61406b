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
from ioc.bus.broadcast import BroadcastReader
from ioc.events import AlertSignal, Event, decode
from ioc.records import implausible_time
from ioc.store.detector_state import SlotKey

log = logging.getLogger("detectors.runner")


class BroadcastFanout:
    """The runner's part that reads the broadcast topics and hands their records to every slot."""

    _broadcast: BroadcastReader | None
    _kept: dict[tuple[str, str], Event]  # latest broadcast record of each key, in arrival order
    _slots: dict[SlotKey, Slot]
    _call: Callable[[Detector, Callable[[Any], list[AlertSignal]], Any], list[AlertSignal]]
    _clock: Callable[[], datetime]
    use_wall_clock: bool
    max_ahead: timedelta
    events_seen: int
    undecodable: int
    implausible_times: int

    def _decoded(self, value: bytes, now: datetime | None) -> Event | None:
        """A record read from the bus, counted as seen; ``None`` (counted undecodable) when it is not one.

        One whose event time no source can have (before 1990; live, more than ``max_ahead`` past the
        clock ``now``) is ``None`` too, counted in ``implausible_times``: observed, it would hold its
        source's state in the future (a threshold rule would drop every later reading as too late).
        """
        try:
            event = decode(value)
        except (ValueError, TypeError, RecursionError):
            self.undecodable += 1
            return None
        self.events_seen += 1
        why = implausible_time(event.time, now, self.max_ahead)
        if why is not None:
            self.implausible_times += 1
            if self.implausible_times % 1000 == 1:  # the first, then one in a thousand
                log.warning("detectors: %s of %s not observed (%d so far): %s", getattr(event, "kind", "?"),
                            event.source_id[:80], self.implausible_times, why)
            return None
        return event

    def _read_broadcast(self, max_records: int, timeout: float, out: list[AlertSignal]) -> int:
        """Read the broadcast topics' new records and hand them to every slot; how many were read."""
        assert self._broadcast is not None
        for slot in self._slots.values():
            if slot.fresh:
                self._replay(slot, out)
        messages = self._broadcast.poll(max_records, timeout if not self._broadcast.caught_up else 0.0)
        now = self._clock() if self.use_wall_clock else None
        for message in messages:
            event = self._decoded(message.value, now)
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
