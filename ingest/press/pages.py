"""Article pages: fetched only from the hosts an outlet's articles live on, read by trafilatura.

A feed is a document written by someone else, and its entry links can name any host: a hostile
or hijacked feed whose entry says ``//evil.example/a9``, ``http://127.0.0.1:5432/`` or
``http://169.254.169.254/`` would otherwise have the server send requests wherever it likes.
So a page is fetched only when its link reaches (read the way requests connects, see
:func:`endpoint`) the feed's own host, on the feed URL's port or the default http/https ports,
or that host's ``www.`` twin, or one of the outlet's ``article_hosts`` (``"news.example"``: its
default ports; ``"news.example:8080"``: that port). Redirects are followed by hand, each hop checked the same
way, so none leads to another host. A link elsewhere raises :class:`PageNotFetched`: the poller
keeps the link (the reader still sees it) and reads the entry from the feed's own summary. The feed
itself is fetched the same way: a feed redirected to another host is a dead letter, not a request.

A page's text is decoded the way browsers do (:func:`page_text`): a byte order mark, else the
charset of ``Content-Type``, else the page's ``<meta charset>``, else UTF-8 (newer w3lib: a guess
from its bytes). A Vietnamese page served as bare ``text/html`` was read as ISO-8859-1 (HTTP/1.1's
old default, which requests applies): every ``ế`` became ``áº¿``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import trafilatura
from w3lib.encoding import html_to_unicode

from ingest.http_origin import DEFAULT_PORTS, origin, parsed
from ingest.press.feeds import FeedRefused, plain

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class PageNotFetched(Exception):
    """An article page we will not request; ``str()`` says why, ``kind`` is the reason's category
    (the feed health counts them: ``link to another host``, ``redirect to another host``)."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.kind = kind


def endpoint(url: str) -> tuple[str, int] | None:
    """``(host, port)`` a request for ``url`` would connect to (:func:`ingest.http_origin.origin`), the
    default port filled in; ``None`` unless an http(s) URL with a host."""
    scheme, host, port = origin(url)
    if scheme not in DEFAULT_PORTS or not host or port is None:
        return None
    return host, port


def host_and_port(value: str) -> tuple[str, int | None]:
    """An ``article_hosts`` entry read (``News.Example:8080`` -> ``("news.example", 8080)``, no port
    -> ``None``), or :class:`ValueError` unless it is a host name or address, optionally with a port."""
    text = value.strip()
    if not text or any(c in text for c in "/\\@?#") or any(c.isspace() for c in text):
        raise ValueError(f"not a host (optionally with :port): {value!r}")
    parts = parsed(f"http://{text}/")
    if parts is None or not parts.host:
        raise ValueError(f"not a host (optionally with :port): {value!r}")
    return parts.host.lower(), parts.port


def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address (which has no ``www.`` twin) rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def article_host(value: str) -> str:
    """An ``article_hosts`` entry normalised: ``host`` or ``host:port``, the host in lower case."""
    host, port = host_and_port(value)
    return host if port is None else f"{host}:{port}"


@dataclass(frozen=True)
class ArticleHosts:
    """Where an outlet's article pages may be fetched from: ``(host, port)`` pairs."""

    allowed: frozenset[tuple[str, int]]

    @classmethod
    def of(cls, feed_url: str, extra: Iterable[str] = ()) -> ArticleHosts:
        """The feed URL's host (its port and the default ports) and its ``www.`` twin (``example.vn``
        and ``www.example.vn``: one site, as outlets serve it), and the ``extra`` hosts."""
        allowed: set[tuple[str, int]] = set()
        own = endpoint(feed_url)
        if own is not None:
            host = own[0]
            twin = host[4:] if host.startswith("www.") else f"www.{host}"
            twins = {host} if _is_address(host) else {host, twin}
            allowed |= {own, *((h, p) for h in twins for p in DEFAULT_PORTS.values())}
        for entry in extra:
            host, port = host_and_port(entry)
            allowed |= {(host, port)} if port else {(host, p) for p in DEFAULT_PORTS.values()}
        return cls(frozenset(allowed))

    def refusal(self, url: str) -> str | None:
        """Why the page at ``url`` is not fetched, or ``None`` when it may be."""
        where = endpoint(url)
        if where is None:
            return f"not an http(s) URL: {url[:200]}"
        if where not in self.allowed:
            return f"host {where[0]}:{where[1]} is neither the feed's nor in article_hosts"
        return None


def read_body(response: requests.Response, max_bytes: int, url: str) -> requests.Response:
    """``response`` with its body read, or :class:`FeedRefused` past ``max_bytes`` (never read whole)."""
    chunks, size = [], 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise FeedRefused(f"body larger than {max_bytes} bytes at {url}")
        chunks.append(chunk)
    response._content = b"".join(chunks)
    return response


def fetch_page(session: requests.Session, url: str, hosts: ArticleHosts, *, max_bytes: int,
               timeout: float, headers: Mapping[str, str] | None = None,
               what: str = "article page") -> requests.Response:
    """The answer for the ``what`` (an article page, or the feed) at ``url`` (after same-host
    redirects, body read); :class:`PageNotFetched` for a link or redirect to a host not in ``hosts``."""
    where = url
    for _ in range(MAX_REDIRECTS + 1):
        refusal = hosts.refusal(where)
        if refusal is not None:
            said = "" if where == url else f" (redirected from {url[:200]} to {where[:200]})"
            raise PageNotFetched(f"{what} not fetched: {refusal}{said}",
                                 "link to another host" if where == url else "redirect to another host")
        response = session.get(where, headers=dict(headers or {}), timeout=timeout, stream=True,
                               allow_redirects=False)
        location = response.headers.get("Location", "").strip()
        if response.status_code in REDIRECTS and location:
            response.close()
            try:
                where = urljoin(where, location)
            except ValueError:  # a malformed Location ("http://[x")
                raise FeedRefused(f"unusable redirect at {what} {where[:200]}") from None
            continue
        return read_body(response, max_bytes, where)
    raise FeedRefused(f"redirect loop (more than {MAX_REDIRECTS} redirects) at {what} {url[:200]}")


def page_text(response: requests.Response) -> str:
    """The body of an HTML answer as text, decoded as the module says (w3lib's ``html_to_unicode``:
    the HTML standard's order); bytes the encoding does not read are replaced, never raised."""
    return html_to_unicode(response.headers.get("Content-Type"), response.content)[1]


def main_text(page: str, title: str = "") -> str:
    """Main text of an article page by trafilatura (boilerplate, menus and scripts left out, and the
    headline when it repeats ``title``: it would run into the first sentence); where it finds none,
    the page's <article> (or whole page) with every tag stripped."""
    extracted = trafilatura.extract(page, include_comments=False, include_tables=False, favor_precision=True)
    if extracted:
        lines = [plain(line) for line in extracted.splitlines()]
        return " ".join(line for line in lines if line and line.casefold() != title.casefold())
    start = page.lower().find("<article")
    body = page[start:page.lower().find("</article>", start)] if start >= 0 else page
    return plain(body)
