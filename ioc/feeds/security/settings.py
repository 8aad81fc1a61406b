"""The security feed's rules: ``[rules.security]`` (every rule's thresholds, as data)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "critical"]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]


class SecurityRuleSettings(BaseModel):
    """Thresholds of the security rules (``[rules.security]``); a section absent: no security rules."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[Literal["brute_force", "spraying", "port_scan", "web_attack", "ids"]] = Field(
        default_factory=lambda: ["brute_force", "spraying", "port_scan", "web_attack", "ids"])
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


class SecurityRules(BaseModel):
    """The security feed's sections of ``[rules]``."""

    model_config = ConfigDict(extra="forbid")

    security: SecurityRuleSettings | None = None
