"""The security feed: syslog as the RFCs write it, auth/fail2ban/web/EVE lines, rules, the store."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.security.rules import SecurityDetector
from ingest.publishing import PendingPublisher
from ingest.security.parsers import (
    LineContext,
    ParseError,
    parse_access_line,
    parse_auth_line,
    parse_eve_line,
    parse_fail2ban_line,
    parse_syslog_message,
)
from ingest.security.sockets import FromSender
from ingest.security.sources import TailSource, TcpSyslogSource, UdpSyslogSource
from ingest.security.syslog import SyslogError, SyslogFramer, parse_syslog, zone
from ingest.security.worker import SecurityWorker
from ioc.bus.memory import MemoryBus
from ioc.events import decode
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRuleSettings
from ioc.i18n import gettext
from ioc.store.database import Store
from ioc.store.writer import StoreWriter
from ioc.topics import DEAD_LETTERS
from tests.waiting import wait_for

HUE = zone("Asia/Ho_Chi_Minh")
RECEIVED = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
CTX = LineContext(received=RECEIVED, host="gw.hue.gov.vn", tz=HUE)

# RFC 5424 section 6.5, examples 1-4 (the spec's own messages; BOM as the RFC shows it)
RFC5424 = [
    b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for "
    b"lonvick on /dev/pts/8",
    b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
    b'eventSource="Application" eventID="1011"] \xef\xbb\xbfAn application event log entry...',
    b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
    b'eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
]
# RFC 3164 section 5.4, examples
RFC3164 = [b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
           b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"]


def test_the_rfc_examples_parse_with_their_fields() -> None:
    first = parse_syslog(RFC5424[0], RECEIVED)
    assert (first.host, first.app, first.facility, first.severity) == ("mymachine.example.com", "su", 4, 2)
    assert first.time == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert first.message == "'su root' failed for lonvick on /dev/pts/8"
    second = parse_syslog(RFC5424[1], RECEIVED)
    assert second.time == datetime(2003, 8, 24, 12, 14, 15, 3, tzinfo=UTC) and second.procid == "8710"
    assert parse_syslog(RFC5424[2], RECEIVED).message == "An application event log entry..."
    assert parse_syslog(RFC5424[3], RECEIVED).message == ""
    bsd = parse_syslog(RFC3164[0], datetime(2026, 10, 12, tzinfo=UTC))
    assert (bsd.host, bsd.app, bsd.time.year) == ("mymachine", "su", 2026)
    assert parse_syslog(RFC3164[1], RECEIVED).message == "Use the BFG!"
    assert parse_syslog(b"<34>1 - h a - - - no clock", RECEIVED).time == RECEIVED  # NILVALUE: received
    # RFC 3164 4.3.2: a valid PRI, no valid header (a router's, a bad date): kept whole, as received
    for text in (b"<189>52: *Mar  1 00:02:39.183: %SYS-5-CONFIG_I: Configured from console by vty0",
                 b"<38>Feb 30 10:00:00 gw sshd[1]: no such day", b"<38>2026-12-04T10:00:00+07:00"):
        kept, pri = parse_syslog(text, RECEIVED), int(text[1:text.index(b">")])
        assert (kept.time, kept.facility, kept.severity, kept.app) == (RECEIVED, pri >> 3, pri & 7, "-")
        assert kept.message == text.split(b">", 1)[1].decode()
    router = parse_syslog_message(b"<189>52: *Mar  1 00:02:39.183: %SYS-5-CONFIG_I: x", CTX)
    assert router.source_id == "gw.hue.gov.vn"
    # a December line read in January belongs to last year
    january = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert parse_syslog(b"<13>Dec 31 23:59:59 h app: x", january).time.year == 2026
    for bad, reason in [(b"no pri", "PRI"), (b"<999>1 2003-10-11T22:14:15Z h a - - -", "out of range"),
                        (b"<34>1 2003-10-11T22:14:15Z h a - - [x y", "closed"),
                        (b"<34>1 2003-10-11T22:14:15 h a - - -", "zone")]:
        with pytest.raises(SyslogError, match=reason):
            parse_syslog(bad, RECEIVED)


def test_log_lines_with_an_rfc3339_time_as_debian_12_rsyslog_writes_them() -> None:
    """Debian 12's rsyslog writes auth.log with high-precision RFC 3339 times (RSYSLOG_FileFormat),
    journalctl -o short-iso with a +hhmm zone, and RSYSLOG_ForwardFormat sends that form after <PRI>."""
    debian = (b"2026-12-06T02:38:29.742745+07:00 gw sshd[4242]: Failed password for invalid user admin "
              b"from 203.0.113.5 port 50022 ssh2")
    event = parse_auth_line(debian, CTX)
    assert (event.time, event.source_id, event.outcome, event.user, event.src_ip, event.src_port) == (
        datetime(2026, 12, 5, 19, 38, 29, 742745, tzinfo=UTC), "gw", "failure", "admin", "203.0.113.5", 50022)
    journal = b"2026-12-04T10:00:00+0700 gw sshd[7]: Accepted publickey for root from 192.0.2.1 port 22 ssh2"
    assert parse_auth_line(journal, CTX).time == datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    no_zone = b"2026-12-04T10:00:00.5 gw sshd[7]: Accepted publickey for root from 192.0.2.1 port 22 ssh2"
    assert parse_auth_line(no_zone, CTX).time == datetime(2026, 12, 4, 3, 0, 0, 500000, tzinfo=UTC)  # Huế's
    forwarded = parse_syslog(b"<86>" + debian, RECEIVED)
    assert (forwarded.facility, forwarded.severity) == (10, 6)
    assert (forwarded.app, forwarded.procid) == ("sshd", "4242")
    assert forwarded.time == event.time
    for bad, reason in [(b"2026-13-04T10:00:00+07:00 gw sshd[7]: x", "bad RFC 3339"),
                        (b"2026-12-04T10:00:00+07:00", "RFC 3339 time"),
                        (b"0001-01-01T00:00:00+07:00 gw sshd[7]: x", "out of range")]:
        with pytest.raises(ParseError, match=reason):
            parse_auth_line(bad, CTX)


def test_tcp_framing_octet_counted_and_newline_and_split_anywhere() -> None:
    stream = b"".join(f"{len(m)} ".encode() + m for m in RFC5424) + RFC3164[0] + b"\n"
    framer, got = SyslogFramer(), []
    for i in range(0, len(stream), 7):  # arrives in pieces
        frames, errors = framer.feed(stream[i:i + 7])
        got += frames
        assert errors == []
    assert got == [*RFC5424, RFC3164[0]]
    assert SyslogFramer().feed(b"99999999999 <34>x")[1]


def test_auth_fail2ban_web_and_eve_lines() -> None:
    failed = parse_auth_line(b"Dec  4 10:00:01 gw sshd[2211]: Failed password for invalid user admin from "
                             b"203.0.113.9 port 52311 ssh2", CTX)
    assert (failed.action, failed.outcome, failed.user, failed.src_ip, failed.src_port) == (
        "login", "failure", "admin", "203.0.113.9", 52311)
    assert failed.time == datetime(2026, 12, 4, 3, 0, 1, tzinfo=UTC) and failed.source_id == "gw"
    ok = parse_auth_line(b"Dec  4 10:00:09 gw sshd[2215]: Accepted publickey for lan from 2001:db8::7 "
                         b"port 6 ssh2", CTX)
    assert (ok.outcome, ok.user, ok.src_ip) == ("success", "lan", "2001:db8::7")
    ban = parse_fail2ban_line(b"2026-12-04 10:00:05,123 fail2ban.actions        [931]: NOTICE  [sshd] Ban "
                              b"203.0.113.9", CTX)
    assert (ban.action, ban.src_ip, ban.category) == ("ban", "203.0.113.9", "fail2ban:sshd")
    web = parse_access_line(b'203.0.113.9 - - [04/Dec/2026:10:00:01 +0700] '
                            b'"GET /index.php?id=1%27%20OR%201=1 HTTP/1.1" 404 512 "-" "sqlmap/1.7"', CTX)
    assert (web.status, web.outcome, web.user_agent) == (404, "failure", "sqlmap/1.7")
    eve = parse_eve_line(json.dumps({  # the record Wazuh's documentation shows from a real Suricata
        "timestamp": "2016-05-02T17:46:48.515262+0000", "flow_id": 1234, "in_iface": "eth0",
        "event_type": "alert", "src_ip": "16.10.10.10", "src_port": 5555, "dest_ip": "16.10.10.11",
        "dest_port": 80, "proto": "TCP", "alert": {
            "action": "allowed", "gid": 1, "signature_id": 2019236, "rev": 3,
            "signature": "ET WEB_SERVER Possible CVE-2014-6271 Attempt in HTTP Version Number",
            "category": "Attempted Administrator Privilege Gain", "severity": 1},
        "host": "suricata.com"}).encode(), CTX)
    assert (eve.action, eve.severity, eve.signature_id, eve.source_id, eve.proto) == (
        "ids_alert", 1, 2019236, "suricata.com", "tcp")
    for parse, bad, reason in [
        (parse_auth_line, b"garbage", "RFC 3164"), (parse_eve_line, b"{", "not JSON"),
        (parse_eve_line, b'{"event_type": 7, "timestamp": "2016-05-02T17:46:48Z"}', "not an event type"),
        (parse_eve_line, b'{"timestamp": "2016-05-02T17:46:48Z"}', "not an event type"),
        (parse_eve_line, b'{"event_type": "alert", "timestamp": "2016-05-02T17:46:48Z"}', "signature"),
        (parse_access_line, b"hello", "combined"), (parse_fail2ban_line, b"2026 x", "fail2ban"),
        (parse_auth_line, b"Dec  4 10:00:01 gw sshd[1]: a\x00b", "NUL"),
        *[(parse_eve_line, json.dumps({"event_type": "alert", "timestamp": "2016-05-02T17:46:48Z", "alert": {
            "signature": "ET SCAN", "signature_id": sid}}).encode(), "signature_id")
          for sid in (2**32, -1, 2**70)],  # a sid is 32 bits unsigned
    ]:
        with pytest.raises(ParseError, match=reason):
            parse(bad, CTX)
    assert parse_syslog_message(RFC5424[0], CTX).process == "su"


def f2b(clock: str, logger: str, level: str, message: str) -> bytes:
    """A fail2ban.log line in fail2ban's layout (``%(name)-24s[%(process)d]: %(levelname)-7s``)."""
    return f"2026-12-04 {clock} fail2ban.{logger:<15}[931]: {level:<7} {message}".encode()


