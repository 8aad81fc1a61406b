"""Syslog messages as the RFCs write them: RFC 5424, RFC 3164 (BSD), and RFC 6587 TCP framing.

:func:`parse_syslog` reads one message (with its ``<PRI>``) in either format; a line of a log file
(``auth.log``, ``secure``) is read by :func:`parse_log_line`: RFC 3164 without the ``<PRI>``, or
the same line with an RFC 3339 time first, which is what rsyslog writes by default since Debian 12
and Ubuntu 23.10 (``RSYSLOG_FileFormat``: ``2023-06-15T10:11:12.345678+07:00 host sshd[1]: ...``)
and ``journalctl -o short-iso`` prints. rsyslog's ``RSYSLOG_ForwardFormat`` sends that form with a
``<PRI>`` over the network; :func:`parse_syslog` reads it too, and keeps a message with a valid
``<PRI>`` but neither header whole, at its receive time (RFC 3164 4.3.2, what a relay does).
:class:`SyslogFramer` splits a TCP byte stream into messages: octet-counted frames
(``"<length> <message>"``, RFC 6587 section 3.4.1) or newline-terminated ones (3.4.2), told apart
by their first byte, as rsyslog and syslog-ng do.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}
MAX_MESSAGE = 65_536


class SyslogError(ValueError):
    """Not a syslog message; ``str()`` says why (the dead letter's reason)."""


class SyslogMessage(NamedTuple):
    """The fields a security event needs from one syslog message (a tuple: built for every line)."""

    time: datetime
    host: str
    app: str
    procid: str | None
    message: str
    facility: int | None = None
    severity: int | None = None


_PRI = re.compile(rb"^<(\d{1,3})>")
_5424 = re.compile(
    r"^(?P<version>[1-9]\d{0,2}) (?P<ts>\S+) (?P<host>\S{1,255}) (?P<app>\S{1,48}) (?P<proc>\S{1,128}) "
    r"(?P<msgid>\S{1,32}) (?P<rest>.*)$", re.S)
_3164 = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hh>\d{2}):(?P<mm>\d{2}):(?P<ss>\d{2}) "
    r"(?P<host>\S+)(?: (?:(?P<tag>[^:\[\s]{1,48})(?:\[(?P<pid>[^\]]{1,32})\])?: ?)?(?P<msg>.*))?$", re.S)

# The same header with an RFC 3339 time (rsyslog's high-precision formats, journalctl short-iso).
_ISO_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
_ISO_LINE = re.compile(
    r"^(?P<ts>" + _ISO_TIME + r") (?P<host>\S+)"
    r"(?: (?:(?P<tag>[^:\[\s]{1,48})(?:\[(?P<pid>[^\]]{1,32})\])?: ?)?(?P<msg>.*))?$", re.S)
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_VERSION = re.compile(r"^[1-9]\d{0,2} ")  # RFC 5424's VERSION and its space


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    if "\x00" in text:
        raise SyslogError("message holds a NUL character")
    return text.removeprefix("\ufeff")


def _structured_data_end(rest: str) -> int:
    """Where the STRUCTURED-DATA part ends (``-`` or ``[id k="v"]...``), honouring escapes."""
    if rest.startswith("-"):
        return 1
    i = 0
    while i < len(rest) and rest[i] == "[":
        in_quotes = False
        i += 1
        while i < len(rest):
            c = rest[i]
            if c == "\\" and in_quotes:
                i += 2
                continue
            if c == '"':
                in_quotes = not in_quotes
            elif c == "]" and not in_quotes:
                break
            i += 1
        else:
            raise SyslogError("structured data not closed")
        i += 1
    if i == 0:
        raise SyslogError("no structured data ('-' or '[...]')")
    return i


def _rfc3339(stamp: str, local: tzinfo | None = None) -> datetime:
    """An RFC 3339 time in UTC; one without a zone is ``local``'s (none given: an error, as in RFC 5424)."""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise SyslogError(f"bad RFC 3339 timestamp {stamp[:40]!r}") from None
    if when.tzinfo is None:
        if local is None:
            raise SyslogError("timestamp without a time zone")
        when = when.replace(tzinfo=local)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise SyslogError(f"timestamp out of range: {stamp[:40]!r}") from None


def parse_5424(text: str, pri: int, received: datetime) -> SyslogMessage:
    """``VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`` after the ``<PRI>``; a sender
    without a clock writes the NILVALUE time (RFC 5424 6.2.3): the receive time stands for it. A
    NILVALUE HOSTNAME is no host (``""``): the listener names the message by its sender (6.2.4)."""
    m = _5424.match(text)
    if m is None:
        raise SyslogError("not an RFC 5424 header")
    if m["ts"] == "-":
        when = received.astimezone(UTC)
    else:
        when = _rfc3339(m["ts"])
    rest = m["rest"]
    end = _structured_data_end(rest)
    message = rest[end:].removeprefix(" ").removeprefix("\ufeff")
    nil = lambda v: None if v == "-" else v  # noqa: E731
    return SyslogMessage(when, nil(m["host"]) or "", nil(m["app"]) or "-", nil(m["proc"]),
                         message, pri >> 3, pri & 7)


_MONTH = timedelta(days=31)
_LOCAL: dict[tuple[datetime, tzinfo], datetime] = {}


def _local(received: datetime, tz: tzinfo) -> datetime:
    """``received`` in ``tz``: the same for every line of a batch, so kept for the next one."""
    local = _LOCAL.get((received, tz))
    if local is None:
        if len(_LOCAL) > 64:
            _LOCAL.clear()
        local = _LOCAL[(received, tz)] = received.astimezone(tz)
    return local


