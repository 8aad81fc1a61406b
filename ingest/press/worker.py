"""Drive the press feed: poll each outlet's feed when it is due, publish articles and dead letters.

A ``[[feeds]]`` entry of kind ``rss`` carries its outlets and the watch lists::

    [[feeds]]
    name = "press"
    kind = "rss"
    [feeds.options]
    outlets = [{ name = "SIM Tin Huế", url = "http://127.0.0.1:8766/sim-tin-hue.xml" }]
    places = [{ name = "Phú Hội", terms = ["phường Phú Hội"] }]

An outlet whose article pages live on another host than its feed names it:
``{ name = "…", url = "https://rss.example.vn/tin.rss", article_hosts = ["example.vn"] }``;
pages elsewhere are not fetched (:mod:`ingest.press.pages`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ingest.press.feeds import Seen
from ingest.press.pages import article_host
from ingest.press.poller import FeedPoller
from ingest.press.simulated import Newsroom, outlet_urls, serve
from ingest.press.text import Matcher, load_nlp
from ingest.publishing import PendingPublisher
from ioc.bus.base import Publisher
from ioc.deadletters import dead_letter_record
from ioc.feeds.press.settings import PressOptions
from ioc.health import FeedHealth, feed_state
from ioc.time_zones import TimeZoneName
from ioc.topics import DEAD_LETTERS, topic_for

log = logging.getLogger(__name__)
KINDS = frozenset({"rss", "press-simulator"})


class Outlet(BaseModel):
    """One outlet's feed."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128)]
    url: Annotated[str, Field(pattern=r"^https?://")]
    interval_s: Annotated[float, Field(ge=1)] = 300.0
    simulated: bool = False
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"  # its dates that name no zone ("2026-12-08 09:15") are here
    # hosts besides the feed's own whose article pages are fetched ("example.vn", "example.vn:8080")
    article_hosts: Annotated[list[Annotated[str, AfterValidator(article_host)]], Field(max_length=64)] = []


class PressFeedOptions(PressOptions):
    """``options`` of a ``rss`` feed: its outlets and the watch lists."""

    outlets: Annotated[list[Outlet], Field(min_length=1)]


class SimulatedPressOptions(PressOptions):
    """``options`` of a ``press-simulator`` feed: the SIMULATED outlets' pace and the watch lists."""

    every_s: Annotated[float, Field(gt=0)] = 180.0  # everyday news, one article every so often
    cycle_s: Annotated[float, Field(gt=0)] = 600.0  # a hazard story every so often
    backfill_hours: Annotated[float, Field(ge=0, le=47)] = 26.0  # history published at start
    interval_s: Annotated[float, Field(ge=1)] = 10.0  # how often each simulated outlet is polled
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: any free port on 127.0.0.1


def feed_options(feed: Any) -> PressFeedOptions | SimulatedPressOptions:
    """The validated options of one ``[[feeds]]`` entry (a clear error names the bad field)."""
    if feed.kind == "press-simulator":
        return SimulatedPressOptions.model_validate(feed.options)
    return PressFeedOptions.model_validate(feed.options)


