"""What the console's parts share: its view of the alert service and settings, state labels, time helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from alerts.models import Alert
from alerts.people import People
from alerts.service import AlertService
from alerts.settings import AlertSettings
from dashboards.components import ALERT_STATE_LABELS
from dashboards.formats import Formats
from dashboards.i18n import t
from ioc.config import Settings
from ioc.feeds import FEEDS as REGISTERED

PREFIX = "/console/"
ACTIVE = ["open", "reopened", "acknowledged", "assigned", "silenced"]
STATE_LABELS = ALERT_STATE_LABELS
TIME_WINDOWS = {
    "1h": timedelta(hours=1),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
SILENCE_CHOICES = {
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "8h": timedelta(hours=8),
}
BUTTONS: dict[str, tuple[str, str, str]] = {  # id -> (action, label, key)
    "btn-ack": ("acknowledge", "Acknowledge", "a"),
    "btn-assign": ("assign", "Assign", "g"),
    "btn-resolve": ("resolve", "Resolve", "r"),
    "btn-silence": ("silence", "Silence", "s"),
    "btn-unsilence": ("unsilence", "Unsilence", "u"),
    "btn-reopen": ("reopen", "Reopen", "o"),
    "btn-comment": ("comment", "Add note", "c"),
}
HELP = (
    "j / k  next / previous   ·   a acknowledge   ·   g assign   ·   r resolve   ·   s silence   ·   "
    "u unsilence   ·   o reopen   ·   c add note   ·   i acknowledge whole incident   ·   "
    "n write a note (Esc to leave it)   ·   / filters"
)


@dataclass(frozen=True)
class ConsoleView:
    """What the console's layout and callbacks share."""

    service: AlertService
    people: People
    settings: Settings
    alert_settings: AlertSettings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def formats(self) -> Formats:
        """Numbers and times of the current request's language, in the city's zone."""
        return Formats.of(self.settings)

    def station_name(self, source_id: str) -> str:
        station = self.settings.station(source_id)
        return station.name if station else source_id


def fmt_duration(d: timedelta | None, lang: str = "en") -> str:
    """A mean time for the shift strip: ``—``, ``45 s``, ``3 min 20 s``, ``1 h 05``."""
    return Formats(lang, "UTC").duration(d)


#: the Feed column's short names (catalogue ids), from the feed registry
FEED_LABELS: dict[str, str] = {**{spec.name: spec.short_title or spec.title for spec in REGISTERED},
                               "other": "Other"}


def feed_label(feed: str, lang: str) -> str:
    """The short name of a feed in the grid's Feed column."""
    return t(FEED_LABELS[feed], lang) if feed in FEED_LABELS else feed


def button_label(action: str, lang: str) -> str:
    """An action button's label in ``lang``."""
    return next((t(label, lang) for a, label, _ in BUTTONS.values() if a == action), action)


def where(alert: Alert, view: ConsoleView) -> str:
    """The place of an alert as people say it: station name (or MMSI, camera) and area."""
    name = view.station_name(alert.source_id)
    if alert.feed == "vessels" and name.isdigit():
        name = f"MMSI {name}"
    if alert.area and alert.area.casefold() not in name.casefold():
        return f"{name} · {alert.area}"
    return name
