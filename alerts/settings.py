"""Settings of the alert lifecycle: noise control, escalation, notification channels, people.

Plain pydantic models (no import of the rest of the project), read from the
``[alerts]`` table of the TOML settings. :func:`alert_settings` accepts
whatever the core :class:`ioc.config.Settings` carries under ``alerts`` (this
model, a dict, or nothing at all) and returns a validated
:class:`AlertSettings`, so the pieces of ``alerts/`` never depend on how the
core settings declare the field.

Example::

    [alerts]
    flapping_minutes = 10
    grouping_minutes = 30

    [[alerts.escalation]]
    severity = "critical"
    remind_every_minutes = 3
    steps = [{after_minutes = 5, notify = "shift_lead", channels = ["console", "email"]},
             {after_minutes = 15, notify = "director", channels = ["console", "email", "webhook"]}]

    [alerts.recipients.shift_lead]
    name = "Shift lead"
    email = "shift-lead@example.org"

    [[alerts.notifications.channels]]
    kind = "webhook"
    name = "webhook"
    url = "https://chat.example.org/hooks/ioc"
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from ioc.time_zones import TimeZoneName

Severity = Literal["info", "warning", "critical"]


class EscalationStep(BaseModel):
    """Notify ``notify`` (a name in :attr:`AlertSettings.recipients`) when still unacknowledged."""

    after_minutes: float = Field(gt=0)
    notify: str
    channels: list[str] = Field(default_factory=lambda: ["console"])


class EscalationPolicy(BaseModel):
    """What happens to an unacknowledged alert of one severity, as time passes.

    ``steps`` fire once each per episode (a reopened alert escalates anew);
    ``remind_every_minutes`` repeats a reminder to acknowledge while nobody
    has; ``remind_acknowledged_every_minutes`` nudges whoever acknowledged
    (or was assigned) an alert that stays unresolved. Acknowledgement stops
    the steps and the first kind of reminder.
    """

    severity: Severity
    steps: list[EscalationStep] = Field(default_factory=list)
    remind_every_minutes: float | None = Field(default=None, gt=0)
    remind_channels: list[str] = Field(default_factory=lambda: ["console"])
    remind_acknowledged_every_minutes: float | None = Field(default=None, gt=0)

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        times = [s.after_minutes for s in steps]
        if times != sorted(times):
            raise ValueError("escalation steps must be in order of after_minutes")
        return steps


class Recipient(BaseModel):
    """Someone notifications reach: a display name, an address, and/or a console user.

    ``duty`` is who hears of new alerts and reminders; escalation steps name others.
    """

    name: str = ""
    email: str | None = None
    user: str | None = None  # a console user name, shown as the one to call


class ConsoleChannelSettings(BaseModel):
    """The duty console itself: a notice with sound and flash (for critical alerts)."""

    kind: Literal["console"] = "console"
    name: str = "console"


class WebhookChannelSettings(BaseModel):
    """An HTTP POST of a JSON document; any 2xx answer counts as delivered."""

    kind: Literal["webhook"] = "webhook"
    name: str = "webhook"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=5.0, gt=0)


class EmailChannelSettings(BaseModel):
    """Mail through an SMTP server (``starttls`` and login when configured)."""

    kind: Literal["email"] = "email"
    name: str = "email"
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "ioc@localhost"
    timeout_seconds: float = Field(default=10.0, gt=0)


ChannelSettings = Annotated[
    ConsoleChannelSettings | WebhookChannelSettings | EmailChannelSettings, Field(discriminator="kind")
]


class NotificationSettings(BaseModel):
    """Channels, what is sent when an alert is raised, and how failed sends are retried."""

    channels: list[ChannelSettings] = Field(default_factory=lambda: [ConsoleChannelSettings()])
    on_raise: dict[str, list[str]] = Field(
        default_factory=lambda: {"critical": ["console"], "warning": ["console"]}
    )
    max_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=10.0, gt=0)  # first retry after this, then doubling
    backoff_max_seconds: float = Field(default=600.0, gt=0)
    send_every_seconds: float = Field(default=2.0, gt=0)
    # the language notifications are written in for a recipient without a console user who chose
    # one (alerts/wording.py); unset in [alerts.notifications]: the city's [web] language. The JSON
    # payload carries the title in every language, for a receiver that picks its own
    language: Literal["vi", "en"] = "en"

    @model_validator(mode="after")
    def _unique_names(self) -> NotificationSettings:
        names = [c.name for c in self.channels]
        if len(names) != len(set(names)):
            raise ValueError(f"notification channel names must be unique: {names}")
        return self


class AuthSettings(BaseModel):
    """People on the console: session lifetimes, login throttling, cookies, which pages need a login.

    Wrong passwords slow down whoever sends them, never the account's owner (see
    :mod:`alerts.throttle`): a client address gets ``free_tries_per_account`` tries at
    one name and ``free_tries_per_address`` at all names together, then waits
    ``delay_seconds``, doubling with every further failure up to ``max_delay_seconds``.
    Failures are forgotten after ``forget_minutes`` without one. When wrong passwords
    for one name come from ``spread_addresses`` or more addresses (a guessing
    botnet), addresses that never logged in as that user also wait, after
    ``free_tries_per_spread_account`` failures in all.
    """

    session_hours: float = Field(default=12.0, gt=0)  # a night shift and its hand-over
    idle_minutes: float = Field(default=60.0, gt=0)
    kiosk_session_hours: float = Field(default=720.0, gt=0)  # viewer accounts (the wall): 30 days
    wall_requires_login: bool = False  # the demo's wall is open; a city sets this and a kiosk account
    cameras_require_login: bool = True  # camera frames show people: a login (a kiosk account) by default
    secure_cookies: bool = False  # mark cookies Secure even on plain HTTP (HTTPS requests always are)
    free_tries_per_account: int = Field(default=3, ge=1)
    free_tries_per_address: int = Field(default=10, ge=1)
    free_tries_per_spread_account: int = Field(default=20, ge=1)
    spread_addresses: int = Field(default=5, ge=2)
    delay_seconds: float = Field(default=1.0, gt=0)
    max_delay_seconds: float = Field(default=300.0, gt=0)
    forget_minutes: float = Field(default=30.0, gt=0)
    known_address_days: float = Field(default=90.0, gt=0)  # a user's own workstations skip the spread wait
    # password hashes at once per web process (each ~128 MB and a core for a fraction of a second), and
    # how long a login waits for one (or for the try before it from its address) before a 503
    hash_slots: int = Field(default=2, ge=1, le=64)
    hash_slot_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    # the least role a page needs, by its address (``{"/reports311/" = "operator"}``: a wall's kiosk
    # account, a viewer, then never shows citizens' photos); a page named here needs a login
    page_roles: dict[str, Literal["viewer", "operator", "duty_officer", "analyst", "admin"]] = Field(
        default_factory=dict)

    @field_validator("page_roles")
    @classmethod
    def _page_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value:
            if not path.startswith("/") or path == "/" or any(c in path for c in "?#") or ".." in path:
                raise ValueError(f"{path!r} is not a page's address such as /reports311/")
        return value


def _default_policies() -> list[EscalationPolicy]:
    return [
        EscalationPolicy(
            severity="critical",
            steps=[
                EscalationStep(after_minutes=5, notify="shift_lead"),
                EscalationStep(after_minutes=15, notify="director"),
            ],
            remind_every_minutes=3,
            remind_acknowledged_every_minutes=30,
        ),
        EscalationPolicy(
            severity="warning",
            steps=[EscalationStep(after_minutes=15, notify="shift_lead")],
            remind_every_minutes=10,
        ),
        EscalationPolicy(severity="info"),
    ]


def _default_recipients() -> dict[str, Recipient]:
    # the names are catalogue messages (domain ``alerts``): a notification says them in its reader's language
    return {
        "duty": Recipient(name="Duty officer"),
        "shift_lead": Recipient(name="Shift lead"),
        "director": Recipient(name="Director"),
    }


class AlertSettings(BaseModel):
    """Everything ``alerts/`` is configured with."""

    flapping_minutes: float = Field(default=10.0, ge=0)  # re-fires within this after resolving reopen
    flapping_reopens: int = Field(default=3, ge=1)  # that many reopens within it: held open until calm
    grouping_minutes: float = Field(default=30.0, ge=0)  # same detector and area within this: one incident
    max_silence_days: int = Field(default=7, ge=1, le=366)  # a silence lasts, or starts ahead, at most this
    escalation_check_seconds: float = Field(default=15.0, gt=0)
    escalation: list[EscalationPolicy] = Field(default_factory=_default_policies)
    recipients: dict[str, Recipient] = Field(default_factory=_default_recipients)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    shift_starts: list[str] = Field(default_factory=lambda: ["06:00", "14:00", "22:00"])  # local time
    timezone: TimeZoneName = "UTC"  # the city's unless set: times in notifications

    @field_validator("shift_starts")
    @classmethod
    def _times(cls, starts: list[str]) -> list[str]:
        if not starts:
            raise ValueError("shift_starts needs at least one HH:MM")
        for s in starts:
            hh, _, mm = s.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ValueError(f"shift start {s!r} is not HH:MM")
        return sorted(starts)

    @model_validator(mode="after")
    def _references(self) -> AlertSettings:
        channels = {c.name for c in self.notifications.channels}
        used = [c for p in self.escalation for s in p.steps for c in s.channels]
        used += [c for p in self.escalation for c in p.remind_channels]
        used += [c for cs in self.notifications.on_raise.values() for c in cs]
        missing = sorted(set(used) - channels)
        if missing:
            raise ValueError(f"unknown notification channels {missing}; configured: {sorted(channels)}")
        unknown = sorted({s.notify for p in self.escalation for s in p.steps} - set(self.recipients))
        if unknown:
            raise ValueError(f"escalation steps notify unknown recipients {unknown}")
        severities = [p.severity for p in self.escalation]
        if len(severities) != len(set(severities)):
            raise ValueError("one escalation policy per severity")
        return self

    def policy(self, severity: str) -> EscalationPolicy | None:
        """The escalation policy of ``severity``, if one is configured."""
        return next((p for p in self.escalation if p.severity == severity), None)


def alert_settings(settings: Any = None) -> AlertSettings:
    """The :class:`AlertSettings` inside the core settings (``settings.alerts``), or the defaults.

    Accepts an :class:`AlertSettings`, another pydantic model or a dict under
    ``alerts`` (an attribute or a key of ``model_extra``), or ``None``.
    """
    if isinstance(settings, AlertSettings):
        return settings
    raw: Any = getattr(settings, "alerts", None)
    if raw is None:
        raw = (getattr(settings, "model_extra", None) or {}).get("alerts")
    if raw is None:
        return _citys(AlertSettings(), settings)
    if isinstance(raw, AlertSettings):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    return _citys(AlertSettings.model_validate(raw), settings)


def _citys(cfg: AlertSettings, settings: Any) -> AlertSettings:
    """``cfg`` with the city's time zone and language where ``[alerts]`` does not set its own."""
    tz = getattr(settings, "timezone", None)
    if isinstance(tz, str) and "timezone" not in cfg.model_fields_set:
        cfg.timezone = tz
    lang = getattr(getattr(settings, "web", None), "language", None)
    if lang in ("vi", "en") and "language" not in cfg.notifications.model_fields_set:
        cfg.notifications.language = lang
    return cfg
