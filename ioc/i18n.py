"""The message catalogue: every user-facing text in Vietnamese and English, Babel/gettext style.

Texts live in gettext catalogues, ``ioc/locales/<lang>/LC_MESSAGES/<domain>.po``, one domain per
package that owns texts (``ioc`` for the core and CLI, ``alerts``, ``dashboards``, one per feed...).
The message id is the English text (gettext's convention), so English needs no catalogue entry and a
missing Vietnamese entry falls back to English rather than to nothing. Catalogues are read with
Babel at first use; no compile step. Parameters are ``str.format`` fields: ``{camera}``.

Dates, times and numbers are formatted with Babel in the locale's form and the city's time zone.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as _babel_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_decimal
from babel.numbers import get_decimal_symbol, get_group_symbol, get_minus_sign_symbol

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES: tuple[str, ...] = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
#: the Babel locale of each language's dates (numbers are the same in ``en`` and ``en_GB``)
BABEL_LOCALES: dict[str, str] = {"vi": "vi", "en": "en_GB"}


def language(value: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """A supported language code from a request's value (``vi``, ``en``, ``en-GB``...), else ``default``."""
    if value:
        code = value.strip().lower().replace("_", "-").split("-", 1)[0]
        if code in LANGUAGES:
            return code
    return default


def _catalogue(domain: str, lang: object) -> dict[str, Any]:
    """``domain``'s messages in ``lang``; none for a language that is not one of :data:`LANGUAGES`
    (a page's callback may be handed any value as its language: it never names a path)."""
    return _read_catalogue(domain, str(lang)) if lang in LANGUAGES else {}


@lru_cache(maxsize=64)
def _read_catalogue(domain: str, lang: str) -> dict[str, Any]:
    path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=domain)
    out: dict[str, Any] = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        out[key] = message.string
    return out


def gettext(domain: str, message: str, lang: str, **params: Any) -> str:
    """``message`` (its English text) in ``lang``, with ``params`` filled in."""
    text = _catalogue(domain, lang).get(message, message) if lang != "en" else message
    if isinstance(text, tuple):  # a plural entry asked for in the singular
        text = text[0] or message
    return text.format(**params) if params else text


def ngettext(domain: str, singular: str, plural: str, n: int, lang: str, **params: Any) -> str:
    """The singular or plural form for ``n`` in ``lang`` (Vietnamese has one form)."""
    english = singular if n == 1 else plural
    forms = _catalogue(domain, lang).get(singular) if lang != "en" else None
    if isinstance(forms, tuple) and forms and forms[0]:
        text = forms[0] if lang == "vi" or len(forms) == 1 else forms[0 if n == 1 else 1]
    else:
        text = english
    return text.format(n=n, **params)


def format_time(value: datetime, lang: str, tz: str, pattern: str = "medium") -> str:
    """A time in the city's zone, in the locale's form (``pattern``: short, medium, long, or a Babel one);
    English in the British form (``09/12/2026, 07:00``), never the American ``12/9/26, 7:00 AM``."""
    local = value.astimezone(ZoneInfo(tz))
    return _babel_datetime(local, format=pattern, locale=BABEL_LOCALES.get(lang, lang))


def format_number(value: float, lang: str, digits: int = 1) -> str:
    """A number in the locale's form (``1.234,5`` in Vietnamese, ``1,234.5`` in English)."""
    return _babel_decimal(round(value, digits), format=f"#,##0.{'#' * digits}" if digits else "#,##0",
                          locale=lang)


class LocalNumber(float):
    """A fractional number that writes itself in a language's form, with a format spec or without
    (``{value}`` -> ``26,9``; ``{value:.1f}`` -> ``26,9`` too), so a template an operator wrote with a
    spec reads as the language writes numbers."""

    lang: str

    def __new__(cls, value: float, lang: str) -> LocalNumber:
        number = super().__new__(cls, value)
        number.lang = lang
        return number

    def __format__(self, spec: str) -> str:
        if not spec:
            return format_number(float(self), self.lang, 3)
        marks = number_marks(BABEL_LOCALES.get(self.lang, self.lang))
        return float.__format__(float(self), spec).translate(marks)


