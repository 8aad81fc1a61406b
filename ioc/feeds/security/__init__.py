"""The network-security feed: syslog, auth/fail2ban/access logs and Suricata EVE records."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.schema import MIGRATIONS, RAW_SECURITY_TABLES, SECURITY_EVENTS
from ioc.feeds.security.settings import SecurityOptions, SecurityRules

SPEC = FeedSpec(
    name="security",
    title="Network security",
    events=(SecurityEvent,),
    topics={"security.event": "ioc.security.events"},
    tables=(SECURITY_EVENTS,),
    migrations=MIGRATIONS,
    raw_tables=RAW_SECURITY_TABLES,
    rules=SecurityRules,
    options=SecurityOptions,
    kinds=frozenset({"syslog", "security_file", "suricata_eve", "security_simulator"}),
)

__all__ = ["SPEC", "SecurityEvent", "SecurityOptions", "SecurityRules"]
