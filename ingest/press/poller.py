"""Polling one outlet's feed: conditional GET, per-feed interval and exponential backoff, bounded
reads, redirects limited, the article page fetched when the feed carries only a summary.

:class:`FeedPoller.poll` does one round and returns the new articles and the dead letters
(reason, payload); the worker publishes them. Time is passed in (``now``), so tests drive it.
A poll never raises: an exception no check foresaw fails that outlet's poll (a dead letter with its
reason, the backoff, one log line), and the worker goes on to the next outlet; one on an article
refuses that article only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin

import requests
import trafilatura

from ingest.press.entities import Method, entities
from ingest.press.feeds import Entry, FeedRefused, Seen, content_hash, plain, read_feed
from ingest.press.text import Matcher, understand
from ioc.feeds.press.records import PressArticle

log = logging.getLogger(__name__)
MAX_REDIRECTS = 5


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
    fetch_pages: bool = True
    simulated: bool = False
    entities: Method = "rules"
    timeout_s: float = 10.0
    etag: str | None = None
    modified: str | None = None
    failures: int = 0
    next_poll: datetime | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.max_redirects = MAX_REDIRECTS

    def due(self, now: datetime) -> bool:
        return self.next_poll is None or now >= self.next_poll

    def _schedule(self, now: datetime, failed: bool) -> None:
        self.failures = self.failures + 1 if failed else 0
        delay = min(self.max_backoff_s, self.interval_s * (2 ** self.failures)) if failed else self.interval_s
        self.next_poll = now + timedelta(seconds=delay)

    def _get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET with a bounded body: more than ``max_bytes`` is refused, never read whole."""
        response = self.session.get(url, headers=headers or {}, timeout=self.timeout_s, stream=True)
        chunks, size = [], 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise FeedRefused(f"body larger than {self.max_bytes} bytes at {url}")
            chunks.append(chunk)
        response._content = b"".join(chunks)
        return response

    def poll(self, now: datetime) -> tuple[list[PressArticle], list[tuple[str, bytes]]]:
        """One round: (new articles, dead letters as (reason, payload)); never raises."""
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
        except requests.TooManyRedirects:
            self._schedule(now, failed=True)
            return [], [(f"redirect loop (more than {MAX_REDIRECTS} redirects) at {self.url}", b"")]
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
            feed = read_feed(response.content, response.headers.get("Content-Type", ""), self.max_bytes, base)
        except FeedRefused as exc:
            self._schedule(now, failed=True)
            return [], [(str(exc), response.content)]
        self.etag = response.headers.get("ETag") or self.etag
        self.modified = response.headers.get("Last-Modified") or self.modified
        self._schedule(now, failed=False)
        articles: list[PressArticle] = []
        dead = [(u.reason, u.payload.encode()) for u in feed.unusable  # once, as entries are
                if self.seen.first({f"{self.url} {u.key}"})]  # ids such as "1" are this feed's own
        for entry in feed.entries:
            if not self.seen.first_time(entry):
                continue
            try:
                articles.append(self.article(entry, now))
            except (ValueError, requests.RequestException, FeedRefused) as exc:
                dead.append((f"article refused: {exc}", entry.url.encode()))
            except Exception as exc:  # a bug on one article: the feed's other articles still come
                log.exception("%s: article %s failed", self.outlet, entry.url)
                dead.append((f"article refused: {type(exc).__name__}: {exc}", entry.url.encode()))
        return articles, dead

    def _base(self, response: requests.Response) -> str:
        """The URL relative links of the feed are resolved against: where it was fetched from (after
        redirects), or the Content-Location it names."""
        base = response.url or self.url
        try:
            return urljoin(base, response.headers.get("Content-Location", "").strip())
        except ValueError:  # a malformed Content-Location: the fetched URL
            return base

    def page_text(self, url: str, title: str = "") -> str:
        """Main text of an article page by trafilatura (boilerplate, menus and scripts left out, and
        the headline when it repeats ``title``: it would run into the first sentence); where it finds
        none, the page's <article> (or whole page) with every tag stripped."""
        response = self._get(url)
        if response.status_code != 200:
            raise FeedRefused(f"HTTP {response.status_code} for article page {url}")
        page = response.content.decode(response.encoding or "utf-8", errors="replace")
        extracted = trafilatura.extract(page, include_comments=False, include_tables=False,
                                        favor_precision=True)
        if extracted:
            lines = [plain(line) for line in extracted.splitlines()]
            return " ".join(line for line in lines if line and line.casefold() != title.casefold())
        start = page.lower().find("<article")
        body = page[start:page.lower().find("</article>", start)] if start >= 0 else page
        return plain(body)

    def article(self, entry: Entry, now: datetime) -> PressArticle:
        text = entry.text
        if not text and self.fetch_pages:
            text = self.page_text(entry.url, entry.title)
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
