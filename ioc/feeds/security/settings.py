"""The security feed's rules: ``[rules.security]`` (every rule's thresholds, as data)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, IPvAnyNetwork

Severity = Literal["info", "warning", "critical"]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
RuleName = Literal["brute_force", "spraying", "port_scan", "web_attack", "ids", "silent_host"]


class SecurityRuleSettings(BaseModel):
    """Thresholds of the security rules (``[rules.security]``); a section absent: no security rules."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[RuleName] = Field(
        default_factory=lambda: ["brute_force", "spraying", "port_scan", "web_attack", "ids", "silent_host"])
    # brute force: failures from one address within the window; a success after them: compromise
    brute_force_failures: Count = 10
    brute_force_minutes: Positive = 5.0
    # spraying: one address failing against this many accounts within the window
    spraying_accounts: Count = 8
    spraying_minutes: Positive = 10.0
    # port scan: one source reaching this many ports, or this many hosts, within the window
    scan_ports: Count = 50
    scan_hosts: Count = 20
    scan_minutes: Positive = 2.0
    # web attack: requests matching attack signatures, or 4xx/5xx answers, from one source
    web_signatures: Count = 3
    web_errors: Count = 50
    web_minutes: Positive = 5.0
    # IDS alerts: Suricata severity 1 critical, 2 warning, 3+ info; repeats of a signature from one
    # source within the window are one alert with a count
    ids_group_minutes: Positive = 30.0
    ids_min_severity: Annotated[int, Field(ge=1, le=5)] = 3
    clear_minutes: Positive = 15.0  # quiet this long after the last breach: the alert resolves
    # silent host: each of these log sources (a syslog HOSTNAME, a followed file's host) sending
    # nothing for this long in the feed's event time raises an alert; a line from it resolves it
    expected_hosts: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=list)
    silent_minutes: Positive = 15.0
    # never alerted on: source addresses, networks (CIDR) and accounts
    allow_addresses: list[IPvAnyAddress] = Field(default_factory=list)
    allow_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    allow_users: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(default_factory=list)

    def allowed(self, address: str | None, user: str | None) -> bool:
        """Whether an event's source address or account is on the allow-lists."""
        if user is not None and user in self.allow_users:
            return True
        if not address or not (self.allow_addresses or self.allow_networks):
            return False
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return ip in self.allow_addresses or any(ip in net for net in self.allow_networks)


class SecurityRules(BaseModel):
    """The security feed's sections of ``[rules]``."""

    model_config = ConfigDict(extra="forbid")

    security: SecurityRuleSettings | None = None
