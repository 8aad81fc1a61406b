"""What every answer of the web server carries for safety.

- What to believe of a reverse proxy is :class:`ioc.http_proxies.ProxyTrust` (the web role's
  ``web.trusted_proxies``; the Open311 intake has its own).
- :class:`SecurityHeaders`: a Content Security Policy (scripts from this site
  and the Dash pages' own inline scripts by their hashes; framing by this site
  only (a screen's grid of pages), no plugins, forms and fetches to this site only; blob: workers for the sea
  map), ``X-Content-Type-Options: nosniff``, a ``Referrer-Policy`` and
  ``X-Frame-Options`` for old browsers; :meth:`SecurityHeaders.no_store` for an answer no cache may
  keep (anything a logged-in request was answered: a control room's browser is shared by shifts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import Response


def origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of ``url`` (a tile server, say), or None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class SecurityHeaders:
    """The headers every response gets; the pages' inline scripts are allowed by their hashes."""

    def __init__(self, extra_origins: Sequence[str] = ()) -> None:
        self.extra = " ".join(o for o in extra_origins if o)
        self.pages: list[Any] = []  # Dash apps whose inline scripts the policy allows
        self._policy: str | None = None

    def allow_pages(self, *apps: Any) -> None:
        """Allow the inline scripts (config, renderer, clientside callbacks) of these Dash apps."""
        self.pages.extend(apps)
        self._policy = None

    def policy(self) -> str:
        if self._policy is None:
            hashes = sorted({h for app in self.pages for h in app.csp_hashes()})
            extra = f" {self.extra}" if self.extra else ""
            directives = {
                "default-src": "'self'",
                "script-src": " ".join(["'self'", *hashes]),
                "style-src": "'self' 'unsafe-inline'",  # Plotly and AG Grid set inline styles
                "img-src": f"'self' data: blob:{extra}",
                "font-src": "'self' data:",
                "connect-src": f"'self'{extra}",
                "worker-src": "'self' blob:",  # the sea map's MapLibre workers
                "child-src": "'self' blob:",
                "object-src": "'none'",
                "base-uri": "'self'",
                "form-action": "'self'",
                "frame-ancestors": "'self'",  # a screen of the room frames this site's pages, no one else
            }
            self._policy = "; ".join(f"{k} {v}" for k, v in directives.items())
        return self._policy

    def apply(self, response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", self.policy())
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "SAMEORIGIN")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response

    @staticmethod
    def no_store(response: Response) -> Response:
        """Keep ``response`` out of every cache, the browser's own included (what a route said about
        its caching, ``private, max-age`` of a photo say, is replaced)."""
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
        return response
