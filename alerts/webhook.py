"""The webhook's HTTP client: one POST, its answer's status, within an overall deadline, no redirects.

:func:`post` sends a document and returns the far end's :class:`Answer`, whatever its status. It
never follows a redirect: following one would carry the configured headers (an ``Authorization``)
to another host, without the body, and count that host's answer as a delivery; a 3xx comes back as
it is, with its ``Location`` for the caller to name (by scheme and host only). ``timeout`` covers
connecting and the whole answer (:class:`alerts.deadline.Deadline`), not each read: a far end that
trickles its answer is given up at the deadline (:class:`alerts.deadline.Overdue`) and its
connection closed. Proxies from the environment (``https_proxy``...) are used as urllib uses them.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from alerts.deadline import Deadline

SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Answer:
    """What the far end answered: its status and reason phrase, and a redirect's ``Location`` as sent
    (it may hold a secret: show it only through :func:`alerts.notify.public_url`)."""

    status: int
    reason: str
    location: str | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer like any other: urllib raises it as an ``HTTPError`` instead of following."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _watched(cls: type[http.client.HTTPConnection], deadline: Deadline) -> Callable[..., Any]:
    """``cls``, its connections opened through ``deadline`` so that the deadline can cut them."""

    def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = cls(host, **kwargs)
        conn._create_connection = deadline.connect  # type: ignore[attr-defined]  # http.client's hook
        return conn

    return connection


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPConnection, self._deadline), req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._deadline = deadline
        self._tls = ssl.create_default_context()

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPSConnection, self._deadline), req, context=self._tls)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float, name: str) -> Answer:
    """POST ``body`` to ``url``; the answer, any status. Raises ``ValueError`` for a URL that is not
    http(s), :class:`alerts.deadline.Overdue` past ``timeout`` seconds, ``OSError`` (``URLError``) for
    a far end that cannot be reached. ``name`` names the thread that does the exchange."""
    if urllib.parse.urlsplit(url).scheme.lower() not in SCHEMES:
        raise ValueError("not an http(s) URL")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    deadline = Deadline(timeout, name)
    opener = urllib.request.build_opener(_NoRedirects(), _HTTP(deadline), _HTTPS(deadline))

    def exchange() -> Answer:
        try:
            with opener.open(request, timeout=timeout) as resp:
                return Answer(resp.status, str(resp.reason))
        except urllib.error.HTTPError as exc:  # 3xx, 4xx, 5xx: an answer all the same
            try:
                return Answer(exc.code, str(exc.reason), exc.headers.get("Location") if exc.headers else None)
            finally:
                exc.close()

    return deadline.call(exchange)
