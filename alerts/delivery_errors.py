"""Why a notification was not delivered, as a catalogue message the console shows in its reader's language.

A channel's failure is stored in English (``notifications.last_error``, ``notification_attempts.error``:
what logs and the attempts' record keep). Each is one of :data:`TEMPLATES` (domain ``alerts``)
filled with its fields; :func:`delivery_error_in` reads the fields back out of a stored text and says
it in the reader's language. The fields themselves (an HTTP reason phrase, the operating system's
"Connection refused") stay as the far end or the system said them; a text that matches no template
(stored by an older version) is shown as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ioc.i18n import gettext

NOT_A_URL = "the webhook URL of channel {channel} is not a URL"
HTTP_REASON = "HTTP {status} {reason} from {where}"
HTTP_STATUS = "HTTP {status} from {where}"
UNREACHABLE = "cannot reach {where}: {reason}"
NO_ADDRESS = "no email address configured for {recipient}"
SMTP_FAILED = "SMTP {server}: {reason}"
NO_CHANNEL = "no notification channel named {channel} is configured"
#: a webhook's 3xx: never followed; ``location`` is the new place's scheme and host only
REDIRECTED = "{where} redirected to {location} (HTTP {status}); redirects are not followed"
#: a send past its channel's deadline (connecting and the whole answer); ``where``: a URL or "SMTP host:port"
NO_ANSWER = "no answer from {where} within {seconds} s"
#: a mail that cannot be written (a header with a line break in it): it would fail on every retry
UNWRITABLE = "the e-mail to {recipient} cannot be written: {reason}"

#: every delivery error a channel or the sender records, most specific first
TEMPLATES: tuple[str, ...] = (NOT_A_URL, REDIRECTED, NO_ANSWER, UNWRITABLE, HTTP_REASON, HTTP_STATUS,
                              UNREACHABLE, NO_ADDRESS, SMTP_FAILED, NO_CHANNEL)

_FIELD = re.compile(r"\{(\w+)\}")
_FIELD_PATTERN = {"status": r"\d{3}", "reason": ".*?"}


def said(template: str, **params: Any) -> str:
    """A delivery error's English text, as it is stored and logged."""
    return template.format(**params)


@lru_cache(maxsize=len(TEMPLATES))
def _pattern(template: str) -> re.Pattern[str]:
    parts, at = [], 0
    for m in _FIELD.finditer(template):
        parts.append(re.escape(template[at:m.start()]))
        parts.append(f"(?P<{m.group(1)}>{_FIELD_PATTERN.get(m.group(1), '.+?')})")
        at = m.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts), re.S)


def delivery_error_in(text: str | None, lang: str) -> str:
    """A stored delivery error in ``lang`` (``""`` for none)."""
    if not text or lang == "en":
        return text or ""
    for template in TEMPLATES:
        m = _pattern(template).fullmatch(text)
        if m:
            return gettext("alerts", template, lang, **m.groupdict())
    return text
