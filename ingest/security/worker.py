"""Drive one security source: parse each line with its log's parser, publish events or dead letters."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime, tzinfo
from typing import Any

from ingest.publishing import PendingPublisher
from ingest.security.parsers import PARSERS, LineContext, NotAnEvent, ParseError
from ioc.bus.base import Publisher
from ioc.deadletters import dead_letter_record
from ioc.health import FeedHealth, feed_state
from ioc.topics import DEAD_LETTERS, topic_for

log = logging.getLogger(__name__)


class SecurityWorker:
    """Reads one source of one log kind; never raises; a health record of what it did."""

    def __init__(self, source: Any, publisher: Publisher, *, log_kind: str, host: str, tz: tzinfo,
                 simulated: bool = False, **publishing: Any) -> None:
        if log_kind not in PARSERS:
            raise ValueError(f"unknown security log {log_kind!r} (known: {sorted(PARSERS)})")
        self.source, self.log_kind, self.host, self.tz, self.simulated = source, log_kind, host, tz, simulated
        self.parse = PARSERS[log_kind]
        self.feed = source.name
        self.out = PendingPublisher(publisher, self.feed, **publishing)
        self.lines = 0
        self.events = 0
        self.rejected = Counter[str]()
        self.ignored = Counter[str]()  # well-formed lines that tell of no event, by kind
        self.last_time: datetime | None = None
        self.source_error: str | None = None
        self.source_errors = 0

    @property
    def health(self) -> dict[str, Any]:
        return {
            "feed": self.feed, "log": self.log_kind,
            "connected": bool(getattr(self.source, "connected", False)),
            "lines": self.lines, "events": self.events, "dead_letters": sum(self.rejected.values()),
            "ignored": sum(self.ignored.values()), "ignored_kinds": dict(self.ignored.most_common(10)),
            "dead_letter_reasons": dict(self.rejected.most_common(10)), "last_time": self.last_time,
            "published": dict(sorted(self.out.published.items())), "unpublished": len(self.out.pending),
            "live": bool(getattr(self.source, "live", True)) and not self.out.pending,
            "publish_errors": self.out.publish_errors, "dropped": self.out.dropped,
            "last_error": self.out.last_error or self.source_error,
            "kernel_drops": getattr(self.source, "kernel_drops", None),  # UDP: SO_RXQ_OVFL's count
            "receive_buffer": getattr(self.source, "receive_buffer", None),  # datagrams: bytes granted
        }

    def feed_health(self) -> FeedHealth:
        """The typed health record of this feed (see :mod:`ioc.health`)."""
        live = bool(getattr(self.source, "live", True)) and not self.out.pending
        connected = bool(self.source.connected) if hasattr(self.source, "connected") else None
        return FeedHealth(
            feed=self.feed, worker="security", state=feed_state(live=live, connected=connected,
                                                                failing=self.out.failing),
            live=live, last_data_time=self.last_time, received=self.lines, published=self.out.count(),
            dead_lettered=sum(self.rejected.values()), pending=len(self.out.pending),
            dropped=self.out.dropped,
            errors=self.source_errors + self.out.publish_errors,
            last_error=self.out.last_error or self.source_error,
            details={"log": self.log_kind, "events": self.events, "connected": connected,
                     "ignored": sum(self.ignored.values()),
                     "dead_letter_reasons": dict(self.rejected.most_common(10))},
        )

    def handle(self, lines: list[bytes], received: datetime) -> None:
        ctx = LineContext(received=received, host=self.host, tz=self.tz, simulated=self.simulated)
        for line in lines:
            self.lines += 1
            try:
                event = self.parse(line, ctx)
            except NotAnEvent as why:
                self.ignored[str(why)[:80]] += 1
                continue
            except Exception as exc:  # a parser's bug costs one line (a dead letter), never the feed
                reason = str(exc) if isinstance(exc, ParseError) else f"parser failed: {type(exc).__name__}"
                if not isinstance(exc, ParseError):
                    log.exception("%s: the %s parser failed on a line", self.feed, self.log_kind)
                self.rejected[reason.split(":")[0][:80]] += 1
                self.out.add(DEAD_LETTERS, self.feed,
                             dead_letter_record("ingest", self.feed, reason, line, received))
                continue
            self.events += 1
            if self.last_time is None or event.time > self.last_time:
                self.last_time = event.time
            self.out.add(topic_for(event), event.key, event.to_wire())
        for message in self.source.take_errors():
            self.source_errors += 1
            self.source_error = message
            log.warning("%s: %s", self.feed, message)

    def run(self, stop: threading.Event) -> None:
        """Read, parse and publish until ``stop`` is set."""
        try:
            for lines, received in self.source.read(stop):
                self.handle(lines, received)
                self.out.maybe_flush()
        except Exception as exc:  # a source bug must not kill the thread silently
            self.source_errors += 1
            self.source_error = f"source failed: {type(exc).__name__}: {exc}"
            log.exception("%s: source failed", self.feed)
        finally:
            self.out.flush(force=True)