@lru_cache(maxsize=16)
def number_marks(locale: str) -> dict[int, str]:
    """Python's number marks (``,`` ``.`` ``-``) to the locale's (CLDR, from Babel), for ``str.translate``.

    Python's own formatting with the locale's marks writes a plain grouped decimal as Babel's
    ``format_decimal`` does, at a fiftieth of its cost (the sea map formats a few numbers for each of
    2,000 vessels on every refresh)."""
    return str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale),
                          "-": get_minus_sign_symbol(locale)})


#: fields that hold canonical terms, not names: a camera's object classes (``person/car``, the
#: detector's COCO labels). Each ``/``-separated term is said in the reader's language through the
#: message's own catalogue; the stored alert keeps the canonical class.
TERM_FIELDS: frozenset[str] = frozenset({"labels", "label"})

#: a message's field naming, for some of its other fields, the catalogue domain their whole value is
#: said through: ``{"category": "Street light out", "_terms": {"category": "reports311"}}`` shows
#: "Đèn đường hỏng" in Vietnamese while the stored alert keeps the configured name. The feed that
#: raises the message declares it; the core only follows it.
TERM_DOMAINS = "_terms"

#: a message's field listing its other fields that hold a time (ISO 8601 with the offset of the zone
#: to show it in, the city's, as the feed that raised the message wrote it): each is written in the
#: reader's form, ``13:38 7/11/26`` / ``07/11/2026, 13:38``, instead of the ISO text
TIME_FIELDS = "_times"

#: a message's field giving its whole text in other languages, ``{"vi": "Mực nước {area} cao"}``:
#: a title an operator wrote in the settings, in the languages written there (a language not
#: written reads the message's own text)
TEXT_FORMS = "_forms"


def terms(value: str, domain: str, lang: str) -> str:
    """``person/car`` in ``lang``: each term through ``domain``'s catalogue (``người/ô tô``)."""
    return "/".join(gettext(domain, part, lang) if part else part for part in value.split("/"))


# the characters that set the direction of the text after them (marks, embeddings, overrides,
# isolates): in a field filled from outside data (an IDS signature, a department) an unclosed U+202E
# reversed the rest of the message, the template's own words and a source address included
_DIRECTIONAL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ISOLATES = re.compile("[\u2066-\u2069]")


def isolated(value: str) -> str:
    """``value`` as a field of a message: one holding direction controls is wrapped in an isolate
    (U+2068 … U+2069, Unicode's bidirectional algorithm), which ends every embedding or override
    opened inside it, so it cannot turn the text around it; its own isolate characters are dropped,
    so none of them closes the wrapper early. Other text is left as it is."""
    if not _DIRECTIONAL.search(value):
        return value
    return "\u2068" + _ISOLATES.sub("", value) + "\u2069"


def localized(params: dict[str, Any] | None, lang: str, domain: str | None = None) -> dict[str, Any]:
    """A message's fields with their fractional numbers (floats) in ``lang``'s form: ``1,5`` in
    Vietnamese. Whole numbers (``int``: an MMSI, a count) and names are left as they are; with a
    ``domain``, the terms of :data:`TERM_FIELDS` are translated through it, and the fields named in
    :data:`TERM_DOMAINS` through the domain named there; the times of :data:`TIME_FIELDS` in its form."""
    out: dict[str, Any] = {}
    named = (params or {}).get(TERM_DOMAINS)
    named = named if isinstance(named, dict) else {}
    times = (params or {}).get(TIME_FIELDS)
    times = set(times) if isinstance(times, list) else set()
    for k, v in (params or {}).items():
        if isinstance(v, float):
            v = LocalNumber(v, lang)
        elif k in times and isinstance(v, str):
            v = _time_text(v, lang)
        elif isinstance(v, str) and isinstance(named.get(k), str):
            v = gettext(named[k], v, lang)
        elif domain and k in TERM_FIELDS and isinstance(v, str):
            v = terms(v, domain, lang)
        out[k] = isolated(v) if isinstance(v, str) else v
    return out


