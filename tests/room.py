"""Helpers of the operations-room tests (truth banners, screens): a restartable server, a login."""

from __future__ import annotations

import threading
from typing import Any

from ioc.http_server import ThreadedServer
from tests.browser import log_in

PASSWORD = "a long enough password"


class Served:
    """A WSGI app served by waitress from a thread, on a port that a restart can take again."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.server = ThreadedServer(app, "127.0.0.1", port, threads=8)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Gone as a dead process is: the listener closed and every open (keep-alive) connection dropped."""
        inner = self.server._server  # waitress's server: closing it closes only the listening socket
        self.server.shutdown()
        for channel in list(inner._map.values()):
            channel.close()
        self.thread.join(timeout=10)


def login(driver: Any, base: str, name: str, target: str = "/console/") -> None:
    """Log ``name`` (whose password is :data:`PASSWORD`) in through the login form and land on ``target``."""
    log_in(driver, base, name, PASSWORD, target)


def banner(driver: Any) -> dict[str, Any]:
    """The truth banner's state, its text, and whether the page is greyed out."""
    return driver.execute_script(
        "const b = document.getElementById('ioc-truth');"
        "const last = document.body.children[document.body.children.length - 1];"
        "return {state: b ? b.dataset.state : null, text: b && !b.hidden ? b.innerText : '',"
        " offline: document.body.classList.contains('ioc-offline'),"
        " feedStale: document.body.classList.contains('ioc-feed-stale'),"
        " filter: last ? getComputedStyle(last).filter : ''};")