# fail2ban 1.0's log of a start, a match, a ban lengthened by bantime.increment (its own wording)
FAIL2BAN_LOG = [
    f2b("10:00:00,101", "server", "INFO", "Starting Fail2ban v1.0.2"),
    f2b("10:00:00,205", "jail", "INFO", "Creating new jail 'sshd'"),
    f2b("10:00:00,230", "filter", "INFO", "  maxRetry: 5"),
    f2b("10:00:00,301", "jail", "INFO", "Jail 'sshd' started"),
    f2b("10:00:04,880", "filter", "INFO", "[sshd] Found 203.0.113.9 - 2026-12-04 10:00:04"),
    f2b("10:00:05,123", "actions", "NOTICE", "[sshd] Ban 203.0.113.9"),
    f2b("11:00:05,140", "actions", "NOTICE",
        "[sshd] Increase Ban 203.0.113.9 (2 # 2:00:00 -> 2026-12-04 13:00:05)"),
    f2b("13:00:05,150", "actions", "NOTICE", "[sshd] Unban 203.0.113.9"),
    b"not fail2ban at all",
]


def test_fail2ban_and_eve_records_of_no_event_are_counted_as_ignored_not_dead_letters() -> None:
    """A real fail2ban.log is mostly jail start-up lines, a real eve.json has stats every 8 s: both
    are well-formed lines of no event, not bad input."""
    bus = MemoryBus()

    class Lines:
        name, connected = "f2b", True

        def __init__(self, lines: list[bytes]) -> None:
            self.lines = lines

        def read(self, stop: threading.Event):  # noqa: ANN202
            yield self.lines, RECEIVED

        def take_errors(self) -> list[str]:
            return []

    worker = SecurityWorker(Lines(FAIL2BAN_LOG), bus.publisher(), log_kind="fail2ban", host="gw", tz=HUE)
    worker.run(threading.Event())
    events = [decode(m.value) for m in bus.subscribe(["ioc.security.events"], "t").poll(100, 0.1)]
    assert [(e.action, e.src_ip) for e in events] == [  # type: ignore[attr-defined]
        ("match", "203.0.113.9"), ("ban", "203.0.113.9"), ("ban", "203.0.113.9"), ("unban", "203.0.113.9")]
    health = worker.health
    assert (health["lines"], health["ignored"], health["dead_letters"]) == (9, 4, 1)
    assert health["ignored_kinds"] == {"fail2ban INFO": 4}
    records = [b'{"event_type": "stats", "timestamp": "2016-05-02T17:46:48Z"}',
               b'{"event_type": "fileinfo", "timestamp": "2016-05-02T17:46:48Z"}', b'{"event_type": 7}']
    eve = SecurityWorker(Lines(records), bus.publisher(), log_kind="suricata", host="ids", tz=HUE)
    eve.run(threading.Event())
    assert eve.health["ignored_kinds"] == {"EVE stats": 1, "EVE fileinfo": 1}
    assert eve.health["dead_letters"] == 1 and eve.feed_health().details["ignored"] == 2


