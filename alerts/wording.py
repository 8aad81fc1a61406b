"""What a notification says, in its recipient's language.

A notification's subject and message are ``alerts`` catalogue messages (the English text is the
id) filled with the alert's title in that language, its severity in that language's words and
numbers in its form. The recipient's language is that of its console user (``[alerts.recipients.X]
user``, or a reminder's acknowledger, who is a user; ``users.language``), else
``[alerts.notifications] language`` (the city's ``[web] language`` unless set). The audit keeps the
English note and the message's template and fields, so the console's history reads in each
reader's language; the payload carries the subject in every language for the console's notices.
A subject is one line (:func:`one_line`): titles come from outside data and may hold line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from alerts.models import Alert
from alerts.settings import AlertSettings
from ioc.i18n import LANGUAGES, format_number, format_time, gettext, language, render

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: notification reason -> its subject
SUBJECTS: dict[str, str] = {
    "raised": "[{severity}] new: {title}",
    "unsilenced": "[{severity}] new: {title}",
    "reopened": "[{severity}] reopened: {title}",
    "escalation": "[{severity}] ESCALATED to {target}: {title}",
    "remind": "[{severity}] still unacknowledged: {title}",
    "remind_ack": "[{severity}] still unresolved ({recipient}): {title}",
}
#: notification reason -> its message (for escalations and reminders also the audit's note)
MESSAGES: dict[str, str] = {
    "raised": "New {severity} alert: {title}",
    "unsilenced": "New {severity} alert: {title}",
    "reopened": "Reopened {severity} alert: {title}",
    "escalation": "unacknowledged for {minutes} min: escalated to {target} ({channels})",
    "remind": "reminder {n}: still unacknowledged after {minutes} min",
    "remind_ack": "reminder {n} to {recipient}: acknowledged {minutes} min ago and still not resolved",
}
#: what an e-mail's lines about the alert are called
LABELS: dict[str, str] = {"id": "Alert", "severity": "Severity", "state": "State", "area": "Area",
                          "source_id": "Source", "rule": "Rule", "count": "Seen", "first_seen": "First seen",
                          "last_seen": "Last seen", "incident_id": "Incident", "link": "Link"}


@dataclass(frozen=True)
class Wording:
    """One notification's words: its ``reason`` (a key of :data:`SUBJECTS`), the alert, the fields."""

    reason: str
    alert: Alert
    fields: Mapping[str, Any] = field(default_factory=dict)  # target, recipient, n, minutes, channels

    def _filled(self, lang: str, upper: bool) -> dict[str, Any]:
        severity = self.alert.severity.upper() if upper else self.alert.severity
        out = {**self.fields, "severity": gettext("alerts", severity, lang),
               "title": self.alert.title_in(lang)}
        if "target" in out:
            out["target"] = recipient_name(out["target"], lang)
        if isinstance(out.get("minutes"), int | float):
            out["minutes"] = format_number(float(out["minutes"]), lang, 1)
        return out

    def subject(self, lang: str) -> str:
        """One line (a title from outside data may hold line breaks: a mail's header may not)."""
        return one_line(gettext("alerts", SUBJECTS[self.reason], lang, **self._filled(lang, upper=True)))

    def message(self, lang: str) -> str:
        return gettext("alerts", MESSAGES[self.reason], lang, **self._filled(lang, upper=False))

    def note(self) -> tuple[str, dict[str, Any]]:
        """The audit's note: the English message, and its template and fields for other readers."""
        return self.message("en"), {"note_template": MESSAGES[self.reason], "note_params": dict(self.fields)}

    def payload(self, lang: str, timezone: str) -> dict[str, Any]:
        """What the payload says in words: its message, language and zone, the subject in every language."""
        return {"message": self.message(lang), "language": lang, "timezone": timezone,
                "subjects": {code: self.subject(code) for code in LANGUAGES}}


def one_line(text: str) -> str:
    """``text`` on one line: every control character (C0, DEL, C1) and run of whitespace one space."""
    return " ".join(_CONTROLS.sub(" ", text).split())


def recipient_name(name: Any, lang: str) -> Any:
    """A recipient's display name in ``lang``: the default ones ("Shift lead") are catalogue messages;
    a configured name that is not (a person's) is said as it is."""
    return gettext("alerts", name, lang) if isinstance(name, str) and name else name


def recipient_language(conn: psycopg.Connection, settings: AlertSettings, recipient: str) -> str:
    """The language ``recipient`` reads (see the module's docstring)."""
    who = settings.recipients.get(recipient)
    user = who.user if who is not None else recipient  # a reminder's recipient is a console user
    if user:
        row = conn.execute("SELECT language FROM users WHERE name = %s", (user,)).fetchone()
        if row and row[0]:
            return language(row[0], settings.notifications.language)
    return settings.notifications.language


def noted(template: str, **params: Any) -> tuple[str, dict[str, Any]]:
    """A system note for the audit: its English text, and the details that keep its template and
    fields (``note_template``, ``note_params``) so :func:`note_in` says it in a reader's language."""
    return template.format(**params), {"note_template": template, "note_params": params}


def note_in(note: str | None, details: Mapping[str, Any] | None, lang: str, title: str | None = None) -> str:
    """An audit note as ``lang``'s reader reads it: rendered from its template when it has one
    (a ``{title}`` among its fields replaced by ``title``, the alert's title in that language)."""
    details = details or {}
    params = dict(details.get("note_params") or {})
    if title is not None and "title" in params:
        params["title"] = title
    if "target" in params:
        params["target"] = recipient_name(params["target"], lang)
    return render("alerts", details.get("note_template"), params, lang, note or "")


def email_text(message: str, payload: Mapping[str, Any]) -> str:
    """A plain-text mail body in the payload's language: the message, then the alert's facts."""
    lang = language(payload.get("language"), "en")
    tz = str(payload.get("timezone") or "UTC")
    alert = payload.get("alert") or {}
    lines = [message, ""]
    if alert.get("titles") or alert.get("title"):
        lines.append((alert.get("titles") or {}).get(lang) or alert.get("title"))
    for key, label in LABELS.items():
        value = alert.get(key)
        if value in (None, ""):
            continue
        if key in ("severity", "state"):
            value = gettext("alerts", str(value), lang)
        elif key in ("first_seen", "last_seen"):
            try:
                value = format_time(datetime.fromisoformat(str(value)), lang, tz, "medium")
            except (ValueError, TypeError):
                pass
        elif key in ("id", "incident_id"):
            value = f"#{value}"
        elif key == "count":
            value = f"×{format_number(float(value), lang, 0)}"
        lines.append(f"{gettext('alerts', label, lang)}: {value}")
    return "\n".join(str(x) for x in lines)
