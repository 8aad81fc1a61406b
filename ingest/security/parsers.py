"""Security events from the lines of each kind of log: auth (sshd), fail2ban, web access, Suricata EVE.

Every parser takes one line (bytes), the time it was received and the feed's options, and answers
a :class:`~ioc.feeds.security.records.SecurityEvent` or raises :class:`ParseError` with the
reason a dead letter keeps. A free-text field longer than the record keeps (an exploit's URL or user
agent, an attacker's user name) is cut to the record's limit (:data:`TEXT_LIMITS`): the event is
kept. Access logs (combined and common formats, with or without a virtual host first, with nginx's
extra fields after) are read by one precompiled pattern, and lines with escaped quotes by
``apachelogs``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import apachelogs
import msgspec
from pydantic import ValidationError

from ingest.security.syslog import MONTHS, SyslogError, SyslogMessage, parse_log_line, parse_syslog
from ioc.feeds.security.records import SecurityEvent

MAX_LINE = 65_536


class ParseError(ValueError):
    """A line that is not an event of its log; ``str()`` is the reason."""


class NotAnEvent(Exception):  # noqa: N818 - an outcome, not an error
    """A well-formed line of its log that tells of no security event (fail2ban starting a jail):
    counted as ignored, by ``str()``, not dead-lettered."""


@dataclass(frozen=True)
class LineContext:
    """What a parser needs besides the line: when it came, the host, the log's time zone."""

    received: datetime
    host: str
    tz: tzinfo = UTC
    simulated: bool = False


# The address is the one right after the user name, followed by the port and protocol and then
# the end or sshd's ": ..." suffix. A valid user name has no space; a name an attacker chose
# ("invalid user") cannot hold " from ": either way a name like "x from 10.0.0.1 port 1 ssh2"
# cannot make us blame another address (fail2ban's sshd test log carries both injections).
_FROM = (r" from (?P<ip>[0-9a-fA-F:.]+)(?: port (?P<port>\d+))?(?: on \S+(?: port \d+)?)?(?: ssh\d*)?"
         r"(?: \[preauth\])?(?::.*)?\s*$")
_ANY_USER = r"(?P<user>(?:(?! from ).)*?)"
_IP = r"(?P<ip>[0-9a-fA-F:.]+)"
# sshd's and PAM's refusals as fail2ban's sshd filter reads them (its test log is our sample): each
# pattern, its outcome, and the user when the message names none ("ROOT LOGIN REFUSED")
_SSHD: list[tuple[re.Pattern[str], str, str | None]] = [
    (re.compile(r"^Failed (?P<method>\S+) for (?:invalid user " + _ANY_USER
                + r"|<invalid username>|(?P<vuser>\S+))" + _FROM), "failure", None),
    (re.compile(r"^Accepted (?P<method>\S+) for (?P<vuser>\S+)" + _FROM), "success", None),
    (re.compile(r"^Invalid user " + _ANY_USER + _FROM), "failure", None),
    (re.compile(r"^(?:error: )?maximum authentication attempts exceeded for (?:invalid user " + _ANY_USER
                + r"|(?P<vuser>\S+))" + _FROM), "failure", None),
    (re.compile(r"^(?:error: )?PAM: [Aa]uthentication (?:failure|error) for (?:illegal user )?" + _ANY_USER
                + r" from " + _IP + r"(?: via \S+)?\s*$"), "failure", None),
    (re.compile(r"^ROOT LOGIN REFUSED FROM " + _IP + r"(?: port (?P<port>\d+))?(?: \[preauth\])?\s*$"),
     "failure", "root"),
    (re.compile(r"^User (?P<vuser>\S+) from " + _IP + r" not allowed because "), "failure", None),
    (re.compile(r"authentication failure;.*?rhost=" + _IP + r"(?:\s+user=(?P<user>\S+))?"), "failure", None),
]
_PAM_UNIX = _SSHD[-1][0]
# OpenSSH 9.8+ penalises a source itself (PerSourcePenalties, on by default; srclimit.c): a penalty
# that becomes active is a ban by sshd, as fail2ban's; a connection it drops (penalised, or past
# MaxStartups: a flood) is refused. A deferred penalty is no ban yet: a plain message.
_SSHD_PENALTY = re.compile(r"^srclimit_penalise: (?:(?P<net>[0-9a-fA-F:.]+/\d+): activating ipv[46]"
                           r"|ipv[46]: new (?P<new>[0-9a-fA-F:.]+/\d+) active) penalty of [\d.]+ seconds "
                           r"for penalty: (?P<reason>.{1,120})$")
