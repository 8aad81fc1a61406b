"""Which events are a security alert's: its source address (or silent host, or signature) over its span.

The console links a security alert to ``/security/?alert=<id>``; the page reads the alert and shows
the events its rule counted: from the alert's start less the rule's window (the events that made it
fire) to its resolution (or now), of its source address, and for an IDS alert of its signature; a
silent host's alert shows the last events that host sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.models import Alert
from ioc.feeds.security.settings import SecurityRuleSettings

#: the ``[rules.security]`` setting that holds each rule's window, in minutes
RULE_WINDOWS = {"brute_force": "brute_force_minutes", "compromise": "brute_force_minutes",
                "spraying": "spraying_minutes", "port_scan": "scan_minutes", "web_attack": "web_minutes",
                "web_errors": "web_minutes", "ids": "ids_group_minutes", "silent_host": "silent_minutes"}


@dataclass(frozen=True)
class AlertScope:
    """The filter of one alert's events (``None``: not filtered on that field)."""

    alert_id: int
    title: str
    src_ip: str | None
    host: str | None
    signature_id: int | None
    since: datetime
    until: datetime | None

    def query(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ioc.feeds.security.queries.latest`."""
        return {"src_ip": self.src_ip, "host": self.host, "signature_id": self.signature_id,
                "since": self.since, "until": self.until}


def scope_of(alert: Alert, cfg: SecurityRuleSettings | None, lang: str) -> AlertScope | None:
    """The events of ``alert``, or ``None`` when it is not a security alert."""
    if alert.detector != "security":
        return None
    cfg = cfg or SecurityRuleSettings()
    window = timedelta(minutes=float(getattr(cfg, RULE_WINDOWS.get(alert.rule, "clear_minutes"))))
    details = alert.details or {}
    silent = alert.rule == "silent_host"
    signature = details.get("signature_id") if alert.rule == "ids" else None
    until = alert.resolved_at or alert.closed_at
    return AlertScope(
        alert_id=alert.id, title=alert.title_in(lang),
        src_ip=None if silent else (str(details["src_ip"]) if details.get("src_ip") else None),
        host=str(details.get("host") or alert.source_id) if silent else None,
        signature_id=int(signature) if isinstance(signature, int) else None,
        since=alert.started_at - window - (timedelta(hours=1) if silent else timedelta(0)),
        until=None if until is None else until + timedelta(minutes=1))
