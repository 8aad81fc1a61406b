"""The network security feed: syslog, auth and web server logs, fail2ban, Suricata EVE JSON."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.schema import (
    RAW_SECURITY_TABLES,
    SECURITY_EVENTS,
    apply_security,
    apply_security_pam_checks,
    apply_security_vhost,
)
from ioc.feeds.security.settings import SecurityRules
from ioc.store.tables import Migration

SPEC = FeedSpec(
    name="security",
    rule_titles={
        "security": "Security event",
    },
    title="Network security",
    short_title="Cyber",
    events=(SecurityEvent,),
    topics={"security.event": "ioc.security.events"},
    tables=(SECURITY_EVENTS,),
    migrations=(Migration(1, "security events and their 1-minute rollup", apply_security),
                Migration(2, "the virtual host of web requests", apply_security_vhost),
                Migration(3, "PAM checks and refused keys are not failed logins", apply_security_pam_checks)),
    raw_tables=RAW_SECURITY_TABLES,
    rules=SecurityRules,
)