class PressWorker:
    """Polls its outlets; never raises; a health record of what it did."""

    def __init__(self, name: str, options: PressFeedOptions, publisher: Publisher, **publishing: Any) -> None:
        self.feed = name
        matcher, seen = Matcher.build(options), Seen()
        self.pollers = [FeedPoller(o.name, o.url, matcher, seen, interval_s=o.interval_s,
                                   max_bytes=options.max_feed_bytes, max_page_bytes=options.max_page_bytes,
                                   fetch_pages=options.fetch_pages, article_hosts=tuple(o.article_hosts),
                                   simulated=o.simulated, timezone=o.timezone, entities=options.entities)
                        for o in options.outlets]
        self.out = PendingPublisher(publisher, name, **publishing)
        self.articles = 0
        self.rounds = 0
        self.rejected = Counter[str]()
        self.last_time: datetime | None = None
        self.fetch_errors = 0  # polls that failed (the outlet is then polled again with backoff)
        self.fetch_error: str | None = None
        self.article_errors = 0  # articles that failed for no fault of their own (tried again)
        self.unfetched = Counter[str]()  # article pages not fetched (another host), by kind
        self.last_unfetched: str | None = None

    @property
    def health(self) -> dict[str, Any]:
        return {"feed": self.feed, "outlets": len(self.pollers), "articles": self.articles,
                "dead_letters": sum(self.rejected.values()),
                "dead_letter_reasons": dict(self.rejected.most_common(10)), "last_time": self.last_time,
                "failing": [p.outlet for p in self.pollers if p.failures], "live": self.rounds > 0,
                "unpublished": len(self.out.pending), "last_error": self.out.last_error,
                "retrying": sum(len(p.attempts) for p in self.pollers),
                "pages_not_fetched": dict(self.unfetched)}

    def feed_health(self) -> FeedHealth:
        """The typed health record of this feed (see :mod:`ioc.health`)."""
        failing = [p.outlet for p in self.pollers if p.failures]
        dead = sum(self.rejected.values())
        return FeedHealth(
            feed=self.feed, worker="press",
            state=feed_state(live=True, failing=bool(failing) or self.out.failing
                             or any(p.attempts for p in self.pollers)),
            last_data_time=self.last_time, received=self.articles + dead, published=self.out.count(),
            dead_lettered=dead, pending=len(self.out.pending), dropped=self.out.dropped,
            errors=self.out.publish_errors + self.fetch_errors + self.article_errors,
            last_error=self.out.last_error or self.fetch_error,
            details={"outlets": len(self.pollers), "articles": self.articles, "failing": failing,
                     "dead_letter_reasons": dict(self.rejected.most_common(10)),
                     "retrying": sum(len(p.attempts) for p in self.pollers),
                     "pages_not_fetched": dict(self.unfetched), "last_page_not_fetched": self.last_unfetched},
        )

    def round(self, now: datetime) -> int:
        """Poll every due outlet once; the number of new articles."""
        new = 0
        for poller in self.pollers:
            if not poller.due(now):
                continue
            articles, dead = poller.poll(now)
            if poller.failures:  # this poll failed: its one dead letter says why
                self.fetch_errors += 1
                self.fetch_error = dead[0][0] if dead else None
            for error in poller.last_errors:  # articles tried again at the outlet's next poll
                self.article_errors += 1
                self.fetch_error = f"{poller.outlet}: {error}"
            for kind, why in poller.last_unfetched:
                self.unfetched[kind] += 1
                self.last_unfetched = f"{poller.outlet}: {why}"[:512]
            for reason, payload in dead:
                self.rejected[reason.split(":")[0][:80]] += 1
                self.out.add(DEAD_LETTERS, self.feed, dead_letter_record("ingest", self.feed, reason,
                                                                         payload or poller.url.encode(), now))
            for article in articles:
                self.out.add(topic_for(article), article.key, article.to_wire())
                self.last_time = article.time if self.last_time is None else max(self.last_time, article.time)
            new += len(articles)
        self.articles += new
        self.rounds += 1
        self.out.flush(force=True)
        return new

    def run(self, stop: threading.Event) -> None:
        """Load the language models, then poll until ``stop`` is set, waking every second to see which
        outlet is due."""
        try:  # at start, not under the first articles (safe either way: load_nlp takes a lock)
            load_nlp(ner=any(p.entities == "underthesea" for p in self.pollers))
        except Exception:  # a model that does not load: its articles fail, and are tried again
            log.exception("%s: loading underthesea's models failed", self.feed)
        while not stop.is_set():
            try:
                self.round(datetime.now(UTC))
            except Exception:  # a bug in one round must not kill the thread silently
                log.exception("%s: poll round failed", self.feed)
            stop.wait(1.0)


class SimulatedPressWorker(PressWorker):
    """The SIMULATED outlets served over HTTP on 127.0.0.1 by this worker, polled like real ones."""

    def __init__(self, name: str, options: SimulatedPressOptions, publisher: Publisher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        newsroom = Newsroom(start=clock(), clock=clock, backfill_hours=options.backfill_hours,
                            every_s=options.every_s, cycle_s=options.cycle_s)
        self.server = serve(options.port, newsroom)
        outlets = [Outlet(name=n, url=u, interval_s=options.interval_s, simulated=True)
                   for n, u in outlet_urls(self.server)]
        fields = options.model_dump(include=set(PressOptions.model_fields))  # the watch lists
        super().__init__(name, PressFeedOptions(**fields, outlets=outlets), publisher)

    def run(self, stop: threading.Event) -> None:
        thread = threading.Thread(target=self.server.serve_forever, name=f"{self.feed}-outlets", daemon=True)
        thread.start()
        try:
            super().run(stop)
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=10)


def build_worker(feed: Any, publisher: Publisher, samples_dir: Any = None) -> PressWorker:
    options = feed_options(feed)
    if isinstance(options, SimulatedPressOptions):
        return SimulatedPressWorker(feed.name, options, publisher)
    return PressWorker(feed.name, options, publisher)
