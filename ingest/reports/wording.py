"""What the Open311 intake answers a citizen's app, in the app's language.

A refusal is a catalogue message (domain ``open311``; the English text is the id) with its fields:
``str()`` is the English text the dead letter keeps, :meth:`Worded.said` the text in a language.
The language of an answer is the request's ``Accept-Language`` (``vi``, ``en``, ``vi-VN``...), else
the city's (``[web] language``); the spec's error codes stay as they are.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import LanguageAccept

from ioc import i18n
from ioc.i18n import LANGUAGES, gettext

DOMAIN = "open311"

#: what a refused HTTP request (no route, wrong method, too large...) is called, by status code
HTTP_TEXTS: dict[int, str] = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "The request is too large",
    415: "Unsupported media type",
    429: "Too many requests: try again later",
    500: "Internal error",
}


class Worded(i18n.Worded):
    """A refusal's text: a message of the ``open311`` catalogue with its fields."""

    domain = DOMAIN


def http_text(code: int, english: str, lang: str) -> str:
    """A refused HTTP request's text: Werkzeug's own in English, the status's name in another language."""
    if lang == "en":
        return english
    template = HTTP_TEXTS.get(code)
    if template is None:
        return gettext(DOMAIN, "HTTP error {code}", lang, code=code)
    return gettext(DOMAIN, template, lang)


def answer_language(accept_language: Any, default: str) -> str:
    """The language to answer in: the best of :data:`~ioc.i18n.LANGUAGES` the request accepts (Werkzeug's
    ``request.accept_languages``; ``vi-VN`` counts as ``vi``), else ``default``. A wildcard (``*``)
    names no language: it leaves the answer in ``default``, not in the first language offered."""
    named = LanguageAccept([(v, q) for v, q in accept_language or () if v != "*"])
    return named.best_match(LANGUAGES) or default
