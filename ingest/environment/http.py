"""HTTP JSON fetching shared by the polling sources: timeouts, a size cap, and typed failures.

A transport failure or an HTTP error status raises :class:`SourceUnavailable`; a body that is
not JSON (or too large) raises :class:`BadPayload`, carrying the raw text for the dead letter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from .base import SourceUnavailable

MAX_BODY_BYTES = 8 * 1024 * 1024
USER_AGENT = "ioc-environment-ingest/0.1"


class BadPayload(ValueError):
    """The server answered, but not with usable JSON."""

    def __init__(self, reason: str, payload: str | bytes) -> None:
        super().__init__(reason)
        self.payload = payload


def new_session(headers: Mapping[str, str] | None = None) -> requests.Session:
    """A session with the ingest user agent and extra headers."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.headers.update(headers or {})
    return session


def get_json(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Any:
    """GET ``url`` and parse its JSON body."""
    try:
        with session.get(url, params=params, timeout=timeout, stream=True) as resp:
            if resp.status_code >= 400:
                raise SourceUnavailable(f"HTTP {resp.status_code} {resp.reason} from {url}")
            body = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise BadPayload(
                        f"body larger than {MAX_BODY_BYTES} bytes from {url}", bytes(body[:65536])
                    )
    except requests.RequestException as exc:
        raise SourceUnavailable(f"{type(exc).__name__} from {url}: {exc}") from None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(f"not JSON from {url}: {exc}", bytes(body)) from None
