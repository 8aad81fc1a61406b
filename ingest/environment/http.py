"""HTTP JSON fetching shared by the polling sources: deadlines, a size cap, credentials, typed failures.

A transport failure, an HTTP error status, an unusable redirect or a request that outlives its
deadline raises :class:`SourceUnavailable` (with ``retry_after`` when a 429/503 answer says
``Retry-After``); a body that is not usable JSON (too large, too deeply nested, a number too long
to read, anything else the parser refuses) raises :class:`BadPayload`, carrying the raw text (at
most 64 KiB) for the dead letter. Nothing else escapes :meth:`JsonClient.get_json`. Reasons name
the URL that gave the answer (the last hop of a redirect).

``timeout`` is a deadline for the whole request (connect, headers, body, redirects), not per
socket read: a watchdog shuts the socket down when it passes, so a server that trickles bytes
cannot hold a poll. A client talks to its configured origin only: redirects are followed here,
hop by hop, within that origin; a redirect (or a URL such as a ``nextLink``) to another scheme,
host or port is refused as :class:`SourceUnavailable` before any request goes there, so neither
credentials nor cookies nor the other origin's body ever come into play.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ingest.http_origin import origin

from .base import SourceUnavailable

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 3600.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "ioc-environment-ingest/0.1"

_call = threading.local()  # the sockets the current thread's request uses (for its watchdog)


class BadPayload(ValueError):
    """The server answered, but not with usable JSON."""

    def __init__(self, reason: str, payload: str | bytes) -> None:
        super().__init__(reason)
        self.payload = payload


def _register(sock: socket.socket | None) -> None:
    sockets = getattr(_call, "sockets", None)
    if sockets is not None and sock is not None:
        sockets.append(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _register(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _register(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections let :func:`get_json`'s watchdog find their sockets."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def new_session(headers: Mapping[str, str] | None = None) -> requests.Session:
    """A session with the ingest user agent and extra (non-secret) headers."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.headers.update(headers or {})
    watch(session)
    return session


def watch(session: requests.Session) -> requests.Session:
    """Mount the deadline adapter on ``session`` (idempotent)."""
    if not isinstance(session.get_adapter("http://x"), DeadlineAdapter):
        session.mount("http://", DeadlineAdapter())
        session.mount("https://", DeadlineAdapter())
    return session


def retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), at most an hour."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        seconds = float(text)
    else:
        try:
            seconds = (parsedate_to_datetime(text) - now()).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class JsonClient:
    """GETs JSON from one configured origin (and nowhere else); its credential headers go with it."""

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        credentials: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.origin = origin(base_url)
        self.session = watch(session or new_session())
        self.credentials = dict(credentials or {})
        self.timeout = timeout

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``url`` (following same-origin redirects, all within ``timeout``) and parse its JSON body.

        :class:`SourceUnavailable` or :class:`BadPayload`, never another exception.
        """
        deadline = time.monotonic() + self.timeout
        sockets: list[socket.socket] = []
        expired = threading.Event()
        where = [url]  # the URL of the current hop, for the reasons

        def expire() -> None:
            expired.set()
            for sock in list(sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(self.timeout, expire)
        watchdog.daemon = True
        _call.sockets = sockets
        watchdog.start()
        late = f"no complete answer within {self.timeout:g} s from {{}}"
        try:
            body = self._fetch(url, params, deadline, where)
        except (SourceUnavailable, BadPayload):
            raise
        except Exception as exc:  # requests, urllib3, sockets, a URL they cannot use...
            if expired.is_set():
                raise SourceUnavailable(late.format(where[-1])) from None
            raise SourceUnavailable(f"{type(exc).__name__} from {where[-1]}: {exc}") from None
        finally:
            watchdog.cancel()
            _call.sockets = None
        if expired.is_set():  # a close-delimited body cut short by the watchdog
            self.session.close()
            raise SourceUnavailable(late.format(where[-1]))
        return parse_json(body, where[-1])

    def _fetch(
        self, url: str, params: Mapping[str, str] | None, deadline: float, where: list[str]
    ) -> bytes:
        if origin(url) != self.origin:  # a nextLink elsewhere: nothing is sent there
            raise SourceUnavailable(f"refused {url[:500]}: not at the configured origin")
        for _ in range(MAX_REDIRECTS + 1):
            remaining = max(deadline - time.monotonic(), 0.001)
            with self.session.get(
                url, params=params, headers=self.credentials, timeout=remaining, stream=True,
                allow_redirects=False,
            ) as resp:
                where.append(resp.url or url)
                if resp.status_code in REDIRECTS and resp.headers.get("Location"):
                    url, params = self._redirect(resp), None
                    continue
                if resp.status_code >= 400:
                    wait = (
                        retry_after(resp.headers.get("Retry-After"))
                        if resp.status_code in (429, 503)
                        else None
                    )
                    raise SourceUnavailable(f"HTTP {resp.status_code} {resp.reason} from {where[-1]}", wait)
                body = bytearray()
                for chunk in resp.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise BadPayload(
                            f"body larger than {MAX_BODY_BYTES} bytes from {where[-1]}", bytes(body[:65536])
                        )
                return bytes(body)
        raise SourceUnavailable(f"more than {MAX_REDIRECTS} redirects from {where[0]}")

    def _redirect(self, resp: requests.Response) -> str:
        """Where a redirect leads; :class:`SourceUnavailable` if that is unusable or another origin."""
        here, location = resp.url, resp.headers["Location"]
        try:
            target = urljoin(here, location)
        except ValueError as exc:  # "http://[::1/x"
            raise SourceUnavailable(
                f"HTTP {resp.status_code} from {here} with an unusable Location {location[:200]!r}: {exc}"
            ) from None
        if origin(target) != self.origin:  # refused before anything (a key, a cookie) goes there
            raise SourceUnavailable(
                f"refused {target[:500]}: HTTP {resp.status_code} from {here} redirects to another origin"
            )
        return target


def parse_json(body: bytes, url: str) -> Any:
    """The JSON value of ``body``; :class:`BadPayload` if it is not usable JSON, for any reason."""
    try:
        return json.loads(body)
    except RecursionError:
        raise BadPayload(f"JSON nested too deeply from {url}", body[:65536]) from None
    except Exception as exc:  # not UTF-8, not JSON, a number over the int digit limit...
        raise BadPayload(f"not JSON from {url}: {str(exc)[:200]}", body[:65536]) from None
