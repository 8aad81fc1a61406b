"""Drive one AIS source: decode its lines, publish vessel records and dead letters on the bus.

:class:`VesselWorker` reads :data:`~ingest.vessels.sources.Batch` es from a
:class:`~ingest.vessels.sources.LineSource`, decodes them with an
:class:`~ingest.vessels.nmea.AisDecoder`, and publishes each
:class:`VesselPosition` / :class:`VesselStatic` to ``topic_for(record)``
keyed by the MMSI, each position also to ``ioc.vessels.cells`` keyed by map cell (one copy per
cell a :class:`~ioc.cells.CellRouter` names: the topic of rules about pairs of vessels), and
each rejected line to ``ioc.topics.DEAD_LETTERS`` keyed by the feed name
(value: :func:`ingest.environment.worker.dead_letter_record`). Records are flushed every
``flush_records`` records and at least every ``flush_seconds`` (on idle ticks too).

Nothing stops the worker: a failed publish keeps the records (up to ``max_pending``, the
oldest dropped beyond and counted) and is retried after an exponential backoff; the
source's own trouble (refused connection...) is counted in :attr:`VesselWorker.health`.
For the fleet simulator's source the decoder marks every record ``simulated=True``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ingest.publishing import PendingPublisher
from ingest.vessels.nmea import AisDecoder, DeadLetter
from ingest.vessels.sources import Clock, Line, LineSource, utc_now
from ioc.bus.base import Publisher
from ioc.cells import CellRouter
from ioc.deadletters import dead_letter_record
from ioc.events import Event
from ioc.feeds.vessels import CELL_POSITIONS
from ioc.feeds.vessels.records import VesselPosition
from ioc.health import FeedHealth, feed_state
from ioc.topics import DEAD_LETTERS, topic_for

log = logging.getLogger(__name__)

DeadLetterFactory = Callable[[str, str, str, str | bytes, datetime], bytes]


class VesselWorker:
    """Decodes one AIS source and publishes what it yields; keeps a health record; never raises."""

    def __init__(
        self,
        source: LineSource,
        publisher: Publisher,
        *,
        feed: str | None = None,
        decoder: AisDecoder | None = None,
        simulated: bool = False,
        dead_letter: DeadLetterFactory = dead_letter_record,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        flush_records: int = 500,
        flush_seconds: float = 1.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        max_pending: int = 100_000,
        cells: CellRouter | None = None,
    ) -> None:
        self.source = source
        self.publisher = publisher
        self.feed = feed or source.name
        self.decoder = decoder or AisDecoder(simulated=simulated)
        if simulated:
            self.decoder.simulated = True
        self.dead_letter = dead_letter
        self.clock = clock
        self.monotonic = monotonic
        self.cells = cells or CellRouter()
        self.out = PendingPublisher(publisher, self.feed, monotonic=monotonic, flush_records=flush_records,
                                    flush_seconds=flush_seconds, backoff_initial=backoff_initial,
                                    backoff_max=backoff_max, max_pending=max_pending)
        self._last_time: datetime | None = None
        self._source_errors = 0
        self._source_error: str | None = None

    # -- health ---------------------------------------------------------------------------
    @property
    def health(self) -> dict[str, Any]:
        """Counters: connected, sentences, positions, statics, ignored_by_type, dead_letters..."""
        stats = self.decoder.stats
        return {
            "feed": self.feed,
            "connected": bool(getattr(self.source, "connected", False)),
            "lines": stats.lines,
            "sentences": stats.sentences,
            "positions": stats.positions,
            "statics": stats.statics,
            "ignored_by_type": {str(k): v for k, v in sorted(stats.ignored_by_type.items())},
            "ignored_other": dict(sorted(stats.ignored_other.items())),
            "dead_letters": stats.dead_letters,
            "dead_letter_reasons": dict(sorted(stats.dead_letter_reasons.items())),
            "pending_fragments": stats.pending_lines,
            "last_time": self._last_time,
            "published": dict(sorted(self.out.published.items())),
            "unpublished": len(self.out.pending),
            "live": bool(getattr(self.source, "live", True)) and not self.out.pending,
            "dropped": self.out.dropped,
            "source_errors": self._source_errors,
            "publish_errors": self.out.publish_errors,
            "last_error": self.out.last_error or self._source_error,
        }

    def feed_health(self) -> FeedHealth:
        """The typed health record of this feed (see :mod:`ioc.health`)."""
        h = self.health
        typed = {"feed", "lines", "dead_letters", "last_time", "published", "unpublished", "live", "dropped",
                 "last_error"}
        return FeedHealth(
            feed=self.feed, worker="vessels",
            state=feed_state(live=h["live"], connected=h["connected"] if hasattr(self.source, "connected")
                             else None, failing=self.out.failing),
            live=h["live"], last_data_time=self._last_time, received=h["lines"],
            published=self.out.count(), dead_lettered=h["dead_letters"], pending=h["unpublished"],
            dropped=self.out.dropped, errors=self._source_errors + self.out.publish_errors,
            last_error=h["last_error"], details={k: v for k, v in h.items() if k not in typed},
        )

    # -- work -----------------------------------------------------------------------------
    def handle(self, lines: list[Line], received: datetime) -> int:
        """Decode one batch of lines received at ``received`` and queue what it yields; records."""
        decoder = self.decoder
        out = self.out.pending
        records = 0
        if lines:
            for line in lines:
                for record in decoder.feed(line, received):
                    out.append((topic_for(record), record.source_id, record.to_wire()))
                    if isinstance(record, VesselPosition):
                        out.extend((CELL_POSITIONS, c.cell, c.to_wire()) for c in self.cells.records(record))
                    if self._last_time is None or record.time > self._last_time:
                        self._last_time = record.time
                    records += 1
        elif decoder.pending_groups:
            decoder.expire(received)
        self._queue_dead_letters(decoder.take_dead_letters())
        for message in self.source.take_errors():
            self._source_errors += 1
            self._source_error = message
            log.warning("%s: %s", self.feed, message)
        return records

    def finish(self, now: datetime | None = None) -> None:
        """End of input: incomplete multi-part messages become dead letters; flush."""
        self.decoder.flush(now or self.clock())
        self._queue_dead_letters(self.decoder.take_dead_letters())
        self.flush(force=True)

    def _queue_dead_letters(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            value = self.dead_letter("ingest", self.feed, letter.reason, letter.payload, letter.received)
            self.out.add(DEAD_LETTERS, self.feed, value)

    def maybe_flush(self) -> bool:
        """Flush when enough records wait or ``flush_seconds`` have passed; whether it flushed."""
        return self.out.maybe_flush()

    def announce(self, records: list[Event]) -> None:
        """Queue records that come with the source rather than from its lines (e.g. storm warnings)."""
        self.out.pending.extend((topic_for(r), r.key, r.to_wire()) for r in records)

    def flush(self, force: bool = False) -> bool:
        """Publish and flush everything queued; False if the bus failed (kept for a retry)."""
        return self.out.flush(force)

    def run(self, stop: threading.Event) -> None:
        """Read, decode and publish until ``stop`` is set or the source ends."""
        log.info("%s: vessel worker started", self.feed)
        try:
            for lines, received in self.source.read(stop):
                try:
                    self.handle(lines, received)
                    self.maybe_flush()
                except Exception:  # pragma: no cover - handle() does not raise; belt and braces
                    log.exception("%s: batch failed", self.feed)
                if stop.is_set():
                    break
        except Exception as exc:  # a source bug must not kill the thread silently
            self._source_errors += 1
            self._source_error = f"source failed: {type(exc).__name__}: {exc}"
            log.exception("%s: source failed", self.feed)
        self.finish()
        log.info("%s: vessel worker stopped", self.feed)