def login(t: float, outcome: str, user: str, ip: str = "203.0.113.9") -> SecurityEvent:
    return SecurityEvent(time=RECEIVED + timedelta(seconds=t), source_id="gw", log="auth", action="login",
                         outcome=outcome, user=user, src_ip=ip)  # type: ignore[arg-type]


def test_brute_force_then_a_success_is_a_compromise_and_alerts_resolve_when_quiet() -> None:
    rules = SecurityDetector(SecurityRuleSettings(brute_force_failures=5, spraying_accounts=4,
                                                  clear_minutes=10))
    out = []
    for i in range(6):
        out += rules.observe(login(i, "failure", "root" if i < 3 else f"user{i}"))
    out += rules.observe(login(7, "success", "root"))
    out += rules.observe(login(8, "failure", "root", ip="198.51.100.1"))  # another address: alone
    fired = {(s.rule, s.fingerprint, s.severity) for s in out}
    assert fired == {("brute_force", "brute_force:203.0.113.9", "warning"),
                     ("spraying", "spraying:203.0.113.9", "warning"),
                     ("compromise", "compromise:203.0.113.9:root", "critical")}
    compromise = next(s for s in out if s.rule == "compromise")
    assert compromise.title == "Possible compromise: root logged in from 203.0.113.9 after 6 failures"
    assert gettext("alerts", compromise.title_template, "vi", **compromise.title_params) == (
        "Nghi bị xâm nhập: root đăng nhập từ 203.0.113.9 sau 6 lần thất bại")
    state = json.loads(json.dumps(rules.state()))
    again = SecurityDetector(rules.cfg)
    again.restore(state)
    assert again.advance(RECEIVED + timedelta(minutes=5)) == []
    resolved = again.advance(RECEIVED + timedelta(minutes=11))
    assert {s.status for s in resolved} == {"resolved"} and len(resolved) == 3


