"""What a console request may ask, checked before anything reads the store or acts.

The console's callbacks are posted by the browser, so any value can arrive: a filter listing
400,000 areas, an alert id of ``1.5``, an assignee that is a dict, a silence "for 999y". Every value
is checked against what the page itself offers; one no page of ours sends is refused with
:class:`BadRequest`, which the pages' refusal handler (:mod:`dashboards.callback_refusals`) answers
``400 Bad request`` with one line in the log. Nothing is dropped or guessed silently: a screen
whose request is refused shows nothing new rather than something it did not ask for.

The grid's filters: feeds from :data:`alerts.links.FEEDS`, severities and states of the lifecycle,
areas the store knows alerts in (the page offers those; alerts are never deleted, so an area a page
offered stays known), a time window of :data:`~dashboards.console.view.TIME_WINDOWS`; each lists at
most :data:`~alerts.models.MAX_FILTER_VALUES` values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from alerts.lifecycle import STATES
from alerts.links import FEEDS
from alerts.models import MAX_FILTER_VALUES
from dashboards.console.view import SILENCE_CHOICES, TIME_WINDOWS

SEVERITIES = ("critical", "warning", "info")
SCOPES = ("alert", "source")
MAX_ID = 2**63 - 1  # the store's ids are bigint
MAX_NAME_CHARS = 256  # an area or a user's name


class BadRequest(ValueError):
    """A console request no page of ours sends: refused (``400``), never acted on."""


def _values(value: Any, name: str, allowed: Collection[str] | None = None) -> tuple[str, ...]:
    """A multi-choice filter's values (deduplicated, in order): a list of at most
    :data:`MAX_FILTER_VALUES` strings, each one of ``allowed`` when given."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest(f"{name}: a list, not {type(value).__name__}")
    if len(value) > MAX_FILTER_VALUES:
        raise BadRequest(f"{name}: at most {MAX_FILTER_VALUES} values, not {len(value)}")
    for v in value:
        if not isinstance(v, str) or len(v) > MAX_NAME_CHARS:
            raise BadRequest(f"{name}: a value that is no name: {str(v)[:40]!r}")
        if allowed is not None and v not in allowed:
            raise BadRequest(f"{name}: no such value {v[:40]!r}")
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class GridAsk:
    """The grid's filters as a screen asks them, checked."""

    feeds: tuple[str, ...]
    severities: tuple[str, ...]
    states: tuple[str, ...]
    areas: tuple[str, ...]
    window: str
    by_incident: bool

    @property
    def key(self) -> tuple[Any, ...]:
        """The key screens asking the same share a read by (small: the values are checked)."""
        return ("grid", self.feeds, self.severities, self.states, self.areas, self.window)


def grid_ask(
    feeds: Any, severities: Any, states: Any, areas: Any, window: Any, group: Any,
    known_areas: Callable[[bool], Collection[str]],
) -> GridAsk:
    """The grid's filters checked; ``known_areas(fresh)`` the areas the store knows alerts in (asked
    only when the screen filters by area, ``fresh`` to look again before refusing one)."""
    if window is None:
        window = "24h"
    if not isinstance(window, str) or window not in TIME_WINDOWS:
        raise BadRequest(f"f-time: no such window {str(window)[:40]!r}")
    ask = GridAsk(
        feeds=_values(feeds, "f-feed", FEEDS),
        severities=_values(severities, "f-severity", SEVERITIES),
        states=_values(states, "f-state", STATES),
        areas=_values(areas, "f-area"),
        window=window,
        by_incident="group" in _values(group, "f-group", ("group",)),
    )
    if ask.areas:  # the one check that reads the store, last
        known = known_areas(False)
        if not set(ask.areas) <= set(known):  # an area new since the last shared read: look again
            _values(list(ask.areas), "f-area", known_areas(True))
    return ask


def alert_id(value: Any, name: str = "id") -> int:
    """An alert's (or incident's) id: an integer, or the digits of one (the grid's row ids are
    strings); ``1.5``, ``True`` or ``"1e3"`` are none."""
    if isinstance(value, bool):
        raise BadRequest(f"{name}: not an id: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        raise BadRequest(f"{name}: not an id: {str(value)[:40]!r}")
    if not 0 < number <= MAX_ID:
        raise BadRequest(f"{name}: no such id {number}")
    return number


def version(value: Any) -> int | None:
    """The alert version the screen saw, or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise BadRequest(f"version: not one: {str(value)[:40]!r}")
    return value


def text(value: Any, name: str) -> str:
    """A text field's value: a string, or nothing (``""``). What it holds is the service's to judge."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name}: text, not {type(value).__name__}")
    return value


def chosen_name(value: Any, field: str) -> str | None:
    """A chosen name (an assignee): a string of at most :data:`MAX_NAME_CHARS`, or ``None``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise BadRequest(f"{field}: not a name: {str(value)[:40]!r}")
    return value


def choice(value: Any, name: str, allowed: Collection[str]) -> str:
    """One of ``allowed`` (a dropdown that cannot be cleared)."""
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest(f"{name}: no such choice {str(value)[:40]!r}")
    return value


def silence_for(value: Any) -> str:
    """How long a silence from the console lasts: one of :data:`SILENCE_CHOICES`."""
    return choice(value, "silence-for", SILENCE_CHOICES)


def counter(value: Any) -> int:
    """The ``action-done`` counter the page keeps."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise BadRequest(f"action-done: not a count: {str(value)[:40]!r}")
    return value
