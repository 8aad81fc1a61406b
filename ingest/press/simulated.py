"""SIMULATED outlets for the demo: the newsroom script (:mod:`ingest.press.newsroom`) served as real
RSS 2.0 over HTTP on 127.0.0.1, growing as the clock passes each item's publication time, with
ETag / Last-Modified (the poller's conditional GET gets 304 until something new is out) and an
HTML page per article (the summary-only outlet's pages are fetched and extracted).
The static documents of ``sample_streams/press/`` are served at ``/samples/<name>.xml``.

    python -m ingest.press.simulated --port 8766     # then http://127.0.0.1:8766/sim_tin_hue.xml
"""

from __future__ import annotations

import argparse
import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ingest.press.newsroom import OUTLETS, Item, newsroom_script

SAMPLES = Path(__file__).parents[2] / "sample_streams" / "press"
FEED_ITEMS = 200  # the newest items a feed document carries


@dataclass
class Newsroom:
    """The script started at ``start``, read at ``clock()``: what each outlet has published so far."""

    start: datetime
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    backfill_hours: float = 26.0
    every_s: float = 180.0
    cycle_s: float = 600.0

    def published(self) -> list[Item]:
        return newsroom_script(self.start, self.clock(), backfill_hours=self.backfill_hours,
                               every_s=self.every_s, cycle_s=self.cycle_s)

    def feed(self, outlet: str, base: str) -> tuple[bytes, str, datetime | None]:
        """The outlet's RSS document, its ETag and the time of its newest item."""
        slug, name, full_text = next(o for o in OUTLETS if o[0] == outlet)
        items = [i for i in self.published() if i.outlet == outlet][-FEED_ITEMS:]
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n'
                 "<!-- SIMULATED: written for the IOC's demo; not a real outlet, not real events. -->\n"
                 '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
                 f"<title>{html.escape(name)}</title><link>{base}/{slug}/</link>"
                 "<description>SIMULATED local news outlet</description>"]
        for item in reversed(items):
            lead = item.text.split(". ")[0].rstrip(".") + "."
            parts.append(
                f"<item><title>{html.escape(item.title)}</title><link>{base}/{slug}/{item.slug}</link>"
                f'<guid isPermaLink="false">{slug}-{item.slug}</guid>'
                f"<pubDate>{format_datetime(item.published)}</pubDate>"
                f"<description>{html.escape(lead)}</description>"
                + (f"<content:encoded>{html.escape(f'<p>{html.escape(item.text)}</p>')}</content:encoded>"
                   if full_text else "") + "</item>")
        parts.append("</channel></rss>\n")
        body = "".join(parts).encode()
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        return body, etag, items[-1].published if items else None

    def page(self, outlet: str, slug: str) -> bytes | None:
        """The article's HTML page (menus and footer around it, as on a real site)."""
        name = next((o[1] for o in OUTLETS if o[0] == outlet), None)
        item = next((i for i in self.published() if i.outlet == outlet and i.slug == slug), None)
        if name is None or item is None:
            return None
        return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{html.escape(item.title)}'
                f"</title></head><body><nav><a href='/'>Trang chủ</a> <a href='/thoi-su'>Thời sự</a> "
                f"<a href='/xa-hoi'>Xã hội</a></nav><article><h1>{html.escape(item.title)}</h1>"
                f"<p>{html.escape(item.text)}</p></article><footer>{html.escape(name)} (SIMULATED) · "
                "Bản tin mô phỏng, không phải tin thật</footer></body></html>").encode()


class SimulatedOutlet(BaseHTTPRequestHandler):
    """GET /<outlet>.xml, /<outlet>/<article>, /samples/<name>.xml; 304 when the client has it."""

    def __init__(self, *args: object, newsroom: Newsroom, root: Path = SAMPLES, **kw: object) -> None:
        self.newsroom, self.root = newsroom, root
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def _send(self, body: bytes, ctype: str, etag: str | None = None,
              modified: datetime | None = None) -> None:
        if etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        if modified:
            self.send_header("Last-Modified", format_datetime(modified.astimezone(UTC), usegmt=True))
        self.send_header("X-Simulated", "SIMULATED")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].strip("/")
        host, port = self.server.server_address[:2]
        outlets = {o[0] for o in OUTLETS}
        if path.endswith(".xml") and path[:-4] in outlets:
            body, etag, newest = self.newsroom.feed(path[:-4], f"http://{host}:{port}")
            self._send(body, "application/rss+xml; charset=utf-8", etag, newest)
            return
        parts = path.split("/")
        if len(parts) == 2 and parts[0] == "samples" and parts[1].endswith(".xml"):
            sample = self.root / parts[1]
            if sample.is_file():
                body = sample.read_bytes()
                self._send(body, "application/rss+xml; charset=utf-8",
                           '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"')
                return
        if len(parts) == 2 and parts[0] in outlets:
            page = self.newsroom.page(parts[0], parts[1])
            if page is not None:
                self._send(page, "text/html; charset=utf-8")
                return
        self.send_error(404, "no such feed or article")

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int = 8766, newsroom: Newsroom | None = None, root: Path = SAMPLES) -> ThreadingHTTPServer:
    """The simulated outlets' server, bound to 127.0.0.1 (call ``serve_forever`` on it); port 0: any."""
    room = newsroom or Newsroom(start=datetime.now(UTC))
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(SimulatedOutlet, newsroom=room, root=root))
    server.daemon_threads = True
    return server


def outlet_urls(server: ThreadingHTTPServer) -> list[tuple[str, str]]:
    """(outlet name, feed URL) of every simulated outlet on ``server``."""
    host, port = server.server_address[:2]
    return [(name, f"http://{host}:{port}/{slug}.xml") for slug, name, _ in OUTLETS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8766)
    server = serve(parser.parse_args().port)
    for name, url in outlet_urls(server):
        print(f"{name}: {url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