def test_port_scan_web_attack_and_ids_grouping() -> None:
    rules = SecurityDetector(SecurityRuleSettings(scan_ports=20, web_signatures=3, ids_min_severity=2))
    flows = [SecurityEvent(time=RECEIVED + timedelta(seconds=i), source_id="fw", log="suricata",
                           action="flow", src_ip="192.0.2.66", dest_ip="10.0.0.5", dest_port=20 + i)
             for i in range(25)]
    scans = [s for e in flows for s in rules.observe(e)]
    assert [s.fingerprint for s in scans] == ["port_scan:192.0.2.66"]
    web = [parse_access_line(f'203.0.113.50 - - [04/Dec/2026:10:00:0{i} +0700] '
                             f'"GET /../../etc/passwd HTTP/1.1" 400 10 "-" "curl/8"'.encode(), CTX)
           for i in range(3)]
    assert [s.rule for e in web for s in rules.observe(e)] == ["web_attack"]
    ids = [SecurityEvent(time=RECEIVED + timedelta(minutes=i), source_id="ids", log="suricata",
                         action="ids_alert", src_ip="198.51.100.7", dest_ip="10.0.0.5",
                         signature="ET SCAN Potential SSH Scan", signature_id=2001219, severity=2)
           for i in range(4)]
    grouped = [s for e in ids for s in rules.observe(e)]
    assert len(grouped) == 1 and grouped[0].severity == "warning"
    assert rules.open["ids:2001219:198.51.100.7"].details["count"] == 4
    low = SecurityEvent(time=RECEIVED, source_id="ids", log="suricata", action="ids_alert",
                        src_ip="1.2.3.4", signature="ET INFO x", severity=3)
    assert rules.observe(low) == []  # below the configured severity


def test_a_followed_log_survives_rotation_and_bad_lines_become_dead_letters(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"Dec  4 10:00:01 gw sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n")
    bus = MemoryBus()
    source = TailSource(log, name="auth", from_start=True, poll_s=0.05)
    worker = SecurityWorker(source, bus.publisher(), log_kind="auth", host="gw", tz=HUE)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: worker.events == 1, "the first line")
        with log.open("ab") as f:
            f.write(b"not a log line\nDec  4 10:00:02 gw sshd[1]: Failed password for root from 203.0.113.9 "
                    b"port 2 ssh2\n")
        wait_for(lambda: worker.events == 2 and worker.lines == 3, "appended lines")
        log.rename(tmp_path / "auth.log.1")  # logrotate: move and create
        log.write_bytes(b"Dec  4 10:00:03 gw sshd[1]: Accepted password for root from 203.0.113.9 "
                        b"port 3 ssh2\n")
        wait_for(lambda: worker.events == 3, "the new file after rotation")
        wait_for(lambda: not worker.out.pending, "published")
    finally:
        stop.set()
        thread.join(timeout=30)
    sub = bus.subscribe(["ioc.security.events", DEAD_LETTERS], "t")
    got = sub.poll(100, 0.1)
    events = [decode(m.value) for m in got if m.topic == "ioc.security.events"]
    assert [e.outcome for e in events] == ["failure", "failure", "success"]  # type: ignore[attr-defined]
    dead = [json.loads(m.value) for m in got if m.topic == DEAD_LETTERS]
    assert len(dead) == 1 and "RFC 3164" in dead[0]["reason"]