_SSHD_DROP = re.compile(r"^drop connection #\d+ from \[" + _IP + r"\]:(?P<port>\d+) on \[[0-9a-fA-F:.]*\]:"
                        r"(?P<dport>\d+) (?P<reason>.{1,120})$")
SSHD_APPS = ("sshd", "sshd-session")
_SOLARIS_ID = re.compile(r"^\[ID \d+ [\w.]+\] ")  # Solaris' syslog tag before sshd's own message


def _address(ip: str) -> str:
    """An IPv4 address written as IPv6 (``::ffff:1.2.3.4``, a dual-stack sshd) as plain IPv4, so one
    attacker is counted under one address."""
    rest = ip[7:] if ip.lower().startswith("::ffff:") else ""
    return rest if rest.count(".") == 3 else ip


_VALIDATE = SecurityEvent.__pydantic_validator__.validate_python


def _text_limits(names: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """Each of ``names`` with the ``max_length`` the record gives it (read from its JSON schema)."""
    schema = SecurityEvent.model_json_schema()["properties"]
    limits = {}
    for name in names:
        for option in schema[name].get("anyOf", [schema[name]]):
            if option.get("type") == "string" and "maxLength" in option:
                limits[name] = option["maxLength"]
    return tuple(limits.items())


# The free-text fields a line fills (what an attacker writes: user names, URLs, user agents...): a
# longer text than the record keeps is cut to its limit, not a reason to lose the event. Addresses,
# protocols and actions are not cut: too long, they are not what they claim to be.
TEXT_LIMITS = _text_limits(("source_id", "user", "process", "signature", "category", "url", "vhost",
                            "user_agent", "raw"))


def _truncated(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with every free-text value cut to the record's ``max_length`` for it."""
    for name, limit in TEXT_LIMITS:
        value = fields.get(name)
        if type(value) is str and len(value) > limit:
            fields[name] = value[:limit]
    return fields


def _event(ctx: LineContext, raw: str, **fields: Any) -> SecurityEvent:
    try:
        fields["source_id"] = fields.pop("host", None) or ctx.host
        fields["raw"], fields["simulated"] = raw, ctx.simulated
        return _VALIDATE(_truncated(fields))  # model_validate's core: a third quicker than the constructor
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ParseError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def _text(line: bytes) -> str:
    if len(line) > MAX_LINE:
        raise ParseError(f"line too long: {len(line)} bytes")
    # a file's first line may start with a byte order mark (Windows tools write one): not part of it
    text = line.decode("utf-8", errors="replace").rstrip("\r\n").removeprefix("\ufeff")
    if "\x00" in text:
        raise ParseError("line holds a NUL character")
    return text


def syslog_severity(severity: int | None) -> int:
    """The record's severity (1 highest to 5) of a syslog one (RFC 5424: 0 Emergency to 7 Debug):
    Emergency and Alert are 1, Critical 2, Error 3, Warning 4, Notice, Informational and Debug
    (and a message without a ``<PRI>``) 5."""
    return 5 if severity is None else min(5, max(1, severity))


def _sshd_guard(msg: SyslogMessage, text: str, raw: str, ctx: LineContext) -> SecurityEvent | None:
    """sshd's own defence (OpenSSH 9.8+): a penalty made active is a ban, a dropped connection is
    refused; ``None`` for another message."""
    if (m := _SSHD_PENALTY.match(text)) is not None:
        net = m["net"] or m["new"]
        address, bits = net.rsplit("/", 1)
        single = bits == ("128" if ":" in address else "32")  # one address, else the block penalised
        return _event(ctx, raw, host=msg.host, time=msg.time, log="auth", action="ban", process=msg.app,
                      src_ip=_address(address) if single else net, outcome="success",
                      signature=m["reason"], category="sshd:penalty", severity=2)
    if (m := _SSHD_DROP.match(text)) is not None:
        return _event(ctx, raw, host=msg.host, time=msg.time, log="auth", action="refused",
                      process=msg.app, src_ip=_address(m["ip"]), src_port=int(m["port"]),
                      dest_port=int(m["dport"]), proto="ssh", signature=m["reason"],
                      category="sshd:refused", severity=4)
    return None


def auth_event(msg: SyslogMessage, raw: str, ctx: LineContext) -> SecurityEvent:
    """A login attempt from an sshd/PAM message, else a plain syslog event of its program."""
    text = msg.message.lstrip()  # rsyslog's RFC 5424 template keeps the legacy message's leading space
    if msg.app in SSHD_APPS or "pam_unix" in text:
        text = _SOLARIS_ID.sub("", text)
        for pattern, outcome, named in _SSHD:
            m = pattern.search(text)
            if m:
                found = m.groupdict()
                port = found.get("port")
                # sshd's PAM check of a password: sshd logs the same try as "Failed password" too
                # (Debian's UsePAM), so it is kept as a PAM check, not a second login; pam_unix's
                # line from another program (login, su, an FTP server) is that program's login
                action = "pam_check" if pattern is _PAM_UNIX and msg.app in SSHD_APPS else "login"
                # a key refused for a real account: a client offers each key it holds in turn, so a
                # user with several keys logs these before "Accepted publickey" (fail2ban counts
                # none); shown, not a failed login. For an invalid user it is one.
                if found.get("method") == "publickey" and found.get("vuser") and outcome == "failure":
                    action = "key_refused"
                return _event(ctx, raw, host=msg.host, time=msg.time, log="auth", action=action,
                              outcome=outcome, src_ip=_address(found["ip"]),
                              src_port=int(port) if port else None,
                              user=found.get("user") or found.get("vuser") or named,
                              process=msg.app, proto="ssh",
                              category="authentication", severity=3)
        if msg.app in SSHD_APPS and (guard := _sshd_guard(msg, text, raw, ctx)) is not None:
            return guard
    return _event(ctx, raw, host=msg.host, time=msg.time, log="syslog", action="message", process=msg.app,
                  severity=syslog_severity(msg.severity),
                  category="syslog")


def parse_auth_line(line: bytes, ctx: LineContext) -> SecurityEvent:
    """A line of ``auth.log`` / ``secure`` (RFC 3164 without ``<PRI>``, or with an RFC 3339 time)."""
    text = _text(line)
    try:
        msg = parse_log_line(text, ctx.received, ctx.tz)
    except SyslogError as exc:
        raise ParseError(str(exc)) from None
    return auth_event(msg, text, ctx)


def parse_syslog_message(line: bytes, ctx: LineContext) -> SecurityEvent:
    """A syslog message received over the network (RFC 5424 or 3164, with ``<PRI>``)."""
    try:
        msg = parse_syslog(line, ctx.received, ctx.tz)
    except SyslogError as exc:
        raise ParseError(str(exc)) from None
    if not msg.host:  # no valid header, or a NILVALUE HOSTNAME: named, as a relay does, by its sender
        msg = msg._replace(host=getattr(line, "sender", "") or ctx.host)
    return auth_event(msg, _text(line), ctx)


_FAIL2BAN_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:,\d+)? (?P<logger>fail2ban(?:\.\S+)?)\s+\[\d+\]: "
    r"(?P<level>[A-Z]+)\s+(?P<rest>.*)$")