def _time_text(value: str, lang: str) -> str:
    """An ISO 8601 time with its offset in ``lang``'s short form, in that offset; as it is if not one."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is None:
        return value
    return _babel_datetime(when, "short", locale=BABEL_LOCALES.get(lang, lang))


def render(domain: str, template: str | None, params: dict[str, Any] | None, lang: str, fallback: str) -> str:
    """A stored message (``template`` with ``params``) in ``lang``; ``fallback`` when there is no template
    or it does not fill (a field missing, a translation broken): a stored text never fails to show.
    Fractional numbers among the fields are written in the language's form, object classes in its
    words (:func:`localized`); a text of its own in ``lang`` (:data:`TEXT_FORMS`) comes first."""
    if not template:
        return fallback
    forms = (params or {}).get(TEXT_FORMS)
    try:
        if isinstance(forms, dict) and isinstance(forms.get(lang), str):
            return str(forms[lang]).format(**localized(params, lang, domain))
        return gettext(domain, template, lang, **localized(params, lang, domain))
    except (KeyError, IndexError, ValueError, AttributeError):
        try:
            return template.format(**{k: isolated(v) if isinstance(v, str) else v
                                      for k, v in (params or {}).items()})
        except (KeyError, IndexError, ValueError, AttributeError):
            return fallback


class Translator:
    """``gettext`` bound to one domain: ``t = Translator("dashboards"); t("Alerts", lang)``."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    def __call__(self, message: str, lang: str, **params: Any) -> str:
        return gettext(self.domain, message, lang, **params)

    def plural(self, singular: str, plural: str, n: int, lang: str, **params: Any) -> str:
        return ngettext(self.domain, singular, plural, n, lang, **params)


#: pydantic's commonest reasons for refusing a value (its error ``type``) as catalogue messages
#: (domain ``ioc``) with the error's context fields; any other reason stays pydantic's English
VALIDATION_REASONS: dict[str, str] = {
    "missing": "Field required",
    "extra_forbidden": "Extra inputs are not permitted",
    "int_type": "Input should be a valid integer",
    "int_parsing": "Input should be a valid integer",
    "int_from_float": "Input should be a valid integer",
    "float_type": "Input should be a valid number",
    "float_parsing": "Input should be a valid number",
    "string_type": "Input should be a valid string",
    "bool_type": "Input should be a valid boolean",
    "bool_parsing": "Input should be a valid boolean",
    "list_type": "Input should be a valid list",
    "dict_type": "Input should be a valid dictionary",
    "model_type": "Input should be a valid dictionary",
    "greater_than": "Input should be greater than {gt}",
    "greater_than_equal": "Input should be greater than or equal to {ge}",
    "less_than": "Input should be less than {lt}",
    "less_than_equal": "Input should be less than or equal to {le}",
    "literal_error": "Input should be {expected}",
}


def validation_reason(error: Any, lang: str) -> str:
    """Why pydantic refused a value (one of ``ValidationError.errors()``), in ``lang`` where the
    catalogue says it, bounds in the language's number form; pydantic's English text otherwise."""
    template = VALIDATION_REASONS.get(error.get("type", ""))
    if lang == "en" or template is None:
        return str(error["msg"])
    ctx = {k: format_number(v, lang, 3) if type(v) in (int, float) else str(v)
           for k, v in (error.get("ctx") or {}).items()}
    try:
        return gettext("ioc", template, lang, **ctx)
    except (KeyError, IndexError):
        return str(error["msg"])


class Worded(Exception):
    """An error whose text is a catalogue message (of :attr:`domain`) with its fields: ``str()`` is the
    English text (what logs and dead letters keep), :meth:`said` the text in a language. A field that
    has its own ``said`` (another worded error, a list of reasons) is said in that language too. With
    no fields the template is the text as it is (a composed English text passes through)."""

    domain = "ioc"

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__(template.format(**params) if params else template)
        self.template, self.params = template, params

    def said(self, lang: str) -> str:
        params = {k: v.said(lang) if callable(getattr(v, "said", None)) else v
                  for k, v in self.params.items()}
        return gettext(self.domain, self.template, lang, **params)