def test_a_rotated_log_kept_gzipped_is_read_whole_and_one_cut_short_up_to_the_cut(tmp_path: Path) -> None:
    """logrotate compresses last week's auth.log: an analyst points a feed at auth.log.2.gz."""
    import gzip

    lines = b"".join(b"Dec  4 10:00:%02d gw sshd[1]: Failed password for root from 203.0.113.9 port %d "
                     b"ssh2\n" % (i, i) for i in range(40))
    packed = gzip.compress(lines)
    cut = packed[: len(packed) * 2 // 3]
    for name, data, expected in (("auth.log.2.gz", packed, 40), ("cut.gz", cut, None)):
        path = tmp_path / name
        path.write_bytes(data)
        source = TailSource(path, name="auth", poll_s=0.05)  # not from_start: an archive is read whole
        stop, got = threading.Event(), []
        for batch, _ in source.read(stop):
            got += batch
            if not batch:  # idle: the file is read
                stop.set()
        errors = source.take_errors()
        if expected is not None:
            assert (len(got), errors) == (expected, [])
        else:
            assert 0 < len(got) < 40 and any("cut or corrupt" in e for e in errors), (len(got), errors)
            assert all(line.startswith(b"Dec  4") for line in got[:-1])  # whole lines, the cut one last


def test_a_flood_of_idle_tcp_connections_is_refused_past_the_cap_and_the_listener_serves_on() -> None:
    source = TcpSyslogSource("127.0.0.1", 0, name="syslog", max_connections=2)
    idle = [socket.create_connection(source.address, timeout=30) for _ in range(2)]
    try:
        wait_for(lambda: source.active == 2, "two senders connected")
        with socket.create_connection(source.address, timeout=30) as third:
            assert third.recv(1) == b""  # closed by the listener at once
        assert source.refused == 1 and "too many senders (2 connected)" in source.take_errors()[0]
        idle.pop().close()
        wait_for(lambda: source.active == 1, "a sender gone")
        with socket.create_connection(source.address, timeout=30) as sender:
            sender.sendall(RFC3164[0] + b"\n")
            assert source.messages.get(timeout=30) == RFC3164[0]
    finally:
        for s in idle:
            s.close()
        source.server.shutdown()
        source.server.server_close()


def test_syslog_over_udp_and_tcp_from_a_sender() -> None:
    """Each message keeps its own host; one without a valid header (a router's) is named by the
    address it came from, as RFC 3164 4.3.2 tells a relay to, not by the listener's configured host."""
    router = b"<189>52: *Mar  1 00:02:39.183: %SYS-5-CONFIG_I: Configured from console by vty0"
    for cls, kind in ((UdpSyslogSource, socket.SOCK_DGRAM), (TcpSyslogSource, socket.SOCK_STREAM)):
        source = cls("127.0.0.1", 0, name="syslog")
        bus = MemoryBus()
        worker = SecurityWorker(source, bus.publisher(), log_kind="syslog", host="gw", tz=HUE)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.2", 0))  # a sender of another address than the listener's
                s.connect(source.address[:2])
                for m in [*RFC5424, *RFC3164, router]:
                    s.send(f"{len(m)} ".encode() + m if kind == socket.SOCK_STREAM else m)
            wait_for(lambda w=worker: w.events == 7 and not w.out.pending,
                     f"seven messages over {cls.__name__}")
        finally:
            stop.set()
            thread.join(timeout=30)
        got = bus.subscribe(["ioc.security.events"], "t").poll(100, 0.1)
        hosts = sorted(decode(m.value).source_id for m in got)
        assert hosts == sorted(["mymachine.example.com", "192.0.2.1", "mymachine.example.com",
                                "mymachine.example.com", "mymachine", "10.0.0.99", "127.0.0.2"]), cls.__name__


def test_events_are_stored_once_with_their_minute_rollup(plain_store: Store) -> None:
    writer = StoreWriter(plain_store.pool, plain_store.caps)
    events = [login(i * 20, "failure", "root") for i in range(5)] + [login(130, "success", "root")]
    writer.write(events)
    writer.write(events[:3])  # a redelivered batch
    with plain_store.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM security_events").fetchone()[0] == 6
        rows = conn.execute("SELECT bucket, category, src_ip, events, failures FROM security_events_1m "
                            "ORDER BY bucket").fetchall()
    assert [(r[3], r[4]) for r in rows] == [(3, 3), (2, 2), (1, 0)]
    assert all(r[1] == "login" and r[2] == "203.0.113.9" for r in rows)


def test_sshds_pam_check_and_a_refused_key_are_no_more_failures_on_the_page(plain_store: Store) -> None:
    from ioc.feeds.security.queries import summary, top_sources
    from ioc.feeds.security.schema import apply_security_pam_checks

    lines = [line for i in range(3) for line in (
        f"Dec  4 09:0{i}:00 gw sshd[41{i}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
        f"euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
        f"Dec  4 09:0{i}:01 gw sshd[41{i}]: Failed password for root from 203.0.113.9 port 5{i} ssh2")] + [
        "Dec  4 09:03:00 gw sshd[420]: Failed publickey for root from 203.0.113.9 port 60 ssh2: RSA SHA256:x"]
    events = [parse_auth_line(line.encode(), CTX) for line in lines]
    assert [e.action for e in events] == ["pam_check", "login"] * 3 + ["key_refused"]
    StoreWriter(plain_store.pool, plain_store.caps).write(events)
    now = max(e.time for e in events) + timedelta(minutes=1)
    assert summary(plain_store.pool, now)["failures"] == 3
    top = top_sources(plain_store.pool, now - timedelta(hours=1))
    assert [(r["src_ip"], r["failures"], r["events"]) for r in top] == [("203.0.113.9", 3, 7)]
    with plain_store.pool.connection() as conn:  # as the rollup stood before: each try twice
        conn.execute("UPDATE security_events_1m SET failures = events")
        apply_security_pam_checks(conn, plain_store.caps)
    assert summary(plain_store.pool, now)["failures"] == 3


def test_a_web_request_is_stored_and_listed_with_its_site(plain_store: Store) -> None:
    from ioc.feeds.security.queries import latest

    line = (b'dichvucong.hue.gov.vn:443 203.0.113.44 - - [06/Dec/2026:07:15:02 +0700] "GET /wp-login.php '
            b'HTTP/1.1" 404 437 "-" "Mozilla/5.0 zgrab/0.x"')
    received = datetime(2026, 12, 6, 0, 16, tzinfo=UTC)
    event = parse_access_line(line, LineContext(received=received, host="web-1"))
    StoreWriter(plain_store.pool, plain_store.caps).write([event])
    [row] = latest(plain_store.pool, host="web-1")
    assert (row["vhost"], row["dest_port"], row["url"], row["src_ip"]) == (
        "dichvucong.hue.gov.vn", 443, "/wp-login.php", "203.0.113.44")


def test_pending_publisher_keeps_records_through_a_bus_failure() -> None:
    class Flaky:
        fails = 1
        sent: list = []

        def publish(self, topic: str, key: str | None, value: bytes) -> None:
            self.sent.append(topic)

        def flush(self, timeout: float | None = None) -> None:
            if self.fails:
                self.fails -= 1
                self.sent.clear()
                raise ConnectionError("down")

        def close(self) -> None:
            pass

    now = [0.0]
    out = PendingPublisher(Flaky(), "t", monotonic=lambda: now[0], backoff_initial=1.0)
    out.add("a", None, b"1")
    assert out.flush() is False and out.pending and out.publish_errors == 1
    assert out.flush() is False  # backing off
    now[0] = 1.5
    assert out.flush() is True and out.published["a"] == 1 and not out.pending


def rsyslog_of_our_own(tmp_path: Path, action: str) -> tuple[list[str], Path]:
    """An rsyslogd of its own: it reads a private Unix socket and does ``action`` with each message."""
    sock, conf = tmp_path / "log.sock", tmp_path / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{tmp_path}")\n'
                    f'module(load="imuxsock" SysSock.Use="off")\n'
                    f'input(type="imuxsock" Socket="{sock}" CreatePath="on")\n'
                    f'{action}\n')
    return ["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")], sock


