"""Serving the pages: gunicorn for ``ioc run web``, waitress in a thread for the embedded demo.

A city's web role runs under gunicorn: several worker processes, each with threads (``gthread``),
a graceful restart on ``SIGHUP`` (new workers start before the old ones finish their requests),
``SIGTERM`` to stop, an access log in the combined format, and ``X-Forwarded-*`` believed only from
``[web] trusted_proxies``. Each worker builds its own store pool and Dash app after the fork (no
connection crosses a fork) and records the ``web`` heartbeat.

The embedded mode (``ioc demo``, tests) serves the same app with waitress in one thread of the
process: a production-grade server there too, no development server anywhere.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from ioc.config import Settings

log = logging.getLogger(__name__)


def gunicorn_options(settings: Settings, bind: str) -> dict[str, Any]:
    """Gunicorn's settings for the web role, from ``[web]``."""
    web = settings.web
    return {
        "bind": [bind],
        "workers": web.workers,
        "threads": web.threads,
        "worker_class": "gthread",
        "graceful_timeout": int(web.graceful_timeout_s),
        "timeout": max(30, int(web.graceful_timeout_s) + 10),
        "accesslog": web.access_log,
        "errorlog": "-",
        "forwarded_allow_ips": ",".join(web.trusted_proxies) or "127.0.0.1,::1",
        "proc_name": "ioc-web",
        "preload_app": False,  # each worker opens its own pool after the fork
    }


class WebRole(BaseApplication):  # type: ignore[misc]
    """``ioc run web``: gunicorn's arbiter serving the pages; each worker builds its own app."""

    def __init__(self, settings: Settings, bind: str) -> None:
        self.settings = settings
        self.options = gunicorn_options(settings, bind)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ioc.app.runtime import Runtime  # the composition root builds the app in the worker

        runtime = Runtime(self.settings)
        runtime.open_store()
        app = runtime.build_web_app()
        runtime.web_address = self.options["bind"][0]
        threading.Thread(target=runtime.beat_forever, name="heartbeat", daemon=True).start()
        jobs = runtime.add_replay_jobs()  # the replays the replay page queues, one at a time per worker
        threading.Thread(target=jobs.run, args=(threading.Event(),), name="replay", daemon=True).start()
        log.info("web worker ready on %s", self.options["bind"][0])
        return app


def serve_web_role(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Run the web role under gunicorn until ``SIGTERM``/``SIGINT``; returns the exit status."""
    bind = f"{host or settings.web.host}:{settings.web.port if port is None else port}"
    from ioc.app.cli import tr

    print(tr("Wall: {url}", url=f"http://{bind}/"), flush=True)
    WebRole(settings, bind).run()
    return 0
