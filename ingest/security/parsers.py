"""Lines to :class:`SecurityEvent` records, or a :class:`ParseError` whose text is the dead-letter reason.

* :func:`parse_syslog`: an RFC 5424 or RFC 3164 message, its MSG classified by :func:`classify`
  (sshd, su/sudo/login PAM failures, fail2ban bans).
* :func:`parse_access`: a combined-log-format web access line (``apachelogs``).
* :func:`parse_eve`: one Suricata EVE JSON record (alert, anomaly, flow, dns, http, tls).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import apachelogs
from pydantic import ValidationError

from ioc.feeds.security.records import MAX_RAW, SecurityEvent


class ParseError(ValueError):
    """A line that is not a security record; ``str()`` is the reason."""


def _text(line: bytes | str, max_bytes: int = MAX_RAW) -> str:
    if isinstance(line, bytes):
        if len(line) > max_bytes:
            raise ParseError(f"line of {len(line)} bytes exceeds {max_bytes}")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8 at byte {exc.start}") from None
    if len(line) > max_bytes:
        raise ParseError(f"line of {len(line)} characters exceeds {max_bytes}")
    if "\x00" in line:
        raise ParseError("NUL byte in line")
    return line.rstrip("\r\n")


def _build(raw: str, **fields: Any) -> SecurityEvent:
    try:
        return SecurityEvent(raw=raw, **fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParseError(f"invalid {where}: {first['msg']}") from None


# ---- syslog ------------------------------------------------------------------------------------

_RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$",
    re.S,
)
_RFC3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<tag>[^:\[\s]+)(?:\[(?P<pid>[^\]]*)\])?: ?(?P<msg>.*)$",
    re.S,
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _bsd_time(text: str, year: int) -> datetime:
    month = _MONTHS.get(text[:3])
    if month is None:
        raise ParseError(f"bad month in timestamp {text!r}")
    day, clock = int(text[4:6]), text[7:]
    hh, mm, ss = (int(x) for x in clock.split(":"))
    try:
        return datetime(year, month, day, hh, mm, ss, tzinfo=UTC)
    except ValueError as exc:
        raise ParseError(f"bad timestamp {text!r}: {exc}") from None


def parse_syslog(line: bytes | str, year: int, default_host: str = "unknown") -> SecurityEvent:
    """One syslog message (RFC 5424 first, else RFC 3164); 3164 lacks a year and zone: ``year``, UTC."""
    text = _text(line)
    m = _RFC5424.match(text)
    if m:
        if int(m["pri"]) > 191:
            raise ParseError(f"PRI {m['pri']} out of range 0..191")
        if m["ts"] == "-":
            raise ParseError("RFC 5424 message without a timestamp")
        try:
            time = datetime.fromisoformat(m["ts"].replace("Z", "+00:00"))
        except ValueError:
            raise ParseError(f"bad RFC 5424 timestamp {m['ts']!r}") from None
        if time.tzinfo is None:
            raise ParseError(f"RFC 5424 timestamp without zone {m['ts']!r}")
        msg = (m["msg"] or "").removeprefix("\ufeff")
        host = default_host if m["host"] == "-" else m["host"]
        app = None if m["app"] == "-" else m["app"]
        return classify(text, time, host, app, msg)
    m = _RFC3164.match(text)
    if m:
        if m["pri"] is not None and int(m["pri"]) > 191:
            raise ParseError(f"PRI {m['pri']} out of range 0..191")
        return classify(text, _bsd_time(m["ts"], year), m["host"], m["tag"], m["msg"])
    raise ParseError("neither an RFC 5424 nor an RFC 3164 syslog message")


_SSH_FAIL = re.compile(
    r"^(?:Failed (?:password|publickey|keyboard-interactive/pam) for (?:(?P<inv>invalid user) )?(?P<user>.*?)"
    r"|Invalid user (?P<user2>.*?)) from (?P<ip>[0-9a-fA-F.:]+)(?: port (?P<port>\d+))?"
)
_SSH_OK = re.compile(
    r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>[0-9a-fA-F.:]+) port (?P<port>\d+)"
)
_PAM_FAIL = re.compile(r"authentication failure;.*?rhost=(?P<ip>\S*)(?:\s+user=(?P<user>\S+))?")
_BAN = re.compile(r"\[(?P<jail>[^\]]+)\]\s+(?P<act>Ban|Unban|Found)\s+(?P<ip>[0-9a-fA-F.:]+)")


def classify(raw: str, time: datetime, host: str, process: str | None, msg: str) -> SecurityEvent:
    """A syslog MSG as a security event: SSH/PAM failures and successes, fail2ban actions, else system."""
    base: dict[str, Any] = {
        "time": time, "source_id": host[:128] or "unknown", "process": (process or "")[:64] or None,
    }
    if m := _SSH_FAIL.search(msg):
        return _build(raw, **base, category="auth", action="login", outcome="failure",
                      user=m["user"] or m["user2"], src_ip=m["ip"],
                      src_port=int(m["port"]) if m["port"] else None, proto="ssh", severity=3,
                      signature="invalid user" if (m["inv"] or m["user2"]) else "failed password")
    if m := _SSH_OK.search(msg):
        return _build(raw, **base, category="auth", action="login", outcome="success", user=m["user"],
                      src_ip=m["ip"], src_port=int(m["port"]), proto="ssh",
                      signature=f"accepted {m['method']}")
    if m := _PAM_FAIL.search(msg):
        return _build(raw, **base, category="auth", action="login", outcome="failure", user=m["user"],
                      src_ip=m["ip"] or None, severity=3, signature="pam authentication failure")
    if m := _BAN.search(msg):
        return _build(raw, **base, category="firewall", action=m["act"].lower(), src_ip=m["ip"],
                      rule_id=m["jail"][:64], signature=f"fail2ban {m['act'].lower()}", severity=2,
                      outcome="success")
    return _build(raw, **base, category="system", action="log", signature=msg[:256])


_FAIL2BAN = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:,\d+)? (?P<logger>\S+)\s*\[\d+\]: "
    r"(?P<level>\w+)\s+(?P<msg>.*)$"
)


def parse_fail2ban(line: bytes | str, host: str) -> SecurityEvent:
    """One line of fail2ban's own log.

    ``2024-01-01 10:00:00,123 fail2ban.actions [1]: NOTICE [sshd] Ban 1.2.3.4``
    """
    text = _text(line)
    m = _FAIL2BAN.match(text)
    if not m:
        raise ParseError("not a fail2ban log line")
    time = datetime.fromisoformat(m["ts"]).replace(tzinfo=UTC)
    return classify(text, time, host, "fail2ban", m["msg"])


# ---- web access logs ----------------------------------------------------------------------------

_ACCESS = apachelogs.LogParser(apachelogs.COMBINED)


def parse_access(line: bytes | str, host: str) -> SecurityEvent:
    """One combined-log-format line (Apache/nginx default) as a ``web`` event."""
    text = _text(line)
    try:
        entry = _ACCESS.parse(text)
    except apachelogs.Error as exc:
        raise ParseError(f"not a combined log format line: {exc}") from None
    if entry.request_time is None or entry.remote_host is None:
        raise ParseError("access line without time or client address")
    parts = (entry.request_line or "").split(" ")
    status = entry.final_status
    return _build(
        text, time=entry.request_time, source_id=host, category="web", src_ip=entry.remote_host,
        user=None if entry.remote_user in (None, "-") else entry.remote_user, proto="http",
        action=parts[0][:64] if parts else "", path=parts[1][:2048] if len(parts) > 1 else None,
        status=status, outcome="failure" if status is not None and status >= 400 else "success",
        signature=(entry.headers_in.get("User-Agent") or "")[:256],
    )


# ---- Suricata EVE -----------------------------------------------------------------------------

_EVE_CATEGORY = {"alert": "ids", "anomaly": "anomaly", "flow": "flow", "dns": "dns", "http": "http",
                 "tls": "tls"}


def _port(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParseError(f"{name} is not an integer: {value!r}")
    return value


def _str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{name} is not a string: {value!r}")
    return value


def parse_eve(line: bytes | str, default_host: str = "suricata") -> SecurityEvent:
    """One EVE JSON record; other event types (stats, fileinfo...) are refused with a reason."""
    text = _text(line)
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(rec, dict):
        raise ParseError("EVE record is not a JSON object")
    etype = rec.get("event_type")
    if etype not in _EVE_CATEGORY:
        raise ParseError(f"unsupported EVE event_type {etype!r}")
    ts = _str(rec.get("timestamp"), "timestamp")
    if ts is None:
        raise ParseError("EVE record without timestamp")
    try:
        time = datetime.fromisoformat(re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", ts))
    except ValueError:
        raise ParseError(f"bad EVE timestamp {ts!r}") from None
    if time.tzinfo is None:
        raise ParseError(f"EVE timestamp without zone {ts!r}")
    fields: dict[str, Any] = {
        "time": time, "source_id": (_str(rec.get("host"), "host") or default_host)[:128],
        "category": _EVE_CATEGORY[etype], "src_ip": _str(rec.get("src_ip"), "src_ip"),
        "src_port": _port(rec.get("src_port"), "src_port"), "dest_ip": _str(rec.get("dest_ip"), "dest_ip"),
        "dest_port": _port(rec.get("dest_port"), "dest_port"), "proto": _str(rec.get("proto"), "proto"),
        "process": "suricata", "action": etype,
    }
    sub = rec.get(etype)
    if sub is not None and not isinstance(sub, dict):
        raise ParseError(f"{etype} is not an object")
    sub = sub or {}
    if etype == "alert":
        sev = sub.get("severity", 3)
        if not isinstance(sev, int) or isinstance(sev, bool) or not 1 <= sev <= 4:
            raise ParseError(f"alert.severity is not 1..4: {sev!r}")
        sid = sub.get("signature_id")
        fields |= {"signature": (_str(sub.get("signature"), "alert.signature") or "")[:256],
                   "rule_id": None if sid is None else str(sid)[:64], "severity": sev,
                   "action": (_str(sub.get("action"), "alert.action") or "alert")[:64]}
        if sub.get("category"):
            fields["signature"] = fields["signature"] or str(sub["category"])[:256]
    elif etype == "anomaly":
        fields |= {"signature": str(sub.get("event") or sub.get("type") or "anomaly")[:256], "severity": 3}
    elif etype == "http":
        status = sub.get("status")
        fields |= {"path": (_str(sub.get("url"), "http.url") or "")[:2048] or None,
                   "status": status if isinstance(status, int) and 0 <= status <= 999 else None,
                   "signature": (_str(sub.get("http_user_agent"), "http.http_user_agent") or "")[:256]}
    elif etype == "dns":
        fields["signature"] = str(sub.get("rrname") or "")[:256]
    elif etype == "tls":
        fields["signature"] = str(sub.get("sni") or sub.get("subject") or "")[:256]
    elif etype == "flow":
        fields["signature"] = str(sub.get("state") or "")[:256]
        unanswered = sub.get("state") in ("new", "syn") and not sub.get("bytes_toclient")
        fields["outcome"] = "failure" if unanswered else "unknown"
    return _build(text, **fields)
