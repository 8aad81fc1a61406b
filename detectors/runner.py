"""The detector runner: feeds fact topics to the detectors and publishes their alert signals.

One batch is: poll, decode (an undecodable record is counted and skipped; the
store sink dead-letters it), route each event to the detectors that read its
kind, advance every detector to the watermark, publish the signals on
``ioc.alerts.signals`` keyed by source, flush, and only then commit the
consumed offsets. The watermark is the largest event time seen; in live mode
(``use_wall_clock``) it is at least the injected clock's time, so silence is
noticed even when nothing arrives. This is the only place a wall clock is read.

Detectors are advanced only after a batch that leaves the runner caught up
(fewer records than asked for). While a backlog drains, partitions are read
at different paces, and a watermark taken from one partition would declare
the sources of a lagging partition silent; absence is judged once everything
available has been read (gaps inside the backlog are still found from the
events themselves), so a replay gives the same signals whatever the batching.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.base import Detector
from ioc.bus.base import Bus
from ioc.events import AlertSignal, Event, decode
from ioc.topics import ALERT_SIGNALS, TOPIC_BY_KIND

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
    ) -> None:
        self.detectors = list(detectors)
        self._by_kind: dict[str, list[Detector]] = {}
        for detector in self.detectors:
            for kind in sorted(detector.kinds):
                self._by_kind.setdefault(kind, []).append(detector)
        if topics is None:
            unknown = sorted(k for k in self._by_kind if k not in TOPIC_BY_KIND)
            if unknown:
                raise ValueError(f"no topic carries event kinds {unknown}")
            topics = sorted({TOPIC_BY_KIND[k] for k in self._by_kind})
        if not topics:
            raise ValueError("the detectors read no event kind: nothing to subscribe to")
        self.topics = tuple(topics)
        self.group = group
        self.signal_topic = signal_topic
        self.use_wall_clock = use_wall_clock
        self.max_future_skew = max_future_skew
        self._clock = clock or _utc_now
        self._subscription = bus.subscribe(self.topics, group)
        self._publisher = bus.publisher()
        self._closed = False
        self.events_seen = 0
        self.signals_published = 0
        self.undecodable = 0
        self.detector_errors = 0
        self.future_events = 0  # live mode: event times too far ahead of the clock to move the watermark
        self.last_event_time: datetime | None = None  # event time of the latest event handled
        self.watermark: datetime | None = None  # largest event time seen

    def run_once(self, max_records: int = 500, timeout: float = 0.5) -> int:
        """Handle one batch; return how many bus records it held."""
        messages = self._subscription.poll(max_records=max_records, timeout=timeout)
        now = self._clock() if self.use_wall_clock else None
        signals: list[AlertSignal] = []
        for message in messages:
            try:
                event = decode(message.value)
            except (ValueError, TypeError, RecursionError):
                self.undecodable += 1
                continue
            self.events_seen += 1
            self.last_event_time = event.time
            if now is not None and event.time > now + self.max_future_skew:
                self.future_events += 1
            elif self.watermark is None or event.time > self.watermark:
                self.watermark = event.time
            for detector in self._by_kind.get(getattr(event, "kind", ""), ()):
                signals.extend(self._call(detector, detector.observe, event))
        watermark = self.watermark
        if now is not None:
            watermark = now if watermark is None else max(watermark, now)
        if watermark is not None and len(messages) < max_records:  # caught up: see module docstring
            for detector in self.detectors:
                signals.extend(self._call(detector, detector.advance, watermark))
        for signal in signals:
            self._publisher.publish(self.signal_topic, signal.source_id, signal.to_wire())
        if signals:
            self._publisher.flush()
            self.signals_published += len(signals)
        if messages:
            self._subscription.commit()
        return len(messages)

    def _call(
        self,
        detector: Detector,
        method: Callable[[Any], list[AlertSignal]],
        arg: Event | datetime,
    ) -> list[AlertSignal]:
        """One detector step; a detector's bug is logged and counted, never a stuck partition."""
        try:
            return method(arg)
        except Exception:
            self.detector_errors += 1
            what = arg.isoformat() if isinstance(arg, datetime) else f"{arg.source_id}@{arg.time.isoformat()}"
            log.exception("detector %s failed on %s", detector.name, what)
            return []

    def run(self, stop: threading.Event) -> None:
        """Handle batches until ``stop`` is set, then commit and close."""
        try:
            while not stop.is_set():
                self.run_once()
        except BaseException:
            self.close(commit=False)  # the failed batch was not handled: let it be redelivered
            raise
        self.close()

    def close(self, commit: bool = True) -> None:
        """Commit what was handled (unless told not to) and leave the group."""
        if self._closed:
            return
        self._closed = True
        try:
            if commit:
                self._subscription.commit()
            self._publisher.close()
        finally:
            self._subscription.close()