def parse_bsd(text: str, received: datetime, tz: tzinfo, pri: int | None = None) -> SyslogMessage:
    """``Mmm dd hh:mm:ss HOST TAG[PID]: MSG`` (RFC 3164; the year and zone are the receiver's); the
    TAG and MSG may be absent (rsyslog's testsuites/weird.parse1: ``<14>Aug 30 23:00:05 X4711``)."""
    m = _3164.match(text)
    if m is None:
        raise SyslogError("not a syslog line (RFC 3164 'Mmm dd hh:mm:ss host tag: message', or the same "
                          "with an RFC 3339 time first)")
    month = MONTHS.get(m["mon"])
    if month is None:
        raise SyslogError(f"unknown month {m['mon']!r}")
    local = _local(received, tz)
    try:
        when = datetime(local.year, month, int(m["day"]), int(m["hh"]), int(m["mm"]), int(m["ss"]), tzinfo=tz)
    except ValueError as exc:
        raise SyslogError(f"bad date: {exc}") from None
    if when - local > _MONTH:  # December's line read in January: last year's
        when = when.replace(year=local.year - 1)
    return SyslogMessage(when if tz is UTC else when.astimezone(UTC), m["host"], m["tag"] or "-", m["pid"],
                         m["msg"] or "", None if pri is None else pri >> 3, None if pri is None else pri & 7)


def parse_iso_line(text: str, tz: tzinfo, pri: int | None = None) -> SyslogMessage:
    """``YYYY-MM-DDThh:mm:ss[.ffffff][zone] HOST TAG[PID]: MSG``: a time without a zone is ``tz``'s;
    the TAG and MSG may be absent, as in :func:`parse_bsd`."""
    m = _ISO_LINE.match(text)
    if m is None:
        raise SyslogError("not a syslog line with an RFC 3339 time "
                          "(YYYY-MM-DDThh:mm:ss+hh:mm host tag: message)")
    return SyslogMessage(_rfc3339(m["ts"], tz), m["host"], m["tag"] or "-", m["pid"], m["msg"] or "",
                         None if pri is None else pri >> 3, None if pri is None else pri & 7)


def parse_log_line(text: str, received: datetime, tz: tzinfo) -> SyslogMessage:
    """A line of a syslog-written file: BSD time (the log's zone and the receive year) or RFC 3339."""
    if _ISO_START.match(text):
        return parse_iso_line(text, tz)
    return parse_bsd(text, received, tz)


def parse_syslog(raw: bytes, received: datetime, tz: tzinfo = UTC) -> SyslogMessage:
    """One syslog message with its ``<PRI>``, in either format (a version digit after it: 5424); spaces
    between the ``<PRI>`` and an RFC 3164 or RFC 3339 time are skipped, as rsyslog does
    (testsuites/date1.parse1: ``<38> Mar  7 19:06:53 example tag: ...``)."""
    if len(raw) > MAX_MESSAGE:
        raise SyslogError(f"message too long: {len(raw)} bytes")
    raw = raw.rstrip(b"\r\n")
    m = _PRI.match(raw)
    if m is None:
        raise SyslogError("no <PRI> at the start")
    pri = int(m[1])
    if pri > 191:
        raise SyslogError(f"PRI {pri} is out of range (0-191)")
    text = _decode(raw[m.end():])
    if _VERSION.match(text):
        return parse_5424(text, pri, received)
    header = text.lstrip(" ")
    try:
        if _ISO_START.match(header):  # no version: rsyslog's RSYSLOG_ForwardFormat
            return parse_iso_line(header, tz, pri)
        return parse_bsd(header, received, tz, pri)
    except SyslogError:
        # RFC 3164 4.3.2: a valid PRI without a valid TIMESTAMP and HOSTNAME (a router's
        # "<189>52: *Mar  1 00:02:39.183: %SYS-5-CONFIG_I: ..."): as a relay does, the whole is
        # the message, at the time it was received; no host (the listener names it by its sender).
        return SyslogMessage(received.astimezone(UTC), "", "-", None, text, pri >> 3, pri & 7)


def zone(name: str) -> tzinfo:
    """The time zone a BSD-format log is written in."""
    return UTC if name == "UTC" else ZoneInfo(name)


class SyslogFramer:
    """Splits a TCP stream into syslog messages (RFC 6587: octet counting or LF-terminated)."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.buffer = b""
        self.max_message = max_message

    def feed(self, data: bytes) -> tuple[list[bytes], list[str]]:
        """The complete messages in what arrived, and the reasons of any framing errors."""
        self.buffer += data
        out: list[bytes] = []
        errors: list[str] = []
        while self.buffer:
            if self.buffer[:1].isdigit():  # octet counting: "<len> <msg>"
                space = self.buffer.find(b" ", 0, 8)
                if space < 0:
                    if len(self.buffer) >= 8:
                        errors.append("octet count is not followed by a space")
                        self.buffer = b""
                    break
                count = self.buffer[:space]
                if not count.isdigit() or int(count) > self.max_message:
                    errors.append(f"bad octet count {count[:10]!r}")
                    self.buffer = b""
                    break
                end = space + 1 + int(count)
                if len(self.buffer) < end:
                    break
                out.append(self.buffer[space + 1:end])
                self.buffer = self.buffer[end:]
            else:
                newline = self.buffer.find(b"\n")
                if newline < 0:
                    if len(self.buffer) > self.max_message:
                        errors.append(f"no newline within {self.max_message} bytes")
                        self.buffer = b""
                    break
                frame, self.buffer = self.buffer[:newline], self.buffer[newline + 1:]
                if frame.strip():
                    out.append(frame)
        return out, errors
