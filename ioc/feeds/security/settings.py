"""The ``[rules.security]`` thresholds and allow-lists, and the ``[feeds.security]`` options."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Seconds = Annotated[float, Field(gt=0, le=86_400)]
Count = Annotated[int, Field(ge=1, le=1_000_000)]


class SecurityRules(BaseModel):
    """Every threshold of the security rules; addresses, networks and users never alerted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brute_force_failures: Count = 5
    brute_force_window_s: Seconds = 300
    spray_accounts: Count = 5
    spray_window_s: Seconds = 600
    scan_ports: Count = 20
    scan_hosts: Count = 10
    scan_window_s: Seconds = 60
    web_errors: Count = 30
    web_errors_window_s: Seconds = 60
    ids_group_window_s: Seconds = 600
    silent_after_s: Seconds = 900
    expected_hosts: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=list)
    allow_networks: list[str] = Field(default_factory=list)
    allow_users: list[str] = Field(default_factory=list)

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ip_network(net, strict=False)  # raises ValueError with the bad text
        return value

    def allowed(self, address: str | None, user: str | None = None) -> bool:
        """Whether an address (or account) is on the allow-list: never alerted on."""
        if user is not None and user in self.allow_users:
            return True
        if not address:
            return False
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in ip_network(n, strict=False) for n in self.allow_networks)


class SecurityOptions(BaseModel):
    """Feed-wide options: where the syslog listener binds, line bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    syslog_host: str = "127.0.0.1"
    syslog_udp_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    syslog_tcp_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    max_line_bytes: Annotated[int, Field(ge=256, le=1_048_576)] = 65_536
