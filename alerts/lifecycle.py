"""The alert lifecycle as data: states, transitions, who may make them, and the refusals.

::

    raise ──> open ──acknowledge──> acknowledged ──assign──> assigned
                │  ╲                     │                      │
                │   ╲──assign────────────┼──────────────────────┤
                ├──silence──> silenced ──unsilence──> (back where it was)
                └────────────────────resolve────────────────────┴──> resolved
    resolved ──reopen (a person, or the same condition re-firing within the flapping window)──> reopened
    reopened behaves like open: it needs acknowledging again.

Pure logic, no database: :mod:`alerts.transitions` asks
:func:`check` before it writes, then compares-and-sets the alert's version.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ioc.i18n import format_time, gettext
from ioc.records import unkeepable

State = Literal["open", "acknowledged", "assigned", "resolved", "silenced", "reopened"]
STATES: tuple[State, ...] = ("open", "acknowledged", "assigned", "resolved", "silenced", "reopened")
UNACKNOWLEDGED: frozenset[str] = frozenset({"open", "reopened"})

Role = Literal["viewer", "operator", "duty_officer", "analyst", "admin"]
# In rank order, as the issue lists them: "duty officers and above" change alerts.
ROLES: tuple[Role, ...] = ("viewer", "operator", "duty_officer", "analyst", "admin")
SYSTEM = "system"  # the service itself (signals, escalation, silence expiry); never a login
#: the longest note a person may write on an alert (or a silence's reason), in characters; a longer
#: one is refused (:class:`NoteRefused`), never cut: the history every console shows stays small
MAX_NOTE_CHARS = 4000

# action -> (states it may start from, the state it leads to; None: decided by the alert)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "acknowledge": (frozenset({"open", "reopened"}), "acknowledged"),
    "assign": (frozenset({"open", "reopened", "acknowledged", "assigned"}), "assigned"),
    "resolve": (frozenset({"open", "reopened", "acknowledged", "assigned", "silenced"}), "resolved"),
    "silence": (frozenset({"open", "reopened", "acknowledged", "assigned"}), "silenced"),
    "unsilence": (frozenset({"silenced"}), None),
    "reopen": (frozenset({"resolved"}), "reopened"),
    "comment": (frozenset(STATES), None),
}

# the lowest role allowed to take each action
MIN_ROLE: dict[str, Role] = {
    "acknowledge": "duty_officer",
    "assign": "duty_officer",
    "resolve": "duty_officer",
    "silence": "duty_officer",
    "unsilence": "duty_officer",
    "reopen": "duty_officer",
    "comment": "operator",
    "manage_silences": "duty_officer",
    "manage_users": "admin",
    "be_assigned": "operator",  # whom an alert may be given to (a viewer cannot act on it)
}

PAST: dict[str, str] = {
    "acknowledge": "acknowledged",
    "assign": "assigned",
    "resolve": "resolved",
    "silence": "silenced",
    "unsilence": "unsilenced",
    "reopen": "reopened",
    "comment": "commented on",
    "raise": "raised",
    "escalate": "escalated",
    "remind": "reminded about",
}


class Term(str):
    """A word of the alerts' vocabulary inside a refusal (a state, an action, a role): the reader
    reads it in their language, like the sentence around it."""


class AlertError(Exception):
    """Base of the refusals of the alerts service: a catalogue message (domain ``alerts``, its
    English text the id) and its fields. ``str()`` is the English sentence (logs, the API);
    :meth:`text` the sentence in the reader's language, times in the city's zone."""

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(self.text("en"))

    def text(self, lang: str, tz: str = "UTC") -> str:
        """The refusal in ``lang``: :class:`Term` fields translated, times as ``HH:mm:ss`` in ``tz``."""
        return said(self.message, self.params, lang, tz)


def said(message: str, params: dict[str, Any], lang: str, tz: str = "UTC") -> str:
    """``message`` (an ``alerts`` catalogue message) in ``lang`` with ``params``: :class:`Term` fields
    translated, times as ``HH:mm:ss`` in ``tz``."""

    def field(value: Any) -> Any:
        if isinstance(value, Term):
            return gettext("alerts", str(value), lang)
        if isinstance(value, datetime):
            return format_time(value, lang, tz, "HH:mm:ss") + (" UTC" if tz == "UTC" else "")
        return value

    return gettext("alerts", message, lang, **{k: field(v) for k, v in params.items()})


class AlertNotFound(AlertError):
    """No alert (or silence) with that id."""


class NotAllowed(AlertError):
    """The person's role may not take this action."""


class TransitionRefused(AlertError):
    """The alert is not in a state this action starts from (e.g. already acknowledged by someone)."""


