"""The security feed's record: one event of a log or an IDS (who, from where, to where, what, outcome)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ioc.records import Event

Text = Annotated[str, Field(max_length=512)]
SID_MAX = 2**32 - 1  # a signature id is an unsigned 32-bit number in Suricata and Snort


class SecurityEvent(Event):
    """A network security event: an SSH login, a web request, an IDS alert, a flow...

    ``source_id`` is the host that logged it (the bus key). ``action`` says what happened
    (``login``, ``http_request``, ``ids_alert``, ``flow``, ``dns``, ``tls``, ``anomaly``,
    ``ban``...), ``outcome`` whether it succeeded; ``severity`` is 1 (highest) to 5 as Suricata
    numbers them; ``raw`` keeps the line it came from.
    """

    kind: Literal["security.event"] = "security.event"
    log: Literal["syslog", "auth", "fail2ban", "web", "suricata"]
    action: Annotated[str, Field(min_length=1, max_length=64)]
    outcome: Literal["success", "failure", "unknown"] = "unknown"
    src_ip: Annotated[str, Field(max_length=64)] | None = None
    src_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    dest_ip: Annotated[str, Field(max_length=64)] | None = None
    dest_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    proto: Annotated[str, Field(max_length=16)] | None = None
    user: Text | None = None
    process: Text | None = None
    signature: Annotated[str, Field(max_length=1024)] | None = None
    signature_id: Annotated[int, Field(ge=0, le=SID_MAX)] | None = None  # Suricata's sid: 32 bits unsigned
    severity: Annotated[int, Field(ge=1, le=5)] = 3
    category: Annotated[str, Field(max_length=256)] = ""
    status: Annotated[int, Field(ge=100, le=999)] | None = None  # HTTP status of a web request
    url: Annotated[str, Field(max_length=4096)] | None = None
    vhost: Annotated[str, Field(max_length=256)] | None = None  # the web site a request was for
    user_agent: Text | None = None
    raw: Annotated[str, Field(max_length=65536)] = ""
    simulated: bool = False
