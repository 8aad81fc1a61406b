"""Where a request for a URL goes, read as requests and urllib3 read it to connect.

:func:`urllib.parse.urlsplit` reads some URLs otherwise than the client that connects: in
``http://other:8080\\@origin/`` it names ``origin`` as the host, while requests (preparing the URL)
and urllib3 (parsing it) connect to ``other:8080``. A check of where a feed's request, redirect or
link would go (the environment feed's ``nextLink`` and redirects, the press feed's article pages)
must read the URL the way the connection will.
"""

from __future__ import annotations

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}


def parsed(url: str) -> Url | None:
    """``url`` as urllib3 reads it once requests has prepared it; ``None`` if either refuses it."""
    try:
        return parse_url(requests.Request("GET", url).prepare().url or "")
    except (ValueError, LocationParseError, requests.RequestException):
        return None


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of the server a request for ``url`` would reach, the host in lower case
    and the default port filled in; ``("", "", None)`` if unparsable."""
    parts = parsed(url)
    if parts is None:
        return "", "", None
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)
