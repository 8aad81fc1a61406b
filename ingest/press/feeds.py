"""One poll of one RSS 2.0 / Atom / RDF document: checked, parsed, cleaned, or refused with a reason.

Before feedparser sees the bytes, :func:`check_document` refuses what must never be parsed: a
document over the size limit, an HTML page served in place of a feed, XML that defusedxml finds
to declare entities (billion laughs, external entities) or that is not well-formed. A document in
another encoding than UTF-8 (its byte order mark, else its XML declaration, says which: Big5,
EUC-KR, GB2312, UTF-16...) is first rewritten as UTF-8, so expat (which reads no multi-byte
encoding but UTF-8 and UTF-16) and feedparser read the same text; an encoding no codec knows is
refused. Every refusal is a :class:`FeedRefused` whose ``reason`` goes into a dead-letter row.

An entry's link is resolved against the feed's own URL; an entry left with no http(s) link is not
an article but an :class:`Unusable` entry, which the poller turns into a dead letter. Titles,
summaries and authors leave here as plain text: nh3 strips every tag (scripts, iframes, event
handlers).
"""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from urllib.parse import urljoin, urlsplit

import defusedxml.ElementTree as SafeET
import feedparser
import nh3
from defusedxml import DefusedXmlException

from ingest.press.dates import published_at
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


@dataclass(frozen=True)
class Unusable:
    """A feed entry that is no article: why (a dead-letter reason), what it says (the payload) and
    the key under which :class:`Seen` reports it only once."""

    reason: str
    payload: str
    key: str


@dataclass(frozen=True)
class Feed:
    """What one feed document holds: its articles' entries and the entries left out."""

    entries: list[Entry]
    unusable: list[Unusable] = field(default_factory=list)


def plain(markup: str) -> str:
    """Text of an HTML fragment: every tag removed (with the content of script/style), entities
    decoded, NFC, whitespace collapsed."""
    cleaned = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "iframe", "object"})
    return normalise(html.unescape(cleaned))


#: byte order marks, the longest first (UTF-32 LE begins like UTF-16 LE)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
#: the XML declaration's encoding (``<?xml version="1.0" encoding="big5"?>``)
_DECLARED = re.compile(r"""\A\s*<\?xml\s[^>]*?\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._:-]*)\1""")
#: encodings expat reads by itself (any other it asks Python for, which fails for multi-byte ones)
_EXPAT_NATIVE = frozenset({"utf-8", "us-ascii", "iso-8859-1"})
#: labels read by their superset, as browsers and feedparser do (GBK text is often labelled GB2312)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-kr": "cp949"}


def _unmarked_encoding(body: bytes) -> str | None:
    """UTF-16/32 without a byte order mark, told by the zero bytes around the first character
    (XML 1.0 appendix F: no ASCII-compatible document begins with a NUL)."""
    head = body[:4]
    if len(head) < 4:
        return None
    if head[:3] == b"\0\0\0":
        return "utf-32-be"
    if head[1:] == b"\0\0\0":
        return "utf-32-le"
    if head[0] == 0 and head[2] == 0 and head[1] and head[3]:
        return "utf-16-be"
    if head[1] == 0 and head[3] == 0 and head[0] and head[2]:
        return "utf-16-le"
    return None


def as_utf8(body: bytes) -> bytes:
    """``body`` as UTF-8 with its XML declaration saying so; as it is where expat reads it already
    (UTF-8, ASCII, Latin-1, or no declaration and no byte order mark). :class:`FeedRefused` for an
    encoding no codec knows, or bytes that are not text in the encoding named."""
    marked = next(((name, len(bom)) for bom, name in _BOMS if body.startswith(bom)), None)
    found = marked[0] if marked else _unmarked_encoding(body)
    skip = marked[1] if marked else 0
    head = body[skip:skip + 1024].decode(found or "latin-1", errors="replace")
    declaration = _DECLARED.match(head)
    declared = declaration.group(2) if declaration else None
    label = found or declared
    if found is None:
        if declared is None or declared.lower() in _EXPAT_NATIVE:
            return body
        try:
            found = codecs.lookup(_SUPERSETS.get(declared.lower(), declared)).name
        except LookupError:
            raise FeedRefused(f"unknown character encoding: {declared}") from None
    elif found == "utf-8" and (declared is None or declared.lower() in ("utf-8", "utf8")):
        return body  # a UTF-8 byte order mark: expat reads it
    try:
        text = body[skip:].decode(found)
    except (UnicodeDecodeError, LookupError) as exc:  # LookupError: a codec that is no text encoding
        raise FeedRefused(f"not {label} text: {exc}") from None
    declaration = _DECLARED.match(text)
    if declaration:
        text = f"{text[:declaration.start(2)]}utf-8{text[declaration.end(2):]}"
    return text.encode("utf-8")