_FAIL2BAN_EVENT = re.compile(
    r"^\[(?P<jail>[^\]]+)\] (?P<what>Ban|Unban|Found|Restore Ban|Increase Ban) (?P<ip>[0-9a-fA-F:.]+)")
_FAIL2BAN_ACTIONS = {"Ban": "ban", "Restore Ban": "ban", "Increase Ban": "ban", "Unban": "unban",
                     "Found": "match"}


def parse_fail2ban_line(line: bytes, ctx: LineContext) -> SecurityEvent:
    """A line of ``fail2ban.log``: a ban (new, restored at start, or lengthened by ``bantime.increment``),
    an unban, or a match found by a jail; its other lines (a jail started...) are :class:`NotAnEvent`."""
    text = _text(line)
    line_match = _FAIL2BAN_LINE.match(text)
    if line_match is None:
        raise ParseError("not a fail2ban log line (YYYY-MM-DD hh:mm:ss,mmm fail2ban.<part> [pid]: LEVEL ...)")
    m = _FAIL2BAN_EVENT.match(line_match["rest"])
    if m is None:
        raise NotAnEvent(f"fail2ban {line_match['level']}")
    try:
        when = datetime.fromisoformat(line_match["ts"]).replace(tzinfo=ctx.tz)
    except ValueError as exc:
        raise ParseError(f"bad fail2ban time: {exc}") from None
    action = _FAIL2BAN_ACTIONS[m["what"]]
    return _event(ctx, text, time=when, log="fail2ban", action=action, src_ip=m["ip"], process="fail2ban",
                  category=f"fail2ban:{m['jail']}", severity=2 if action == "ban" else 4,
                  outcome="success" if action == "ban" else "unknown")


