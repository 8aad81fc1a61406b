"""A page callback request that Dash or the page cannot use is refused (400), not a server error.

Dash trusts the requests its renderer sends. A forged ``_dash-update-component`` request (an output
with no server callback, inputs that do not match the callback's, a list where the page keeps a
dict, a number where it keeps a language code) raised inside Dash or inside the page's callback and
was answered ``500``, with a traceback in the log for each. Such a failure is answered
``400 Bad request`` in the page's language, with one line in the log that names the callback and
the error. The store not answering stays a ``500`` (the page's banner says the store is down), and a
failure of any other route is logged with its traceback and answered ``500`` as before.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from dashboards.i18n import http_text, page_language
from dashboards.request_body import DISPATCH, json_body
from ioc.store.errors import STORE_UNAVAILABLE

log = logging.getLogger(__name__)



def requested_output() -> str:
    """The ``output`` the callback request names (whatever the body holds), for the log line."""
    body = json_body()
    output = body.get("output") if isinstance(body, dict) else None
    return output[:160] if isinstance(output, str) else repr(type(output).__name__)


def install(server: Flask, language: str) -> None:
    """Answer an exception raised while serving ``server``'s routes as the module says."""
    if getattr(server, "_ioc_refusals_installed", False):
        return
    server._ioc_refusals_installed = True  # type: ignore[attr-defined]

    @server.errorhandler(Exception)  # HTTPExceptions go to their own, more specific handler
    def failed(exc: Exception) -> Response:
        if request.path.endswith(DISPATCH) and not isinstance(exc, STORE_UNAVAILABLE):
            status = 400
            log.warning("callback request refused: %s %s: %s: %s", request.path, requested_output(),
                        type(exc).__name__, str(exc)[:200])
        else:
            status = 500
            server.log_exception((type(exc), exc, exc.__traceback__))
        return Response(http_text(status, page_language(language)), status=status, mimetype="text/plain")
