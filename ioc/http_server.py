"""A WSGI app served by waitress from a thread of this process: the embedded pages and the
citizens' report intake use it (the web role of a city runs under gunicorn, ioc/app/web_server.py)."""

from __future__ import annotations

from typing import Any

import waitress


class ThreadedServer:
    """Waitress serving one WSGI app from a thread of this process (embedded mode)."""

    def __init__(self, app: Any, host: str, port: int, threads: int) -> None:
        # the app itself decides which proxies to believe (dashboards/auth.py): waitress must not
        # strip or apply X-Forwarded-* headers on its own
        self._server = waitress.create_server(
            app, host=host, port=port, threads=threads, ident="ioc",
            clear_untrusted_proxy_headers=False, channel_timeout=120,
        )
        self.host = host
        self._closing = False

    @property
    def server_port(self) -> int:
        return int(self._server.effective_port)

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:
            # waitress has no stop call: closing its sockets from another thread can land while
            # its loop is in select() on them (EBADF), which is the stop asked for, not a failure
            if not self._closing:
                raise

    def shutdown(self) -> None:
        self._closing = True
        self._server.close()
