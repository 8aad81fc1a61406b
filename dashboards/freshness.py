"""``/api/freshness``: what every page's truth banner (``assets/truth.js``) needs to tell the truth.

Answers, in the page's language: whether the store answered, its clock, and per feed that ever
stored a record the time of its last good data and whether that is too old to pass as live
(``[web] stale_after_s`` / ``feed_stale_after_s``). A store that does not answer within a
moment gives ``store_ok: false`` (HTTP 200: the server itself is up); the browser keeps the last
good times it was told. Which page shows which feed lets a page grey out its own figures.

While the last freshness probe found the store down, the pages' Dash callbacks are answered at once
with "no update" (204) instead of each holding a server thread for the pool's whole timeout: the
pages keep their (greyed, bannered) figures, and the server stays free to answer the probes that
notice the store's return.
"""

from __future__ import annotations

import json
import logging
import threading

import psycopg
from flask import Flask, Response, request
from psycopg_pool import ConnectionPool

from dashboards.feed_titles import feed_title
from dashboards.i18n import BROWSER_LOCALES, page_language, t
from ioc.config import Settings
from ioc.store.freshness import feed_freshness

log = logging.getLogger(__name__)

#: the page that shows each feed's figures (a stale feed greys its own page out)
FEED_PAGES: dict[str, str] = {
    "environment": "/", "vessels": "/sea/", "cameras": "/cameras/", "security": "/security/",
    "press": "/press/", "services": "/services/", "reports": "/reports311/",  # citizens' field reports
}


class StoreWatch:
    """What the last freshness probe of this process found: is the store down?"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down = False

    def found(self, ok: bool) -> None:
        with self._lock:
            if self.down and ok:
                log.info("freshness: the store answers again")
            self.down = not ok


def texts(lang: str) -> dict[str, str]:
    """The banner's sentences in ``lang`` (the browser fills in ``{since}``, ``{last}``, ``{time}``...)."""
    return {
        "server_down": t("SERVER UNREACHABLE since {since}: reconnecting. Figures shown are from {last} "
                         "and are not live.", lang),
        "store_down": t("DATA STORE UNREACHABLE since {since}: figures are from {last} and are not live.",
                        lang),
        "feed_stale": t("{feed}: no new data since {time}", lang),
        "feed_never": t("{feed}: no data yet", lang),
        "unknown": t("unknown", lang),
    }


def freshness_document(pool: ConnectionPool, settings: Settings, lang: str,
                       watch: StoreWatch | None = None) -> dict[str, object]:
    """The JSON the banner reads (see the module's docstring)."""
    doc: dict[str, object] = {
        "tz": settings.timezone, "locale": BROWSER_LOCALES.get(lang, "en-GB"),
        "poll_ms": settings.web.truth_poll_ms, "texts": texts(lang),
    }
    try:
        now, feeds = feed_freshness(pool)
    except psycopg.Error as exc:  # PoolTimeout included: the store did not answer in time
        log.warning("freshness: store unreachable: %s", str(exc).strip()[:200])
        if watch is not None:
            watch.found(False)
        return {**doc, "store_ok": False, "now": None, "feeds": []}
    if watch is not None:
        watch.found(True)
    rows = []
    for f in feeds:
        age = None if f.last_write is None else (now - f.last_write).total_seconds()
        rows.append({
            "feed": f.feed, "title": feed_title(f.title, lang), "page": FEED_PAGES.get(f.feed),
            "last": None if f.last_write is None else f.last_write.isoformat(),
            "stale": age is None or age > settings.web.stale_after(f.feed),
        })
    return {**doc, "store_ok": True, "now": now.isoformat(), "feeds": rows}


def install(server: Flask, pool: ConnectionPool, settings: Settings) -> None:
    """Add ``GET /api/freshness`` to the pages' server, and the callbacks' gate while the store is down."""
    watch = StoreWatch()

    def gate() -> Response | None:
        if watch.down and request.method == "POST" and request.path.endswith("/_dash-update-component"):
            return Response(status=204)  # Dash's "no update": the banner says why
        return None

    # first of the checks: a callback is turned away before anything (the login's session lookup
    # included) waits on the dead store; "no update" changes nothing, so no CSRF token is needed
    server.before_request_funcs.setdefault(None, []).insert(0, gate)

    @server.route("/api/freshness", endpoint="ioc_freshness")
    def freshness() -> Response:
        doc = freshness_document(pool, settings, page_language(settings), watch)
        return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})
