"""One poll of one RSS 2.0 / Atom / RDF document: checked, parsed, cleaned, or refused with a reason.

Before feedparser sees the bytes, :func:`check_document` refuses what must never be parsed: a
document over the size limit, an HTML page served in place of a feed, XML that defusedxml finds
to declare entities (billion laughs, external entities) or that is not well-formed. Every refusal
is a :class:`FeedRefused` whose ``reason`` goes into a dead-letter row. Titles, summaries and
authors leave here as plain text: nh3 strips every tag (scripts, iframes, event handlers).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
import feedparser
import nh3
from defusedxml import DefusedXmlException

from ingest.press.text import normalise


class FeedRefused(ValueError):
    """A document that is not a feed we will read; ``str()`` is the dead-letter reason."""


@dataclass(frozen=True)
class Entry:
    """One feed entry, plain text only."""

    url: str
    guid: str
    title: str
    summary: str
    text: str  # the full text when the feed carries it (content:encoded, atom content)
    author: str
    published: datetime | None


def plain(markup: str) -> str:
    """Text of an HTML fragment: every tag removed (with the content of script/style), entities
    decoded, NFC, whitespace collapsed."""
    cleaned = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "iframe", "object"})
    return normalise(html.unescape(cleaned))


def check_document(body: bytes, content_type: str = "", max_bytes: int = 5_000_000) -> None:
    """Raise :class:`FeedRefused` unless ``body`` may be parsed as a feed."""
    if len(body) > max_bytes:
        raise FeedRefused(f"feed larger than {max_bytes} bytes ({len(body)})")
    head = body[:2048].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        raise FeedRefused(f"an HTML page, not a feed (content-type {content_type or 'none'!r})")
    if not body.strip():
        raise FeedRefused("empty document")
    try:
        SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedRefused(f"refused XML: {type(exc).__name__} ({exc})") from exc
    except SafeET.ParseError as exc:
        raise FeedRefused(f"not well-formed XML: {exc}") from exc


def _when(entry: dict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            return datetime(*parsed[:6], tzinfo=UTC)
    return None


def parse_feed(body: bytes, content_type: str = "", max_bytes: int = 5_000_000) -> list[Entry]:
    """The entries of a feed document, or :class:`FeedRefused` with the reason."""
    check_document(body, content_type, max_bytes)
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    if parsed.bozo and not parsed.entries:
        raise FeedRefused(f"unreadable feed: {parsed.get('bozo_exception')}")
    if parsed.version == "" and not parsed.entries:
        raise FeedRefused("not an RSS, Atom or RDF feed")
    entries = []
    for raw in parsed.entries:
        url = (raw.get("link") or "").strip()
        if not url.startswith(("http://", "https://")):
            continue  # no link we could open: nothing to show (counted by the worker)
        content = " ".join(c.get("value", "") for c in raw.get("content", []) or [])
        entries.append(Entry(
            url=url[:2048], guid=(raw.get("id") or url)[:2048], title=plain(raw.get("title", ""))[:1024],
            summary=plain(raw.get("summary", ""))[:16384], text=plain(content)[:200_000],
            author=plain(raw.get("author", ""))[:256], published=_when(raw)))
    return entries


def content_hash(title: str, text: str) -> str:
    """Digest of an article's normalised title and text: copies of one article share it."""
    return hashlib.blake2b(normalise(f"{title}\n{text}").lower().encode(), digest_size=16).hexdigest()


class Seen:
    """Dedup across feeds: an entry whose link or GUID was seen before (in any feed) is dropped."""

    def __init__(self, limit: int = 100_000) -> None:
        self.keys: dict[str, None] = {}
        self.limit = limit

    def first_time(self, entry: Entry) -> bool:
        keys = {entry.url, entry.guid}
        if any(k in self.keys for k in keys):
            return False
        for k in keys:
            self.keys[k] = None
        while len(self.keys) > self.limit:  # oldest first
            del self.keys[next(iter(self.keys))]
        return True
