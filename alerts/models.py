"""The records the alerts service hands out: alerts, their history, silences, filters, shift figures.

Plain frozen dataclasses, one per row shape; ``ALERT_COLUMNS`` and
``SILENCE_COLUMNS`` list their fields in column order, so ``Alert(*row)``
reads a row selected with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.links import data_link, feed_of
from ioc.i18n import LANGUAGES, render

ChangeAction = Literal["raised", "repeated", "resolved", "ignored", "reopened", "silenced", "held"]


@dataclass(frozen=True)
class AlertChange:
    """What one signal did to the store."""

    action: ChangeAction
    alert_id: int | None


@dataclass(frozen=True)
class Alert:
    """An alert with everything the console shows and the lifecycle needs."""

    id: int
    fingerprint: str
    detector: str
    rule: str
    source_id: str
    area: str | None
    severity: str
    title: str
    state: str
    started_at: datetime
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    details: dict[str, Any]
    version: int
    incident_id: int | None
    assignee: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    silence_id: int | None
    silenced_until: datetime | None
    reopened_count: int
    title_template: str | None = None  # the title as an ``alerts`` catalogue message, and its fields
    title_params: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state != "resolved"

    def title_in(self, lang: str) -> str:
        """The title in ``lang``: rendered from its template and fields, else the stored English."""
        return render("alerts", self.title_template, self.title_params, lang, self.title)

    @property
    def feed(self) -> str:
        return feed_of(self.detector, self.details)

    @property
    def link(self) -> tuple[str, str] | None:
        """(label, URL) of the data that raised it: the chart, the vessel, the camera frame, the events."""
        return data_link(self.detector, self.source_id, self.details, self.last_seen, self.id)

    def summary(self) -> dict[str, Any]:
        """The alert as the JSON of a notification."""
        link = self.link
        return {
            "id": self.id,
            "title": self.title,
            "titles": {lang: self.title_in(lang) for lang in LANGUAGES},
            "severity": self.severity,
            "state": self.state,
            "detector": self.detector,
            "rule": self.rule,
            "source_id": self.source_id,
            "area": self.area,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "feed": self.feed,
            "link": link[1] if link else None,
            "incident_id": self.incident_id,
        }


ALERT_COLUMNS = ", ".join(f.name for f in Alert.__dataclass_fields__.values())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditEntry:
    """One row of an alert's history."""

    id: int
    alert_id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    details: dict[str, Any]


class History(list[AuditEntry]):
    """An alert's latest audit rows, oldest first; ``earlier``: how many older ones were left out."""

    def __init__(self, entries: list[AuditEntry] | tuple[AuditEntry, ...] = (), earlier: int = 0) -> None:
        super().__init__(entries)
        self.earlier = earlier


@dataclass(frozen=True)
class Silence:
    """Suppresses raising for alerts matching every matcher that is set, from ``starts_at`` to ``ends_at``."""

    id: int
    detector: str | None
    source_id: str | None
    area: str | None
    severity: str | None
    fingerprint: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None
    matched: int

    def active(self, now: datetime) -> bool:
        return self.expired_at is None and self.starts_at <= now < self.ends_at

    def describe(self) -> str:
        """``detector=threshold, source=hue-air-1`` (the matchers that are set)."""
        parts = [
            f"{k}={v}"
            for k, v in (
                ("detector", self.detector),
                ("source", self.source_id),
                ("area", self.area),
                ("severity", self.severity),
                ("fingerprint", self.fingerprint),
            )
            if v
        ]
        return ", ".join(parts)


SILENCE_COLUMNS = ", ".join(Silence.__dataclass_fields__)  # type: ignore[attr-defined]


#: the most values one field of an :class:`AlertFilter` may list (there are not that many feeds,
#: severities or states; a screen picks a few areas)
MAX_FILTER_VALUES = 50


@dataclass(frozen=True)
class AlertFilter:
    """What the console asks for; empty means any. Each field lists at most :data:`MAX_FILTER_VALUES`
    values (:class:`ValueError` otherwise): a filter is a short question, never a bulk lookup."""

    feeds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    since: datetime | None = None  # last seen at or after
    limit: int = 500

    def __post_init__(self) -> None:
        for name in ("feeds", "severities", "states", "areas"):
            values = getattr(self, name)
            if len(values) > MAX_FILTER_VALUES:
                raise ValueError(f"an alert filter lists at most {MAX_FILTER_VALUES} {name}, "
                                 f"not {len(values)}")


@dataclass(frozen=True)
class ShiftFigures:
    """The current shift on one line: what is open, and how fast the shift answers."""

    shift_start: datetime
    shift_end: datetime
    open_by_severity: dict[str, int]
    unacknowledged: int
    raised: int
    acknowledged: int
    mean_time_to_acknowledge: timedelta | None
    resolved: int
    mean_time_to_resolve: timedelta | None
    notifications_failed: int
    silences_active: int
