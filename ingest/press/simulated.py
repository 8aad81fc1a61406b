"""A SIMULATED outlet for the demo: serves ``sample_streams/press/*.xml`` as real RSS over HTTP on
127.0.0.1, with ETag / If-None-Match so the poller's conditional GET is exercised.

    python -m ingest.press.simulated --port 8766     # then http://127.0.0.1:8766/sim_tin_hue.xml
"""

from __future__ import annotations

import argparse
import hashlib
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLES = Path(__file__).parents[2] / "sample_streams" / "press"


class SimulatedOutlet(BaseHTTPRequestHandler):
    """GET /<name>.xml: the sample document, 304 when the client already has it."""

    def __init__(self, *args: object, root: Path = SAMPLES, **kw: object) -> None:
        self.root = root
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.lstrip("/").split("?")[0]
        path = self.root / name
        if "/" in name or not name.endswith(".xml") or not path.is_file():
            self.send_error(404, "no such feed")
            return
        body = path.read_bytes()
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("X-Simulated", "SIMULATED")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int = 8766, root: Path = SAMPLES) -> ThreadingHTTPServer:
    """The simulated outlet's server, bound to 127.0.0.1 (call ``serve_forever`` on it)."""
    return ThreadingHTTPServer(("127.0.0.1", port), partial(SimulatedOutlet, root=root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8766)
    serve(parser.parse_args().port).serve_forever()


if __name__ == "__main__":
    main()
