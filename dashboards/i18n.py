"""The pages' language: chosen per screen (``?lang=en``, remembered in a cookie), per user, per city.

Every text of the pages goes through :data:`t` (domain ``dashboards``: the English text is the
message id, ``ioc/locales/vi/LC_MESSAGES/dashboards.po`` holds the Vietnamese). The language of a
request is, in order: the ``lang`` query of the page (a kiosk screen's URL), the ``ioc_lang``
cookie that query leaves behind (so the page's callbacks, which carry no query, follow it), the
logged-in user's preference, and the city's ``[web] language``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, Response, has_request_context, request
from werkzeug.exceptions import HTTPException

from ioc import i18n
from ioc.config import Settings

t = i18n.Translator("dashboards")
COOKIE = "ioc_lang"
COOKIE_AGE_S = 365 * 24 * 3600
BROWSER_LOCALES = {"vi": "vi-VN", "en": "en-GB"}  # what the browser's Intl formats a date with


def page_language(settings: Settings | str | None) -> str:
    """The language of the current request (see the module's docstring); ``settings`` gives the
    city's default (or is that default itself)."""
    if isinstance(settings, str):
        default = settings
    else:
        default = settings.web.language if settings is not None else i18n.DEFAULT_LANGUAGE
    if not has_request_context():
        return default
    for value in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if value and i18n.language(value, "") in i18n.LANGUAGES:
            return i18n.language(value)
    from dashboards import auth  # the user's own choice, once logged in

    who = auth.principal()
    preferred = getattr(who, "language", None)
    return i18n.language(preferred, default) if preferred else default


#: what a refused request says when nothing more is said (Werkzeug's page would be English HTML)
HTTP_TEXTS: dict[int, str] = {
    400: "Bad request.",
    401: "Log in first.",
    403: "Access denied.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "The request is too large.",
    429: "Too many requests: try again later.",
    500: "Internal error: try again later.",
    503: "Service unavailable: try again later.",
}


def http_text(code: int, lang: str) -> str:
    """``404 Không tìm thấy.``: a refused request's status and its short text in ``lang``."""
    template = HTTP_TEXTS.get(code)
    said = t(template, lang) if template else t("Error {code}.", lang, code=code)
    return f"{code} {said}"


def install(server: Flask, language: str = i18n.DEFAULT_LANGUAGE) -> None:
    """Remember a screen's ``?lang=`` in a cookie, so its callbacks answer in the same language; answer
    a refused request (a 404, a 405...) with a short text in the page's language (``language``: the
    city's), its headers (``Allow``, ``Retry-After``) kept."""
    if getattr(server, "_ioc_lang_installed", False):
        return
    server._ioc_lang_installed = True  # type: ignore[attr-defined]

    @server.errorhandler(HTTPException)
    def refused(exc: HTTPException) -> Response | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        if exc.response is not None:  # a route's own answer (``abort(response)``)
            return exc.response
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return Response(http_text(exc.code, page_language(language)), status=exc.code, headers=headers,
                        mimetype="text/plain")

    @server.after_request
    def remember_language(response: Response) -> Response:
        value = request.args.get("lang")
        if value and i18n.language(value, "") in i18n.LANGUAGES:
            response.set_cookie(COOKIE, i18n.language(value), max_age=COOKIE_AGE_S, samesite="Lax",
                                httponly=True)
        return response



def when(value: datetime, lang: str, tz: str, pattern: str = "HH:mm") -> str:
    """A time in the city's zone in ``lang``'s form (a Babel pattern: ``HH:mm``, ``short``...)."""
    return i18n.format_time(value, lang, tz, pattern)


def number(value: float, lang: str, digits: int = 0) -> str:
    return i18n.format_number(value, lang, digits)


#: the texts Dash's own dropdown shows (its ``labels``), as catalogue messages
DROPDOWN_LABELS = {"select_all": "Select All", "deselect_all": "Deselect All",
                   "selected_count": "{num_selected} selected", "search": "Search",
                   "clear_search": "Clear search", "clear_selection": "Clear selection",
                   "no_options_found": "No options found"}


def dropdown_labels(lang: str) -> dict[str, str]:
    """A ``dcc.Dropdown``'s ``labels`` in ``lang`` (Dash writes "3 selected" in English otherwise)."""
    return {key: t(text, lang) for key, text in DROPDOWN_LABELS.items()}


def clock_texts(lang: str) -> dict[str, Any]:
    """What the shared clock script needs to speak ``lang``."""
    return {"locale": BROWSER_LOCALES.get(lang, "en-GB"), "staleText": t("NO UPDATE FOR {s} s", lang)}