class StaleAlertError(TransitionRefused):
    """The alert changed between reading and writing it: someone else acted first."""


class NoteRequired(AlertError):
    """This action needs a note (resolve, silence): the next shift must know why."""


class NoteRefused(AlertError):
    """The note cannot be kept as written: longer than :data:`MAX_NOTE_CHARS`, or holding a character
    no stored text keeps (a NUL, a lone surrogate)."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a console user with a role, or :data:`SYSTEM`."""

    name: str
    role: Role | Literal["system"]

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM


SYSTEM_ACTOR = Actor(SYSTEM, SYSTEM)


def role_rank(role: str) -> int:
    """0 for a viewer up to 4 for an admin; the system outranks everyone; unknown roles rank -1."""
    if role == SYSTEM:
        return len(ROLES)
    return ROLES.index(role) if role in ROLES else -1  # type: ignore[arg-type]


def may(role: str, action: str) -> bool:
    """Whether ``role`` may take ``action`` (an alert action, or ``manage_silences`` / ``manage_users``)."""
    need = MIN_ROLE.get(action)
    return need is not None and role_rank(role) >= role_rank(need)


def can_change_alerts(role: str) -> bool:
    """Duty officers and above change alerts; viewers and operators only read (operators may comment)."""
    return may(role, "acknowledge")


def label(role: str) -> str:
    """``duty_officer`` -> ``duty officer``."""
    return role.replace("_", " ")


def check(
    actor: Actor, action: str, state: str, alert_id: int, last: tuple[str, str, datetime | None] | None = None
) -> None:
    """Raise unless ``actor`` may take ``action`` on an alert in ``state``.

    ``last`` is (actor, action, at) of the alert's latest audit row, used to
    say who put it in its present state ("already acknowledged by lan at 02:14").
    """
    if action not in TRANSITIONS:
        raise ValueError(f"unknown action {action!r}")
    if not actor.is_system and not may(actor.role, action):
        raise NotAllowed("{actor} ({role}) may not {action} alerts; that needs a {need} or above",
                         actor=actor.name, role=Term(label(actor.role)), action=Term(action),
                         need=Term(label(MIN_ROLE[action])))
    sources, _ = TRANSITIONS[action]
    if state not in sources:
        message, fields = refusal(action, state, alert_id, last)
        raise TransitionRefused(message, **fields)


def visible(text: str | None) -> bool:
    """Whether ``text`` holds a character one can see: not only whitespace and format characters
    (Unicode category ``Cf``: zero-width spaces and joiners, direction marks, the BOM)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text or "")


def check_note(note: str | None) -> str:
    """``note`` stripped, as it will be kept; :class:`NoteRefused` if it is longer than
    :data:`MAX_NOTE_CHARS` or holds a character no stored text keeps. An empty note is fine here."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise TypeError(f"a note is text, not {type(note).__name__}")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise NoteRefused("The note is {n} characters long; at most {max} are kept. Shorten it.",
                          n=len(note), max=MAX_NOTE_CHARS)
    bad = unkeepable(note)
    if bad is not None:
        raise NoteRefused("The note holds a character that cannot be kept ({char}); remove it.", char=bad)
    return note


def require_note(note: str | None, action: str) -> str:
    """``note`` as :func:`check_note` keeps it; :class:`NoteRequired` unless it says something (at least
    one visible character: a zero-width space alone is no note)."""
    kept = check_note(note)
    if not visible(kept):
        raise NoteRequired("Write a note to {action}: the next shift needs to know why.", action=Term(action))
    return kept


def refusal(
    action: str, state: str, alert_id: int, last: tuple[str, str, datetime | None] | None
) -> tuple[str, dict[str, Any]]:
    """Why ``action`` cannot be taken on alert ``alert_id`` in ``state``, naming who got there first:
    a catalogue message and its fields, as :class:`TransitionRefused` takes them."""
    fields: dict[str, Any] = {"id": alert_id, "state": Term(state), "action": Term(action)}
    by = ""
    if last is not None:
        actor, _last_action, at = last
        fields["actor"] = actor
        by = " by {actor}"
        if at is not None:
            fields["time"] = at
            by += " at {time}"
    if (action == "acknowledge" and state in ("acknowledged", "assigned")) or state == "resolved":
        return "Alert #{id} is already {state}" + by + ".", fields
    if action == "unsilence":
        return "Alert #{id} is not silenced (it is {state}" + by + ").", fields
    if action == "reopen":
        return "Alert #{id} is still {state}; only a resolved alert can be reopened.", fields
    return "Cannot {action} alert #{id}: it is {state}" + by + ".", fields
