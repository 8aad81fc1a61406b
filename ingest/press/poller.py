"""Polling one outlet's feed: conditional GET, per-feed interval and exponential backoff, bounded
reads, redirects followed only to the hosts the outlet's pages come from, the article page fetched
when the feed carries only a summary (from the feed's own host or the outlet's ``article_hosts``
only: :mod:`ingest.press.pages`; a link elsewhere is kept, and the entry read from the feed's
summary).

:class:`FeedPoller.poll` does one round and returns the new articles and the dead letters
(reason, payload); the worker publishes them. Time is passed in (``now``), so tests drive it.
A poll never raises: an exception no check foresaw fails that outlet's poll (a dead letter with its
reason, the backoff, one log line), and the worker goes on to the next outlet.

An entry is refused for good (a dead letter, never fetched again) only for what it is: a
``ValueError`` (its content, an article page that answers an error or is too large). A failure
of ours or of the network on one article (a bug, a model that did not load, a page that did not
answer) leaves the entry unseen and the feed's validators (ETag, Last-Modified) as they were, so
the next poll gets the whole feed again instead of ``304 Not Modified`` and tries the entry again;
after ``max_attempts`` polls it is a dead letter. Such failures of the last poll are in
``last_errors``, pages not fetched in ``last_unfetched``; the worker counts both in its health.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import requests

from ingest.press.entities import Method, entities
from ingest.press.feeds import Entry, FeedRefused, Seen, content_hash, read_feed
from ingest.press.pages import ArticleHosts, PageNotFetched, fetch_page, main_text, page_text
from ingest.press.text import Matcher, understand
from ioc.feeds.press.records import PressArticle

log = logging.getLogger(__name__)


@dataclass
class FeedPoller:
    """One outlet's feed and its polling state."""

    outlet: str
    url: str
    matcher: Matcher
    seen: Seen
    interval_s: float = 300.0
    max_backoff_s: float = 3600.0
    max_bytes: int = 5_000_000
    max_page_bytes: int = 3_000_000
    fetch_pages: bool = True
    article_hosts: tuple[str, ...] = ()  # hosts besides the feed's own that article pages come from
    max_attempts: int = 3  # polls an entry failing for no fault of its own is tried before a dead letter
    simulated: bool = False
    timezone: str = "Asia/Ho_Chi_Minh"  # the outlet's, for dates that name no zone
    entities: Method = "rules"
    timeout_s: float = 10.0
    etag: str | None = None
    modified: str | None = None
    failures: int = 0
    next_poll: datetime | None = None
    session: requests.Session = field(default_factory=requests.Session)
    attempts: dict[str, int] = field(default_factory=dict)  # entry -> failed attempts, while retried
    last_errors: list[str] = field(default_factory=list)  # the last poll's failures of ours, retried
    last_unfetched: list[tuple[str, str]] = field(default_factory=list)  # its pages not fetched: (kind, why)

    def __post_init__(self) -> None:
        self.hosts = ArticleHosts.of(self.url, self.article_hosts)

    def due(self, now: datetime) -> bool:
        return self.next_poll is None or now >= self.next_poll

    def _schedule(self, now: datetime, failed: bool) -> None:
        self.failures = self.failures + 1 if failed else 0
        delay = min(self.max_backoff_s, self.interval_s * (2 ** self.failures)) if failed else self.interval_s
        self.next_poll = now + timedelta(seconds=delay)

    def _get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """The feed's GET: a bounded body (more than ``max_bytes`` is refused, never read whole) and
        redirects followed only to the hosts its article pages may come from."""
        return fetch_page(self.session, url, self.hosts, max_bytes=self.max_bytes, timeout=self.timeout_s,
                          headers=headers, what="feed")

    def poll(self, now: datetime) -> tuple[list[PressArticle], list[tuple[str, bytes]]]:
        """One round: (new articles, dead letters as (reason, payload)); never raises."""
        self.last_errors, self.last_unfetched = [], []
        try:
            return self._poll(now)
        except Exception as exc:  # a bug, or an input no check foresaw: this outlet fails, not the round
            self._schedule(now, failed=True)
            reason = f"poll failed: {type(exc).__name__}: {exc}"
            if self.failures == 1:  # the traceback once, not at every retry
                log.exception("%s: %s", self.outlet, reason)
            else:
                log.warning("%s: %s (%d polls in a row)", self.outlet, reason, self.failures)
            return [], [(reason, b"")]

    def _poll(self, now: datetime) -> tuple[list[PressArticle], list[tuple[str, bytes]]]:
        headers = {k: v for k, v in (("If-None-Match", self.etag), ("If-Modified-Since", self.modified)) if v}
        try:
            response = self._get(self.url, headers)
        except PageNotFetched as exc:  # redirected to another host: never asked
            self._schedule(now, failed=True)
            return [], [(str(exc), b"")]
        except (requests.RequestException, FeedRefused) as exc:
            self._schedule(now, failed=True)
            return [], [(f"fetch failed: {exc}", b"")]
        if response.status_code == 304:
            self._schedule(now, failed=False)
            return [], []
        if response.status_code != 200:
            self._schedule(now, failed=True)
            return [], [(f"HTTP {response.status_code} from {self.url}", response.content[:4096])]
        base = self._base(response)
        try:
            feed = read_feed(response.content, response.headers.get("Content-Type", ""), self.max_bytes, base,
                             ZoneInfo(self.timezone))
        except FeedRefused as exc:
            self._schedule(now, failed=True)
            return [], [(str(exc), response.content)]
        self._schedule(now, failed=False)
        articles: list[PressArticle] = []
        dead = [(u.reason, u.payload.encode()) for u in feed.unusable  # once, as entries are
                if self.seen.first({f"{self.url} {u.key}"})]  # ids such as "1" are this feed's own
        retried: set[str] = set()
        for entry in feed.entries:
            keys = {entry.url, entry.guid}
            if self.seen.known(keys):
                continue
            try:
                articles.append(self.article(entry, now))
            except ValueError as exc:  # the entry itself (FeedRefused too): refused for good
                dead.append((f"article refused: {exc}", entry.url.encode()))
            except Exception as exc:  # ours or the network's: the feed's other articles still come
                given_up = self._failed(entry, exc)
                if given_up is None:
                    retried.add(entry.guid)
                    continue  # not seen: tried again at the next poll
                dead.append((given_up, entry.url.encode()))
            self.seen.remember(keys)
            self.attempts.pop(entry.guid, None)
        # an entry gone from the feed cannot be tried again
        self.attempts = {k: n for k, n in self.attempts.items() if k in retried}
        if not retried:  # every entry published or refused for good: the next poll may get 304
            self.etag = response.headers.get("ETag") or self.etag
            self.modified = response.headers.get("Last-Modified") or self.modified
        return articles, dead

    def _failed(self, entry: Entry, exc: Exception) -> str | None:
        """Count a failure of ours on ``entry``: ``None`` while it is to be tried again, else the
        dead-letter reason once ``max_attempts`` polls have failed on it."""
        attempt = self.attempts.get(entry.guid, 0) + 1
        self.attempts[entry.guid] = attempt
        reason = f"{type(exc).__name__}: {exc}"
        if attempt == 1:  # the traceback once, not at every retry
            log.exception("%s: article %s failed (tried again at the next poll)", self.outlet, entry.url)
        else:
            log.warning("%s: article %s failed again (%d of %d): %s", self.outlet, entry.url, attempt,
                        self.max_attempts, reason)
        if attempt < self.max_attempts:
            self.last_errors.append(f"article failed, tried again at the next poll: {reason}")
            return None
        return f"article refused after {attempt} attempts: {reason}"

    def _base(self, response: requests.Response) -> str:
        """The URL relative links of the feed are resolved against: where it was fetched from (after
        redirects), or the Content-Location it names."""
        base = response.url or self.url
        try:
            return urljoin(base, response.headers.get("Content-Location", "").strip())
        except ValueError:  # a malformed Content-Location: the fetched URL
            return base

    def page_text(self, url: str, title: str = "") -> str:
        """Main text of the article page at ``url`` (see :func:`ingest.press.pages.main_text`), fetched
        from an allowed host only (:class:`PageNotFetched` otherwise)."""
        response = fetch_page(self.session, url, self.hosts, max_bytes=self.max_page_bytes,
                              timeout=self.timeout_s)
        if response.status_code != 200:
            raise FeedRefused(f"HTTP {response.status_code} for article page {url}")
        return main_text(page_text(response), title)

    def article(self, entry: Entry, now: datetime) -> PressArticle:
        text = entry.text
        if not text and self.fetch_pages:
            try:
                text = self.page_text(entry.url, entry.title)
            except PageNotFetched as exc:  # the link stays the article's; its text is the summary
                log.warning("%s: %s", self.outlet, exc)
                self.last_unfetched.append((exc.kind, str(exc)))
        text = text or entry.summary
        seen = understand(entry.title, text, self.matcher)
        terms = [f"{g}:{n}" for g, names in seen.matches.items() for n in names]
        return PressArticle(
            time=entry.published or now, source_id=self.outlet[:128],
            outlet=self.outlet, url=entry.url, guid=entry.guid, title=entry.title, summary=entry.summary,
            text=text[:200_000], author=entry.author, published=entry.published,
            hash=content_hash(entry.title, text), places=seen.matches["places"],
            agencies=seen.matches["agencies"] + seen.matches["titles"], topics=seen.matches["topics"],
            terms=terms[:256], tone=seen.tone, tone_score=seen.tone_score, simulated=self.simulated,
            entities=[e[:128] for e in entities(seen.words, f"{entry.title}. {text}", self.matcher,
                                                self.entities)])
