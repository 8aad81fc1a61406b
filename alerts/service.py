"""The alerts service: one object for everything the alerts table does, made of four smaller ones.

:class:`AlertService` shares one store pool, one :class:`AlertSettings` and
one clock between the parts that do the work, each in its own module:

- :mod:`alerts.intake`: detector signals become alerts (dedupe by
  fingerprint, the flapping damper, grouping into incidents, silences held);
- :mod:`alerts.transitions`: people's actions (acknowledge, assign, resolve,
  silence, unsilence, reopen, comment) with role checks, compare-and-set
  versioning and an audit row each;
- :mod:`alerts.silences`: silences created, ended and listed;
- :mod:`alerts.reads`: what the console asks (alerts by filter, history,
  notifications, shift figures).

The records it returns are in :mod:`alerts.models`, the refusals it raises in
:mod:`alerts.lifecycle`, and the bus loop that feeds it in :mod:`alerts.consumer`;
all are re-exported here so ``from alerts.service import ...`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from psycopg_pool import ConnectionPool

from alerts.consumer import AlertSignalConsumer
from alerts.intake import SignalIntake
from alerts.ledger import Clock, utcnow
from alerts.lifecycle import (
    SYSTEM_ACTOR,
    Actor,
    AlertError,
    AlertNotFound,
    NotAllowed,
    NoteRequired,
    StaleAlertError,
    TransitionRefused,
)
from alerts.models import (
    ALERT_COLUMNS,
    Alert,
    AlertChange,
    AlertFilter,
    AuditEntry,
    ShiftFigures,
    Silence,
)
from alerts.reads import AlertReads, current_shift
from alerts.settings import AlertSettings
from alerts.silences import Silences
from alerts.transitions import Transitions, actions_for
from ioc.events import AlertSignal

__all__ = [
    "ALERT_COLUMNS",
    "Actor",
    "Alert",
    "AlertChange",
    "AlertError",
    "AlertFilter",
    "AlertNotFound",
    "AlertService",
    "AlertSignalConsumer",
    "AuditEntry",
    "NoteRequired",
    "NotAllowed",
    "ShiftFigures",
    "Silence",
    "StaleAlertError",
    "TransitionRefused",
    "SYSTEM_ACTOR",
    "actions_for",
    "current_shift",
]


class AlertService:
    """Owns the alerts table: raising, deduplicating and resolving from signals; people's actions."""

    def __init__(
        self, pool: ConnectionPool, settings: AlertSettings | None = None, clock: Clock = utcnow
    ) -> None:
        self.pool = pool
        self.settings = settings or AlertSettings()
        self.clock = clock
        self.intake = SignalIntake(pool, self.settings, clock)
        self.transitions = Transitions(pool, self.settings, clock)
        self.silencing = Silences(pool, self.settings, clock)
        self.reads = AlertReads(pool, self.settings, clock)

    # -- detector side: alerts.intake ------------------------------------------------
    def apply(self, signal: AlertSignal) -> AlertChange:
        """Apply one detector signal in its own transaction."""
        return self.intake.apply(signal)

    def apply_many(self, signals: Sequence[AlertSignal]) -> list[AlertChange]:
        """Apply signals in order, in one transaction."""
        return self.intake.apply_many(signals)

    def settle_flapping(self) -> int:
        """Resolve flapping alerts held open whose condition has been clear for the window."""
        return self.intake.settle_flapping()

    # -- people's actions: alerts.transitions ---------------------------------------
    def acknowledge(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """open/reopened -> acknowledged; stops escalation. Of two officers at once, one wins."""
        return self.transitions.acknowledge(alert_id, actor, note, expected_version)

    def assign(
        self, alert_id: int, actor: Actor, assignee: str, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """Give the alert to an active console user (acknowledging it, if nobody had)."""
        return self.transitions.assign(alert_id, actor, assignee, note, expected_version)

    def resolve(self, alert_id: int, actor: Actor, note: str, expected_version: int | None = None) -> Alert:
        """Close the alert by hand (a note is required). A condition still present re-fires as reopened."""
        return self.transitions.resolve(alert_id, actor, note, expected_version)

    def silence(
        self,
        alert_id: int,
        actor: Actor,
        until: datetime,
        note: str,
        scope: Literal["alert", "source"] = "alert",
        expected_version: int | None = None,
    ) -> Alert:
        """Silence this alert until ``until`` (its fingerprint, or with ``scope="source"`` its
        detector and source)."""
        return self.transitions.silence(alert_id, actor, until, note, scope, expected_version)

    def unsilence(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """End this alert's silence now: it returns to where it was (open alerts escalate from now)."""
        return self.transitions.unsilence(alert_id, actor, note, expected_version)

    def reopen(
        self, alert_id: int, actor: Actor, note: str = "", expected_version: int | None = None
    ) -> Alert:
        """resolved -> reopened by hand (resolved by mistake); it needs acknowledging again."""
        return self.transitions.reopen(alert_id, actor, note, expected_version)

    def comment(self, alert_id: int, actor: Actor, note: str) -> AuditEntry:
        """Add a note to the alert's history without changing it (operators and above)."""
        return self.transitions.comment(alert_id, actor, note)

    def acknowledge_incident(self, incident_id: int, actor: Actor, note: str = "") -> list[Alert]:
        """Acknowledge every unacknowledged alert of an incident; those others got to first are skipped."""
        return self.transitions.acknowledge_incident(incident_id, actor, note)

    # -- silences: alerts.silences --------------------------------------------------
    def create_silence(
        self,
        actor: Actor,
        *,
        reason: str,
        ends_at: datetime,
        starts_at: datetime | None = None,
        detector: str | None = None,
        source_id: str | None = None,
        area: str | None = None,
        severity: str | None = None,
        fingerprint: str | None = None,
    ) -> Silence:
        """A silence on the given matchers; alerts already active that match are silenced too."""
        return self.silencing.create_silence(
            actor,
            reason=reason,
            ends_at=ends_at,
            starts_at=starts_at,
            detector=detector,
            source_id=source_id,
            area=area,
            severity=severity,
            fingerprint=fingerprint,
        )

    def expire_silence(self, silence_id: int, actor: Actor, note: str = "") -> Silence:
        """End a silence now; the alerts it held come back (and escalate from now)."""
        return self.silencing.expire_silence(silence_id, actor, note)

    def end_expired_silences(self) -> int:
        """Alerts whose silence has run out come back (system); returns how many."""
        return self.silencing.end_expired_silences()

    def silences(self, include_ended: bool = False, limit: int = 100) -> list[Silence]:
        """Silences, newest first; only those not yet ended unless ``include_ended``."""
        return self.silencing.silences(include_ended, limit)

    # -- reading: alerts.reads ------------------------------------------------------
    def get(self, alert_id: int) -> Alert:
        """One alert; :class:`AlertNotFound` if there is none."""
        return self.reads.get(alert_id)

    def history(self, alert_id: int) -> list[AuditEntry]:
        """The alert's audit trail, oldest first."""
        return self.reads.history(alert_id)

    def alerts(self, flt: AlertFilter | None = None) -> list[Alert]:
        """Alerts for the console: active ones first (worst, then newest), then the rest by last seen."""
        return self.reads.alerts(flt)

    def incident_alerts(self, incident_id: int) -> list[Alert]:
        """Every alert of one incident, newest first."""
        return self.reads.incident_alerts(incident_id)

    def areas(self) -> list[str]:
        """Areas alerts were raised in, for the console's filter."""
        return self.reads.areas()

    def notifications_of(self, alert_id: int) -> list[dict[str, Any]]:
        """The notifications sent (or failing) about one alert, newest first."""
        return self.reads.notifications_of(alert_id)

    def failed_notifications(self, limit: int = 10) -> list[dict[str, Any]]:
        """Notifications that gave up, newest first."""
        return self.reads.failed_notifications(limit)

    def console_notices(self, after_id: int = 0, limit: int = 20) -> list[dict[str, Any]]:
        """Console-channel notices newer than ``after_id``."""
        return self.reads.console_notices(after_id, limit)

    def shift_figures(self, tz: ZoneInfo | str = "UTC") -> ShiftFigures:
        """Open alerts by severity, and mean times to acknowledge and to resolve in the current shift."""
        return self.reads.shift_figures(tz)
