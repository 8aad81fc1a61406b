"""A local HTTP test server (127.0.0.1 only) that serves SIMULATED dossier events the way the
one-stop-shop API is polled: ``GET /api/dossiers?since=<ISO time>&page_size=N[&page=K]`` answers
``{"items": [...], "next": <url or null>}``, oldest first, events strictly after ``since``, with an
``ETag`` (and ``304 Not Modified`` to a matching ``If-None-Match``). ``fail_next`` makes the next
answers ``503`` with ``Retry-After`` to test backoff.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


def wire(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API writes it: times as ISO 8601 with their offset."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


class DossierServer:
    """Serves ``rows`` (sorted here by time); only those at or before ``now`` are visible."""

    def __init__(self, rows: list[dict[str, Any]], now: datetime) -> None:
        self.rows = sorted(rows, key=lambda r: r["time"])
        self.times = [r["time"] for r in self.rows]
        self.now = now
        self.fail_next = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                outer.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/dossiers"

    def __enter__(self) -> DossierServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append((req.path, dict(req.headers)))
            if self.fail_next:
                self.fail_next -= 1
                return self._send(req, 503, b'{"error": "maintenance"}', {"Retry-After": "1"})
        parts = urlsplit(req.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path != "/api/dossiers":
            return self._send(req, 404, b'{"error": "not found"}')
        try:
            since = datetime.fromisoformat(query.get("since", "1970-01-01T00:00:00+00:00"))
            size = min(int(query.get("page_size", "500")), 5000)
            page = int(query.get("page", "0"))
            if since.tzinfo is None or size < 1 or page < 0:
                raise ValueError
        except ValueError:
            return self._send(req, 400, b'{"error": "bad since, page or page_size"}')
        lo = bisect.bisect_right(self.times, since)
        hi = bisect.bisect_right(self.times, self.now)
        items = self.rows[lo:hi][page * size : (page + 1) * size]
        more = lo + (page + 1) * size < hi
        nxt = f"{self.url}?{urlencode({**query, 'page': page + 1})}" if more else None
        body = json.dumps({"items": [wire(r) for r in items], "next": nxt}, ensure_ascii=False).encode()
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        if req.headers.get("If-None-Match") == etag:
            return self._send(req, 304, b"", {"ETag": etag})
        self._send(req, 200, body, {"ETag": etag})

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        if body:
            req.wfile.write(body)
