"""Security parsers on real-format lines: the RFC 5424/3164 examples, sshd, access logs, Suricata EVE."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest.security.framing import FrameError, SyslogFramer
from ingest.security.parsers import ParseError, parse_access, parse_eve, parse_fail2ban, parse_syslog

# RFC 5424 section 6.5, examples 1, 2 and 3 (BOM written as U+FEFF)
RFC5424_1 = (
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
    "\ufeff'su root' failed for lonvick on /dev/pts/8"
)
RFC5424_2 = (
    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts."
)
RFC5424_3 = (
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
    'eventSource="Application" eventID="1011"] \ufeffAn application event log entry...'
)
# RFC 3164 section 5.4, example 1
RFC3164_1 = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"


def test_rfc5424_examples() -> None:
    e1 = parse_syslog(RFC5424_1, year=2003)
    assert (e1.source_id, e1.process, e1.time) == (
        "mymachine.example.com",
        "su",
        datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC),
    )
    assert e1.signature == "'su root' failed for lonvick on /dev/pts/8"
    e2 = parse_syslog(RFC5424_2, year=2003)
    assert e2.source_id == "192.0.2.1" and e2.time == datetime(2003, 8, 24, 12, 14, 15, 3, tzinfo=UTC)
    e3 = parse_syslog(RFC5424_3, year=2003)
    assert e3.process == "evntslog" and e3.signature == "An application event log entry..."
    assert e3.raw == RFC5424_3


def test_rfc3164_example_and_sshd_lines() -> None:
    e = parse_syslog(RFC3164_1, year=2026)
    assert e.source_id == "mymachine" and e.process == "su" and e.time.month == 10
    fail = parse_syslog(
        "Dec  5 06:10:01 hue-gw sshd[4242]: Failed password for invalid user admin from "
        "203.0.113.7 port 52144 ssh2",
        year=2026,
    )
    assert (fail.category, fail.outcome, fail.user, fail.src_ip, fail.src_port) == (
        "auth",
        "failure",
        "admin",
        "203.0.113.7",
        52144,
    )
    assert fail.signature == "invalid user"
    ok = parse_syslog(
        "<38>Dec  5 06:10:09 hue-gw sshd[4250]: Accepted password for root from 203.0.113.7 port 52150 ssh2",
        year=2026,
    )
    assert (ok.outcome, ok.user, ok.src_ip) == ("success", "root", "203.0.113.7")
    pam = parse_syslog(
        "Dec  5 06:11:00 hue-web su: pam_unix(su:auth): authentication failure; logname=x uid=1000 "
        "euid=0 tty=/dev/pts/0 ruser=x rhost=198.51.100.4  user=root",
        year=2026,
    )
    assert (pam.outcome, pam.src_ip, pam.user) == ("failure", "198.51.100.4", "root")


def test_fail2ban_and_access_lines() -> None:
    ban = parse_fail2ban(
        "2026-12-05 06:12:00,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban 203.0.113.7", host="hue-gw"
    )
    assert (ban.category, ban.action, ban.src_ip, ban.rule_id) == ("firewall", "ban", "203.0.113.7", "sshd")
    web = parse_access(
        '203.0.113.9 - - [05/Dec/2026:13:10:00 +0700] "GET /index.php?id=1%27%20UNION%20SELECT '
        'HTTP/1.1" 404 512 "-" "sqlmap/1.7"',
        host="hue-portal",
    )
    assert (web.category, web.status, web.outcome, web.action) == ("web", 404, "failure", "GET")
    assert web.time == datetime(2026, 12, 5, 6, 10, tzinfo=UTC) and web.signature == "sqlmap/1.7"
    assert web.path == "/index.php?id=1%27%20UNION%20SELECT"


EVE_ALERT = {
    "timestamp": "2026-12-05T13:00:00.123456+0700",
    "flow_id": 1,
    "event_type": "alert",
    "src_ip": "203.0.113.5",
    "src_port": 4444,
    "dest_ip": "10.0.0.8",
    "dest_port": 22,
    "proto": "TCP",
    "alert": {
        "action": "allowed",
        "gid": 1,
        "signature_id": 2001219,
        "rev": 20,
        "signature": "ET SCAN Potential SSH Scan",
        "category": "Attempted Information Leak",
        "severity": 2,
    },
}


def test_eve_records() -> None:
    e = parse_eve(json.dumps(EVE_ALERT))
    assert (e.category, e.severity, e.rule_id, e.dest_port, e.proto) == ("ids", 2, "2001219", 22, "TCP")
    assert e.time == datetime(2026, 12, 5, 6, 0, 0, 123456, tzinfo=UTC)
    http = parse_eve(
        json.dumps(
            {
                "timestamp": "2026-12-05T06:00:00Z",
                "event_type": "http",
                "src_ip": "1.2.3.4",
                "http": {"url": "/../../etc/passwd", "status": 404, "http_user_agent": "curl"},
            }
        )
    )
    assert (http.category, http.path, http.status) == ("http", "/../../etc/passwd", 404)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\xff\xfe broken", "not UTF-8"),
        ("Dec  5 06:10:01 host sshd[1]: ok\x00", "NUL byte"),
        ("x" * 2_000_000, "exceeds"),
        ("just words", "neither an RFC 5424 nor an RFC 3164"),
        ("<999>1 2026-12-05T00:00:00Z h a - - - m", "PRI 999"),
        ("<14>1 2026-12-05T00:00:00 h a - - - m", "without zone"),
    ],
)
def test_hostile_syslog_is_refused_with_a_reason(line: bytes | str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_syslog(line, year=2026)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"timestamp": "2026-12-05T06:00:00Z", "event_type": "alert"', "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"timestamp": "2026-12-05T06:00:00Z", "event_type": "stats"}', "unsupported EVE event_type"),
        (
            '{"timestamp": "2026-12-05T06:00:00Z", "event_type": "alert", "src_port": "22"}',
            "src_port is not an int",
        ),
        (
            '{"timestamp": "2026-12-05T06:00:00Z", "event_type": "alert", "alert": {"severity": 9}}',
            "severity",
        ),
        ('{"timestamp": 5, "event_type": "flow"}', "timestamp is not a string"),
        ('{"timestamp": "2026-12-05T06:00:00Z", "event_type": "flow", "src_port": 70000}', "src_port"),
    ],
)
def test_hostile_eve_is_refused_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_eve(line)


def test_access_garbage_is_refused() -> None:
    with pytest.raises(ParseError, match="combined log format"):
        parse_access("GET / HTTP/1.1", host="h")


def test_framing_octet_counted_and_lf_mixed_across_chunks() -> None:
    framer = SyslogFramer(max_frame=1000)
    m1, m2 = RFC5424_2.encode(), RFC3164_1.encode()
    stream = f"{len(m1)} ".encode() + m1 + m2 + b"\n" + f"{len(m1)} ".encode() + m1
    got: list[bytes | FrameError] = []
    for i in range(0, len(stream), 7):  # arrives in small pieces
        got += framer.feed(stream[i : i + 7])
    assert got == [m1, m2, m1]


def test_framing_refuses_oversized_frames_and_recovers() -> None:
    framer = SyslogFramer(max_frame=100)
    got = list(framer.feed(b"99999 " + b"x" * 50))
    assert isinstance(got[0], FrameError) and "exceeds" in str(got[0])
    got = list(framer.feed(b"<13>" + b"y" * 300))
    assert isinstance(got[0], FrameError)
    got = list(framer.feed(b"tail of the long one\n" + RFC3164_1.encode() + b"\n"))
    assert got == [RFC3164_1.encode()]