# The combined log format as nginx and Apache write it, read by one precompiled pattern, with what
# real servers add around it: Apache's common format (no referer and user agent), a virtual host in
# front (Debian's Apache writes ``other_vhosts_access.log`` as "vhost_combined": ``%v:%p`` first;
# "vhost_common": ``%v``), and fields after it (nginx's example "main" format adds
# "$http_x_forwarded_for"; other formats add request times, upstream addresses...). A line with an
# escaped quote or backslash (Apache writes \" and \\) goes to apachelogs, which unescapes them.
def _access_pattern(quoted: str) -> re.Pattern[str]:
    """The access-line pattern with ``quoted`` as what may stand between double quotes."""
    return re.compile(
        r'(?:(?P<vhost>\S+) )?(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<day>\d{2})/(?P<mon>[A-Z][a-z]{2})/'
        r'(?P<year>\d{4}):(?P<hh>\d{2}):(?P<mm>\d{2}):(?P<ss>\d{2}) (?P<tz>[+-]\d{4})\] '
        rf'"(?P<request>{quoted})" (?P<status>\d{{3}}) (?:\d+|-)(?: "{quoted}" "(?P<agent>{quoted})")?'
        rf'(?: (?:[^\s"\\]|"{quoted}")+)*\s*$')


_COMBINED = _access_pattern(r'[^"\\]*')
# the same with escapes inside quotes: only a line of this shape is handed to apachelogs, whose
# patterns take quadratic time to refuse a long line of many fields (77 s for 60 kB of "a a a ...")
_ESCAPED = _access_pattern(r'(?:[^"\\]|\\.)*')
_ACCESS = tuple(apachelogs.LogParser(f) for f in (
    apachelogs.COMBINED, apachelogs.COMBINED + ' "%{X-Forwarded-For}i"', apachelogs.COMMON))
# with a virtual host first (four fields before the time, not three): ``%v:%p`` or ``%v``
_VHOST_ACCESS = tuple(apachelogs.LogParser(f) for f in (
    apachelogs.VHOST_COMBINED, "%v " + apachelogs.COMBINED, apachelogs.VHOST_COMMON))
