"""Security feed ingest: ``[[feeds]]`` of kind ``security-file`` (a log followed across rotation),
``security-udp`` or ``security-tcp`` (a syslog port; EVE JSON over UDP too, one record per datagram),
``security-unix-dgram`` or ``security-unix-stream`` (a Unix socket at ``options.path`` that Suricata's
``eve-log`` writes to with ``filetype: unix_dgram`` / ``unix_stream``), ``security-simulator``
(the labelled attack script of :mod:`ingest.security.simulator`, always ``simulated``);
``options.log`` names the log's format: ``auth`` (sshd/PAM), ``syslog`` (RFC 5424/3164 messages),
``fail2ban``, ``web`` (combined access log) or ``suricata`` (EVE JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.security.simulator import SCRIPTS, SimulatedAttackSource
from ingest.security.sockets import DatagramSource, UnixStreamSource
from ingest.security.sources import TailSource, TcpSyslogSource, utc_now
from ingest.security.syslog import zone
from ingest.security.worker import SecurityWorker
from ioc.bus.base import Publisher
from ioc.config import FeedSettings
from ioc.time_zones import TimeZoneName

KINDS: frozenset[str] = frozenset({"security-file", "security-udp", "security-tcp", "security-unix-dgram",
                                   "security-unix-stream", "security-simulator"})
SOCKET_KINDS = frozenset({"security-unix-dgram", "security-unix-stream"})


class SecurityFeedOptions(BaseModel):
    """``[feeds.options]`` of a security feed."""

    model_config = ConfigDict(extra="forbid")

    log: Literal["auth", "syslog", "fail2ban", "web", "suricata"]
    path: str | None = None  # security-file: the log; -unix-*: the socket (relative: from sample_streams/)
    from_start: bool = False  # security-file: read what the file holds before following it
    host: str = "127.0.0.1"  # security-udp/-tcp: the address to listen on
    port: int = Field(default=5514, ge=0, le=65535)
    max_connections: int = Field(default=200, ge=1, le=10_000)  # security-tcp: senders at once
    receive_buffer: int = Field(default=16 << 20, ge=1 << 16, le=1 << 30)  # -udp/-unix-dgram: bytes
    hostname: str = "localhost"  # the host that writes the log (file and web logs name none)
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"  # of BSD syslog lines and fail2ban times, which carry none
    simulated: bool = False


def feed_options(feed: FeedSettings) -> SecurityFeedOptions:
    try:
        options = SecurityFeedOptions.model_validate(feed.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(f"feed {feed.name!r}: options.{where}: {first['msg']}") from None
    if feed.kind in {"security-file"} | SOCKET_KINDS and not options.path:
        raise ValueError(f"feed {feed.name!r}: a {feed.kind} feed needs options.path")
    if feed.kind == "security-simulator" and options.log not in SCRIPTS:
        raise ValueError(f"feed {feed.name!r}: the simulator plays options.log {sorted(SCRIPTS)}, "
                         f"not {options.log!r}")
    return options


def build_worker(feed: FeedSettings, publisher: Publisher, samples_dir: Path) -> SecurityWorker:
    options = feed_options(feed)
    if feed.kind == "security-file":
        assert options.path is not None
        source: Any = TailSource(Path(samples_dir) / options.path, name=feed.name,
                                 from_start=options.from_start)
    elif feed.kind == "security-simulator":
        source = SimulatedAttackSource(options.log, name=feed.name, clock=utc_now)
        return SecurityWorker(source, publisher, log_kind=options.log, host=options.hostname,
                              tz=zone(options.timezone), simulated=True)
    elif feed.kind == "security-udp":
        source = DatagramSource(name=feed.name, host=options.host, port=options.port,
                                split_lines=options.log == "suricata", receive_buffer=options.receive_buffer)
    elif feed.kind == "security-unix-dgram":
        assert options.path is not None
        source = DatagramSource(name=feed.name, path=Path(samples_dir) / options.path,
                                split_lines=options.log == "suricata", receive_buffer=options.receive_buffer)
    elif feed.kind == "security-unix-stream":
        assert options.path is not None
        source = UnixStreamSource(Path(samples_dir) / options.path, name=feed.name)
    else:
        source = TcpSyslogSource(options.host, options.port, name=feed.name,
                                 max_connections=options.max_connections)
    return SecurityWorker(source, publisher, log_kind=options.log, host=options.hostname,
                          tz=zone(options.timezone), simulated=options.simulated)
