"""HTTP JSON polling of the one-stop-shop system: events after a cursor, page by page, with
conditional requests (``If-None-Match``) and exponential backoff (``Retry-After`` honoured).

:meth:`DossierPoller.poll` returns the events and dead letters of one round; the cursor advances to
the latest event time read, so a restart with the saved cursor loses nothing and the store's
natural key absorbs what is read twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests

from ingest.services.rows import BadRow, parse_row
from ioc.feeds.services.records import DossierEvent

MAX_BODY = 16 * 1024 * 1024
MAX_PAGES = 1000


class Unavailable(RuntimeError):
    """The system could not be reached or answered an error; ``retry_after`` if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DossierPoller:
    """Polls one dossier endpoint; keeps its cursor, the last ETag and the backoff state."""

    def __init__(
        self,
        url: str,
        *,
        source: str,
        tz: ZoneInfo,
        since: datetime | None = None,
        page_size: int = 500,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        simulated: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url, self.source, self.tz, self.page_size, self.timeout = url, source, tz, page_size, timeout
        self.cursor = since or datetime(1970, 1, 1, tzinfo=UTC)
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.etag: tuple[str, str] | None = None  # (first page's URL, its ETag)
        self.backoff_initial, self.backoff_max, self.simulated = backoff_initial, backoff_max, simulated
        self.monotonic = monotonic
        self.failures = 0
        self.retry_at = 0.0
        self.not_modified = 0
        self.last_error: str | None = None

    def _get(self, url: str, conditional: bool) -> tuple[int, Any, str | None]:
        etag = self.etag[1] if conditional and self.etag and self.etag[0] == url else None
        headers = {"If-None-Match": etag} if etag else {}
        try:
            with self.session.get(url, headers=headers, timeout=self.timeout, stream=True) as resp:
                if resp.status_code == 304:
                    return 304, None, etag
                if resp.status_code >= 400:
                    wait = resp.headers.get("Retry-After")
                    raise Unavailable(
                        f"HTTP {resp.status_code} from {url}",
                        float(wait) if wait and wait.isdigit() else None,
                    )
                body = resp.raw.read(MAX_BODY + 1, decode_content=True)
                if len(body) > MAX_BODY:
                    raise ValueError(f"body larger than {MAX_BODY} bytes")
                return resp.status_code, json.loads(body), resp.headers.get("ETag")
        except requests.RequestException as exc:
            raise Unavailable(f"{type(exc).__name__} from {url}: {exc}") from None

    def poll(self) -> tuple[list[DossierEvent], list[tuple[str, str]]]:
        """One round (nothing while backing off); raises nothing: failures set the backoff."""
        if self.monotonic() < self.retry_at:
            return [], []
        events: list[DossierEvent] = []
        dead: list[tuple[str, str]] = []
        url: str | None = (
            f"{self.url}?{urlencode({'since': self.cursor.isoformat(), 'page_size': self.page_size})}"
        )
        first = True
        try:
            for _ in range(MAX_PAGES):
                if url is None:
                    break
                status, body, etag = self._get(url, conditional=first)
                if status == 304:
                    self.not_modified += 1
                    break
                if first and etag:
                    self.etag = (url, etag)
                first = False
                if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                    dead.append(("page: not an object with an items list", json.dumps(body)[:65536]))
                    break
                for item in body["items"]:
                    try:
                        events.append(
                            parse_row(item, source=self.source, tz=self.tz, simulated=self.simulated)
                        )
                    except BadRow as exc:
                        dead.append((str(exc), json.dumps(item, ensure_ascii=False)[:65536]))
                nxt = body.get("next")
                url = nxt if isinstance(nxt, str) and nxt else None
        except Unavailable as exc:
            self.failures += 1
            self.last_error = str(exc)
            wait = min(self.backoff_max, self.backoff_initial * 2 ** (self.failures - 1))
            self.retry_at = self.monotonic() + max(wait, exc.retry_after or 0.0)
        except ValueError as exc:  # JSON that does not parse, a body too large
            self.failures += 1
            self.last_error = f"bad payload from {self.url}: {exc}"
            dead.append((self.last_error[:200], ""))
            self.retry_at = self.monotonic() + min(
                self.backoff_max, self.backoff_initial * 2 ** (self.failures - 1)
            )
        else:
            self.failures = 0
            self.last_error = None
        if events:
            self.cursor = max(self.cursor, max(e.time for e in events))
        return events, dead