def rsyslog_forwarding(tmp_path: Path, port: int, protocol: str,
                       template: str = "RSYSLOG_SyslogProtocol23Format") -> tuple[list[str], Path]:
    """An rsyslogd of its own that forwards to 127.0.0.1:port in ``template``."""
    framing = ' TCP_Framing="octet-counted"' if protocol == "tcp" else ""
    return rsyslog_of_our_own(tmp_path, f'action(type="omfwd" target="127.0.0.1" port="{port}" '
                                        f'protocol="{protocol}"{framing} template="{template}")')


@contextmanager
def rsyslog_feeding(command: list[str], worker: SecurityWorker) -> Iterator[None]:
    """The worker reading in a thread and our rsyslogd running, both stopped on the way out."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    rsyslog = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    try:
        yield
    finally:
        rsyslog.terminate()
        rsyslog.wait(timeout=30)
        stop.set()
        thread.join(timeout=30)


@pytest.mark.skipif(shutil.which("rsyslogd") is None or shutil.which("logger") is None,
                    reason="rsyslog and util-linux's logger are installed by scripts/setup --test")
@pytest.mark.parametrize(("protocol", "template"), [("udp", "RSYSLOG_SyslogProtocol23Format"),
                                                    ("tcp", "RSYSLOG_SyslogProtocol23Format"),
                                                    ("udp", "RSYSLOG_ForwardFormat"),
                                                    ("tcp", "RSYSLOG_TraditionalForwardFormat")])
def test_a_real_rsyslog_and_logger_reach_the_listener(tmp_path: Path, protocol: str, template: str) -> None:
    cls = UdpSyslogSource if protocol == "udp" else TcpSyslogSource
    source = cls("127.0.0.1", 0, name="syslog")
    bus = MemoryBus()
    worker = SecurityWorker(source, bus.publisher(), log_kind="syslog", host="gw", tz=HUE)
    command, sock = rsyslog_forwarding(tmp_path, source.address[1], protocol, template)
    with rsyslog_feeding(command, worker):
        wait_for(sock.exists, "rsyslogd's socket")
        line = "Failed password for invalid user admin from 203.0.113.9 port 52311 ssh2"
        # through rsyslog (RFC 5424 out, octet-counted on TCP), then logger straight to our port
        subprocess.run(["logger", "-u", str(sock), "-t", "sshd", "-i", line], check=True, timeout=30)
        flag = "--udp" if protocol == "udp" else "--tcp"
        direct = ["logger", "-n", "127.0.0.1", "-P", str(source.address[1]), flag, "--rfc5424",
                  "-t", "sshd", line]
        if protocol == "tcp":
            direct.insert(1, "--octet-count")
        subprocess.run(direct, check=True, timeout=30)
        wait_for(lambda: worker.events >= 2, f"both messages over {protocol}")
        wait_for(lambda: not worker.out.pending, "published")
    events = [decode(m.value) for m in bus.subscribe(["ioc.security.events"], "t").poll(100, 0.1)]
    logins = [e for e in events if e.action == "login"]  # type: ignore[attr-defined]
    assert len(logins) == 2, [e.raw for e in events]  # type: ignore[attr-defined]
    assert {e.src_ip for e in logins} == {"203.0.113.9"}  # type: ignore[attr-defined]
    assert worker.health["dead_letters"] == 0


@pytest.mark.skipif(shutil.which("rsyslogd") is None or shutil.which("logger") is None,
                    reason="rsyslog and util-linux's logger are installed by scripts/setup --test")
def test_an_auth_log_written_by_a_real_rsyslog_as_debian_12_configures_it(tmp_path: Path) -> None:
    """Debian 12's /etc/rsyslog.conf names no template: auth.log gets rsyslog's default file format."""
    log = tmp_path / "auth.log"
    command, sock = rsyslog_of_our_own(tmp_path, f"auth,authpriv.*\t{log}")
    bus = MemoryBus()
    worker = SecurityWorker(TailSource(log, name="auth", from_start=True, poll_s=0.05), bus.publisher(),
                            log_kind="auth", host="gw", tz=HUE)
    with rsyslog_feeding(command, worker):
        wait_for(sock.exists, "rsyslogd's socket")
        for line in ("Failed password for invalid user admin from 203.0.113.9 port 52311 ssh2",
                     "Accepted publickey for hue from 192.0.2.10 port 40022 ssh2"):
            subprocess.run(["logger", "-u", str(sock), "-p", "authpriv.info", "-t", "sshd", "-i", line],
                           check=True, timeout=30)
        wait_for(lambda: worker.lines >= 2, "both lines in auth.log")
        wait_for(lambda: not worker.out.pending, "published")
    written = log.read_text()
    assert written[:4].isdigit() and "T" in written[:11], written  # the RFC 3339 time first
    events = [decode(m.value) for m in bus.subscribe(["ioc.security.events"], "t").poll(100, 0.1)]
    assert [(e.outcome, e.src_ip) for e in events] == [  # type: ignore[attr-defined]
        ("failure", "203.0.113.9"), ("success", "192.0.2.10")], written
    assert worker.health["dead_letters"] == 0
    assert all(abs(e.time - datetime.now(UTC)) < timedelta(hours=1) for e in events)


def test_an_alert_breached_again_resolves_with_its_title_template() -> None:
    """A breach of a held alert refreshes its details; its resolution keeps the catalogue title."""
    rules = SecurityDetector(SecurityRuleSettings(brute_force_failures=3, clear_minutes=10,
                                                  enabled=["brute_force"]))
    fired = [s for i in range(6) for s in rules.observe(login(i, "failure", "root"))]
    assert [s.rule for s in fired] == ["brute_force"]
    [resolved] = rules.advance(RECEIVED + timedelta(minutes=11))
    assert resolved.status == "resolved" and resolved.title_template == fired[0].title_template
    assert resolved.title_params == fired[0].title_params and resolved.details["failures"] == 6


def test_a_files_byte_order_mark_is_not_part_of_its_first_line() -> None:
    docs = (Path(__file__).resolve().parent.parent / "sample_streams" / "security" / "suricata"
            / "eve-docs.json").read_bytes().splitlines()[0]
    assert parse_eve_line(b"\xef\xbb\xbf" + docs, CTX) == parse_eve_line(docs, CTX)


def test_long_urls_and_user_agents_are_kept_cut_to_the_record_limits() -> None:
    """Exploit traffic asks for long URLs with long user agents: the event is kept, its free-text
    fields cut to the record's limits (url 4,096, user agent and user 512), the whole line in raw."""
    docs = (Path(__file__).resolve().parent.parent / "sample_streams" / "security" / "suricata"
            / "eve-docs.json").read_bytes().splitlines()[0]
    record = json.loads(docs)  # Suricata's documented alert, with the http part of its http example
    url = "/index.php?s=/index/%5Cthink%5Capp/invokefunction&vars[1][]=" + "A" * 5000
    record["http"] = {"hostname": "direkte.vg.no", "url": url, "http_user_agent": "Mozilla/5.0 " + "x" * 600,
                      "http_content_type": "application/json", "http_refer": "http://www.vg.no/",
                      "http_method": "GET", "protocol": "HTTP/1.1", "status": 200, "length": 310}
    line = json.dumps(record).encode()
    alert = parse_eve_line(line, CTX)
    assert (alert.action, alert.signature_id, alert.status) == ("ids_alert", 2018358, 200)
    assert alert.url == url[:4096] and alert.user_agent == record["http"]["http_user_agent"][:512]
    assert alert.raw == line.decode()
    agent = "Mozilla/5.0 (compatible; " + "() { :; }; /bin/bash -c 'id' " * 20 + ")"
    assert len(agent) > 600
    web = parse_access_line(f'203.0.113.9 - - [04/Dec/2026:10:00:01 +0700] "GET /cgi-bin/status HTTP/1.1" '
                            f'200 512 "-" "{agent}"'.encode(), CTX)
    assert web.user_agent == agent[:512] and web.status == 200
    long_url = parse_access_line(f'203.0.113.9 - - [04/Dec/2026:10:00:01 +0700] "GET {url} HTTP/1.1" 414 0 '
                                 f'"-" "curl/8.5"'.encode(), CTX)
    assert long_url.url == url[:4096] and long_url.status == 414
    name = "a" * 600  # a user name an attacker chose
    failed = parse_auth_line(f"Dec  4 10:00:01 gw sshd[7]: Invalid user {name} from 203.0.113.9 port 2"
                             .encode(), CTX)
    assert (failed.outcome, failed.user, failed.src_ip) == ("failure", name[:512], "203.0.113.9")