_OFFSETS: dict[str, tzinfo] = {}


def _offset(text: str) -> tzinfo:
    zone = _OFFSETS.get(text)
    if zone is None:
        minutes = int(text[1:3]) * 60 + int(text[3:5])
        zone = _OFFSETS[text] = timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))
    return zone


def _site(vhost: str | None) -> tuple[str | None, int | None]:
    """The virtual host and server port of ``%v:%p`` (vhost_combined) or ``%v`` (vhost_common)."""
    if not vhost or vhost == "-":
        return None, None
    name, sep, port = vhost.rpartition(":")
    unbracketed_v6 = ":" in name and not (name.startswith("[") and name.endswith("]"))  # 2001:db8::1
    if sep and name and not unbracketed_v6 and port.isascii() and port.isdigit() and 0 < int(port) <= 65535:
        return name, int(port)
    return vhost, None


def _web_event(ctx: LineContext, text: str, when: datetime, host: str, user: str | None, request: str,
               status: int | None, agent: str | None, site: tuple[str | None, int | None]) -> SecurityEvent:
    """``site``: the virtual host and server port the request was for, when the format logs them."""
    parts = request.split(" ")
    url = parts[1] if len(parts) >= 2 else request
    vhost, port = site
    return _event(ctx, text, time=when, log="web", action="http_request",
                  outcome="failure" if status is not None and status >= 400 else "success",
                  src_ip=host, url=url, status=status, proto="http",
                  user=None if user in (None, "-") else user, vhost=vhost, dest_port=port,
                  user_agent=None if agent in (None, "", "-") else agent, category="web", severity=5)


def parse_access_line(line: bytes, ctx: LineContext) -> SecurityEvent:
    """A web server access log line: the combined log format (nginx's and Apache's default), also
    with a virtual host in front or more fields after it, or Apache's common format."""
    text = _text(line)
    m = _COMBINED.match(text)
    if m is not None:
        month = MONTHS.get(m["mon"])
        try:
            when = datetime(int(m["year"]), month or 0, int(m["day"]), int(m["hh"]), int(m["mm"]),
                            int(m["ss"]), tzinfo=_offset(m["tz"]))
        except ValueError as exc:
            raise ParseError(f"bad request time: {exc}") from None
        return _web_event(ctx, text, when, m["host"], m["user"], m["request"], int(m["status"]), m["agent"],
                          _site(m["vhost"]))
    if _ESCAPED.match(text) is None:
        raise ParseError("not a combined- or common-format access line")
    entry = None
    vhost = text.split(" [", 1)[0].count(" ") == 3
    for parser in _VHOST_ACCESS if vhost else _ACCESS:
        try:
            entry = parser.parse(text)
            break
        except apachelogs.InvalidEntryError as exc:
            error = exc
    if entry is None:
        raise ParseError(f"not a combined- or common-format access line: {str(error)[:120]}") from None
    if entry.request_time is None:
        raise ParseError("no request time")
    agent = getattr(entry, "headers_in", {}).get("User-Agent")  # none in the common formats
    vhost = getattr(entry, "virtual_host", None)  # only in the vhost formats
    return _web_event(ctx, text, entry.request_time, entry.remote_host, entry.remote_user,
                      entry.request_line or "", entry.final_status, agent,
                      (_site(vhost)[0], getattr(entry, "server_port", None)))


EVE_ACTIONS = {"alert": "ids_alert", "anomaly": "anomaly", "flow": "flow", "dns": "dns", "http": "http",
               "tls": "tls"}
_JSON = msgspec.json.Decoder()


_FIVE_TUPLE = (("src_ip", str), ("src_port", int), ("dest_ip", str), ("dest_port", int), ("proto", str),
               ("host", str))


