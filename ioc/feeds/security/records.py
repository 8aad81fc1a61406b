"""The security feed's record: one typed event per log line or IDS record, raw line kept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ioc.events import Event

MAX_RAW = 16_384
Text64 = Annotated[str, Field(max_length=64)]
Text256 = Annotated[str, Field(max_length=256)]
Port = Annotated[int, Field(ge=0, le=65535)]

#: what the event is about: the rules and the page group by it
Category = Literal["auth", "web", "ids", "flow", "dns", "tls", "http", "anomaly", "firewall", "system"]
Outcome = Literal["success", "failure", "unknown"]


class SecurityEvent(Event):
    """One security-relevant line: an SSH login, a web request, a Suricata alert or flow...

    ``source_id`` is the host that logged it (syslog HOSTNAME, Suricata sensor, log file's host).
    ``severity`` follows Suricata: 1 (high) .. 3 (low), 4 for plain informational lines.
    ``rule_id`` is the IDS signature id (or the parser's rule name for log lines).
    """

    kind: Literal["security.event"] = "security.event"
    category: Category = "system"
    src_ip: Text64 | None = None
    src_port: Port | None = None
    dest_ip: Text64 | None = None
    dest_port: Port | None = None
    proto: Text64 | None = None
    user: Text256 | None = None
    process: Text64 | None = None
    action: Text64 = ""
    outcome: Outcome = "unknown"
    signature: Text256 = ""
    rule_id: Text64 | None = None
    severity: Annotated[int, Field(ge=1, le=4)] = 4
    status: Annotated[int, Field(ge=0, le=999)] | None = None  # HTTP status of a web request
    path: Annotated[str, Field(max_length=2048)] | None = None  # HTTP request target
    raw: Annotated[str, Field(max_length=MAX_RAW)] = ""
    simulated: bool = False

    @property
    def key(self) -> str:
        return self.source_id