def test_syslog_emergency_is_the_highest_severity() -> None:
    """Syslog's 0 (Emergency) and 1 (Alert) are the record's 1, 2-4 stay, Notice to Debug are 5."""
    severities = {}
    for pri in range(16):
        event = parse_syslog_message(f"<{pri}>Oct 22 10:52:12 scapegoat kernel: x".encode(), CTX)
        severities[pri] = event.severity
    assert severities == {0: 1, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 5, 7: 5,
                          8: 1, 9: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 5, 15: 5}  # <8>: user.emerg
    assert parse_auth_line(b"Oct 22 10:52:12 scapegoat kernel: x", CTX).severity == 5  # no <PRI>


def test_rsyslog_weird_and_date_samples_keep_their_time_and_host() -> None:
    """rsyslog's testsuites/weird.parse1 and date1.parse1: nothing after the host, a space before the
    date; each at its stated time and host, not at the receive time under its sender's name."""
    for text, when in [(b"<14>Aug 30 23:00:05 X4711", datetime(2026, 8, 30, 16, 0, 5, tzinfo=UTC)),
                       (b"<14>Aug 30 23:00:05 X4711 ", datetime(2026, 8, 30, 16, 0, 5, tzinfo=UTC)),
                       (b"<14>2010-08-30T23:00:05Z X4711", datetime(2010, 8, 30, 23, 0, 5, tzinfo=UTC)),
                       (b"<14>2010-08-30T23:00:05Z X4711 ", datetime(2010, 8, 30, 23, 0, 5, tzinfo=UTC))]:
        msg = parse_syslog(text, RECEIVED, HUE)
        assert (msg.time, msg.host, msg.app, msg.message, msg.severity) == (when, "X4711", "-", "", 6), text
        assert parse_syslog_message(FromSender(text, "192.0.2.9"), CTX).source_id == "X4711"
    msg = parse_syslog(b"<38> Mar  7 19:06:53 example tag: testmessage (only date actually tested)",
                       RECEIVED)
    assert (msg.time, msg.host, msg.app, msg.facility) == (
        datetime(2026, 3, 7, 19, 6, 53, tzinfo=UTC), "example", "tag", 4)
    assert msg.message == "testmessage (only date actually tested)"
    assert parse_syslog(b"<38>  2010-08-30T23:00:05Z gw sshd[1]: x", RECEIVED).host == "gw"
    assert parse_auth_line(b"Dec  4 10:00:01 gw", CTX).source_id == "gw"


def test_a_5424_message_without_a_hostname_is_named_by_its_sender() -> None:
    """A NILVALUE HOSTNAME names no host: each sender stays apart, named by its address."""
    text = b"<34>1 2003-10-11T22:14:15Z - - - - - msg"
    assert parse_syslog(text, RECEIVED).host == ""
    first = parse_syslog_message(FromSender(text, "192.0.2.10"), CTX)
    second = parse_syslog_message(FromSender(text, "192.0.2.11"), CTX)
    assert (first.source_id, second.source_id) == ("192.0.2.10", "192.0.2.11")
    assert first.time == datetime(2003, 10, 11, 22, 14, 15, tzinfo=UTC) and first.severity == 2
    assert parse_syslog_message(text, CTX).source_id == "gw.hue.gov.vn"  # no sender known: the feed's host