def _opt(doc: dict[str, Any], key: str, kind: type, where: str = "") -> Any:
    """``doc[key]`` when it is of ``kind`` (or absent/null), else the dead letter's reason."""
    value = doc.get(key)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise ParseError(f"{where}{key}: a {kind.__name__} is expected, not {type(value).__name__}")


def _http_status(http: dict[str, Any]) -> int | None:
    """``http.status``: a number, or three digits in a string as Suricata's EVE documentation shows it
    (``"status":"200"``, the extended HTTP logging of older versions)."""
    value = http.get("status")
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isdigit():
        return int(value)
    return _opt(http, "status", int, "http.")


_EVE_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def parse_eve_line(line: bytes, ctx: LineContext) -> SecurityEvent:
    """One Suricata EVE JSON record of a kept type (alert, anomaly, flow, dns, http, tls).

    Decoded by msgspec (C, depth-limited); every field read is type-checked, so a record of the
    wrong shape is a dead letter naming the field, never an exception.
    """
    text = _text(line)
    try:
        doc = _JSON.decode(text)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError("an EVE record is a JSON object")
    kind = doc.get("event_type")
    action = EVE_ACTIONS.get(kind) if isinstance(kind, str) else None
    if action is None:
        if isinstance(kind, str) and _EVE_TYPE.match(kind):  # stats, fileinfo, ssh, dhcp...: valid, not kept
            raise NotAnEvent(f"EVE {kind}")
        raise ParseError(f"EVE event_type {str(kind)[:40]!r} is not an event type "
                         "(kept: alert, anomaly, flow, dns, http, tls)")
    stamp = doc.get("timestamp")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        raise ParseError("no valid timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ctx.tz)
    get = doc.get
    src_ip, src_port, dest_ip, dest_port, proto, host = (get("src_ip"), get("src_port"), get("dest_ip"),
                                                         get("dest_port"), get("proto"), get("host"))
    # the 5-tuple and host checked inline (every record has them): a wrong type is a dead letter
    if not ((src_ip is None or type(src_ip) is str) and (dest_ip is None or type(dest_ip) is str)
            and (src_port is None or type(src_port) is int) and (dest_port is None or type(dest_port) is int)
            and (proto is None or type(proto) is str) and (host is None or type(host) is str)):
        for key, kind in _FIVE_TUPLE:
            _opt(doc, key, kind)  # names the field
    fields: dict[str, Any] = {
        "time": when, "log": "suricata", "action": action, "src_ip": src_ip, "src_port": src_port,
        "dest_ip": dest_ip, "dest_port": dest_port, "proto": proto.lower() if proto else None, "severity": 5,
        "category": kind, "host": host or None,
    }
    if action == "ids_alert":
        alert = doc.get("alert")
        if not isinstance(alert, dict) or not alert.get("signature"):
            raise ParseError("an alert record without alert.signature")
        severity = _opt(alert, "severity", int, "alert.")
        fields.update(signature=_opt(alert, "signature", str, "alert."),
                      signature_id=_opt(alert, "signature_id", int, "alert."),
                      severity=min(5, max(1, severity or 3)),
                      category=_opt(alert, "category", str, "alert.") or "ids", outcome="unknown")
    elif action == "anomaly" and isinstance(doc.get("anomaly"), dict):
        fields.update(signature=_opt(doc["anomaly"], "event", str, "anomaly."), severity=4)
    http = doc.get("http")
    if isinstance(http, dict):
        fields.update(url=_opt(http, "url", str, "http."), status=_http_status(http),
                      user_agent=_opt(http, "http_user_agent", str, "http."))
    return _event(ctx, text, **fields)


PARSERS: dict[str, Callable[[bytes, LineContext], SecurityEvent]] = {
    "auth": parse_auth_line,
    "syslog": parse_syslog_message,
    "fail2ban": parse_fail2ban_line,
    "web": parse_access_line,
    "suricata": parse_eve_line,
}