def check_document(body: bytes, content_type: str = "", max_bytes: int = 5_000_000) -> bytes:
    """The document to parse (as UTF-8, see :func:`as_utf8`), or :class:`FeedRefused` unless
    ``body`` may be parsed as a feed."""
    if len(body) > max_bytes:
        raise FeedRefused(f"feed larger than {max_bytes} bytes ({len(body)})")
    if "html" in content_type.lower():
        raise FeedRefused(f"an HTML page, not a feed (content-type {content_type or 'none'!r})")
    body = as_utf8(body)
    head = body[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise FeedRefused(f"an HTML page, not a feed (content-type {content_type or 'none'!r})")
    if not body.strip():
        raise FeedRefused("empty document")
    try:
        SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedRefused(f"refused XML: {type(exc).__name__} ({exc})") from exc
    except SafeET.ParseError as exc:
        raise FeedRefused(f"not well-formed XML: {exc}") from exc
    except (ValueError, LookupError) as exc:  # an encoding expat would not read, had as_utf8 missed it
        raise FeedRefused(f"unreadable XML: {exc}") from exc
    return body


def _when(entry: dict, local: tzinfo) -> datetime | None:
    """When the entry was published (else updated), :func:`ingest.press.dates.published_at`."""
    for key in ("published", "updated"):
        if dict.__contains__(entry, key):  # not feedparser's own mapping of one to the other, deprecated
            when = published_at(dict.get(entry, key), dict.get(entry, f"{key}_parsed"), local)
            if when is not None:
                return when
    return None


def article_link(link: str, base: str = "") -> str | None:
    """``link`` resolved against ``base`` (the feed's URL), its scheme in lower case; ``None`` unless
    that is an http(s) URL with a host (a relative link with no base, ``mailto:``, ``javascript:``)."""
    link = link.strip()
    if not link:  # not the feed's own URL
        return None
    try:
        url = urljoin(base, link) if base else link
        parts = urlsplit(url)
    except ValueError:  # a malformed host ("http://[x")
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.scheme + url[url.index(":"):]


def read_feed(body: bytes, content_type: str = "", max_bytes: int = 5_000_000, url: str = "",
              local: tzinfo = UTC) -> Feed:
    """The entries of a feed document fetched from ``url``, and those left out with why; or
    :class:`FeedRefused` with the reason (``local``: the outlet's zone, for dates that name none)."""
    body = check_document(body, content_type, max_bytes)
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    if parsed.bozo and not parsed.entries:
        raise FeedRefused(f"unreadable feed: {parsed.get('bozo_exception')}")
    if parsed.version == "" and not parsed.entries:
        raise FeedRefused("not an RSS, Atom or RDF feed")
    feed = Feed([])
    for raw in parsed.entries:
        given = str(raw.get("link") or "").strip()
        link = article_link(given, "" if raw.get("guidislink") else url)  # an id is no relative link
        if link is None:  # nothing we could open: a dead letter, once
            said = {"link": given[:2048], "id": str(raw.get("id") or "")[:2048],
                    "title": plain(raw.get("title", ""))[:1024]}
            key = said["id"] or content_hash(said["title"], plain(raw.get("summary", "")))
            reason = f"entry link not http(s): {given[:200]}" if given else "entry without a link"
            feed.unusable.append(Unusable(reason, json.dumps(said, ensure_ascii=False), f"no link:{key}"))
            continue
        content = " ".join(c.get("value", "") for c in raw.get("content", []) or [])
        feed.entries.append(Entry(
            url=link[:2048], guid=(raw.get("id") or link)[:2048], title=plain(raw.get("title", ""))[:1024],
            summary=plain(raw.get("summary", ""))[:16384], text=plain(content)[:200_000],
            author=plain(raw.get("author", ""))[:256], published=_when(raw, local)))
    return feed


def parse_feed(body: bytes, content_type: str = "", max_bytes: int = 5_000_000, url: str = "") -> list[Entry]:
    """The entries of a feed document (links resolved against ``url``), or :class:`FeedRefused` with
    the reason; the entries left out are :func:`read_feed`'s."""
    return read_feed(body, content_type, max_bytes, url).entries


def content_hash(title: str, text: str) -> str:
    """Digest of an article's normalised title and text: copies of one article share it."""
    return hashlib.blake2b(normalise(f"{title}\n{text}").lower().encode(), digest_size=16).hexdigest()


class Seen:
    """Dedup across feeds: an entry whose link or GUID was seen before (in any feed) is dropped."""

    def __init__(self, limit: int = 100_000) -> None:
        self.keys: dict[str, None] = {}
        self.limit = limit

    def first_time(self, entry: Entry) -> bool:
        return self.first({entry.url, entry.guid})

    def first(self, keys: set[str]) -> bool:
        """Whether none of ``keys`` was seen before; they are seen from now on."""
        if self.known(keys):
            return False
        self.remember(keys)
        return True

    def known(self, keys: set[str]) -> bool:
        """Whether any of ``keys`` was seen before (nothing is remembered)."""
        return any(k in self.keys for k in keys)

    def remember(self, keys: set[str]) -> None:
        """``keys`` are seen from now on (an entry once it is published or refused for good)."""
        for k in keys:
            self.keys[k] = None
        while len(self.keys) > self.limit:  # oldest first
            del self.keys[next(iter(self.keys))]
