"""fail2ban's real test logs (sample_streams/security/fail2ban) through the security parsers.

fail2ban annotates each line with the address its filter must blame (``# failJSON:``). Our auth
parser must never blame another one, log-injection lines included; every line is an event or a
dead letter with its reason.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.security.parsers import PARSERS, LineContext, ParseError

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "security" / "fail2ban"
CTX = LineContext(received=datetime(2026, 12, 5, tzinfo=UTC), host="sample")


def annotated(name: str) -> list[tuple[dict | None, bytes]]:
    out, expected = [], None
    for line in (SAMPLES / name).read_bytes().split(b"\n"):
        if line.startswith(b"# failJSON:"):
            expected = json.loads(line.removeprefix(b"# failJSON:"))
        elif line.strip() and not line.startswith(b"#"):
            out.append((expected, line))
            expected = None
    return out


@pytest.mark.parametrize(
    ("name", "log"), [("sshd", "auth"), ("apache-badbots", "web"), ("nginx-botsearch", "web")]
)
def test_every_line_is_an_event_or_a_dead_letter_with_a_reason(name: str, log: str) -> None:
    for _, line in annotated(name):
        try:
            PARSERS[log](line, CTX)
        except ParseError as exc:
            assert str(exc)


def test_sshd_failures_never_blame_an_address_fail2ban_would_not() -> None:
    checked = agreed = 0
    for expected, line in annotated("sshd"):
        if not (expected and expected.get("match") and expected.get("host")):
            continue
        if not re.search(rb"sshd\[\d+\]: (Failed password|Invalid user)", line):
            continue
        checked += 1
        try:
            event = PARSERS["auth"](line, CTX)
        except ParseError:
            continue
        if event.outcome == "failure":
            assert event.src_ip == expected["host"], line
            agreed += 1
    assert checked == 16 and agreed == 15  # the one left: an injection only fail2ban's full regex unpicks


REFUSALS = (rb"sshd\[\d+\]: (?:\[ID \d+ \S+\] )?(?:error: )?(?:PAM: [Aa]uthentication|ROOT LOGIN REFUSED|"
            rb"User \S+ from \S+ not allowed|maximum authentication attempts|"
            rb"Failed \S+ for <invalid username>)")


def test_sshd_and_pam_refusals_are_failures_of_the_address_fail2ban_blames() -> None:
    """PAM's "Authentication failure for X from H", "ROOT LOGIN REFUSED", "User X not allowed because",
    "maximum authentication attempts exceeded" and Solaris' tagged lines were plain syslog messages:
    an attacker refused by them counted no failure. Each is now a failure of fail2ban's address
    (an IPv4 address a dual-stack sshd wrote as ::ffff:1.2.3.4 as plain IPv4: one attacker, one
    address); one that names a host name, not an address, blames no one."""
    seen = by_name = 0
    for expected, line in annotated("sshd"):
        if not (expected and expected.get("match") and re.search(REFUSALS, line)):
            continue
        event = PARSERS["auth"](line, CTX)
        host = expected["host"]
        if not re.fullmatch(r"[0-9a-fA-F:.]+", host):  # "example.com": no address to blame
            assert event.outcome != "failure" or event.src_ip != host, line
            by_name += 1
            continue
        seen += 1
        assert event.outcome == "failure" and event.src_ip == host, (line, event.src_ip)
        assert event.user or b"<invalid username>" in line, line
    assert seen >= 15 and by_name >= 2, (seen, by_name)


def test_a_password_try_on_debians_sshd_counts_once_toward_brute_force() -> None:
    """With UsePAM (Debian's default) one wrong password is logged twice: by pam_unix inside sshd and
    by sshd itself ("Failed password"). Both were login failures, so brute force fired at half the
    failures its rule names. sshd's PAM line is now a PAM check; the same line from another program
    (login, su, an FTP server) is still that program's failed login."""
    from detectors.security.rules import SecurityDetector
    from ioc.feeds.security.settings import SecurityRuleSettings

    rules = SecurityDetector(SecurityRuleSettings(brute_force_failures=4))
    fired = []
    for i in range(3):  # three tries: six lines, three failures, below the rule's four
        for line in (f"Dec  5 09:0{i}:00 gw sshd[41{i}]: pam_unix(sshd:auth): authentication failure; "
                     f"logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
                     f"Dec  5 09:0{i}:01 gw sshd[41{i}]: Failed password for root from 203.0.113.9 "
                     f"port 5{i} ssh2"):
            event = PARSERS["auth"](line.encode(), CTX)
            assert event.outcome == "failure" and event.src_ip == "203.0.113.9"
            fired += rules.observe(event)
    assert fired == []
    check = PARSERS["auth"](b"Dec  5 09:00:00 gw sshd[410]: pam_unix(sshd:auth): authentication failure; "
                            b"logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root", CTX)
    assert check.action == "pam_check"
    other = PARSERS["auth"](b"Dec  5 09:00:00 gw vsftpd[77]: pam_unix(vsftpd:auth): authentication failure; "
                            b"logname= uid=0 euid=0 tty=ftp ruser=x rhost=203.0.113.9", CTX)
    assert other.action == "login" and other.outcome == "failure"


def test_keys_refused_before_the_accepted_one_are_no_failed_logins() -> None:
    """A client offers each key it holds until one is taken; fail2ban's log marks the refusals for a
    real account as no failure (gh-1263), those for an invalid user as failures. A user with several
    keys logged in, and brute force fired, then a "compromise" on the key accepted."""
    from detectors.security.rules import SecurityDetector
    from ioc.feeds.security.settings import SecurityRuleSettings

    offered = [(x, PARSERS["auth"](line, CTX)) for x, line in annotated("sshd")
               if b"Failed publickey" in line]
    assert len(offered) >= 4
    for x, event in offered:
        assert event.outcome == "failure", event.raw
        assert event.action == ("login" if x and x.get("match") else "key_refused"), event.raw
    rules = SecurityDetector(SecurityRuleSettings(brute_force_failures=2))
    session = [PARSERS["auth"](line, CTX) for _, line in annotated("sshd") if b"sshd[32307]" in line]
    assert [e.action for e in session][-2:] == ["login", "message"]  # accepted, then closed
    assert [a for e in session for a in rules.observe(e)] == []


def test_apache_bad_bots_are_web_requests_from_their_address() -> None:
    rows = [(x, PARSERS["web"](line, CTX)) for x, line in annotated("apache-badbots") if x and x.get("match")]
    plain = [(x, e) for x, e in rows if "vhost" not in x.get("desc", "")]
    assert len(plain) == 3 and all(e.src_ip == x["host"] for x, e in plain)
    # a line with the virtual host first: the client is the field after it
    [(x, e)] = [(x, e) for x, e in rows if "vhost" in x.get("desc", "")]
    assert e.src_ip == x["host"]


def test_nginx_lines_with_the_forwarded_for_field_are_requests() -> None:
    """nginx's example "main" format adds ``"$http_x_forwarded_for"`` after the combined fields."""
    access = [(x, line) for x, line in annotated("nginx-botsearch") if re.match(rb"\S+ \S+ \S+ \[", line)]
    rows = [(x, PARSERS["web"](line, CTX)) for x, line in access]  # (its error.log lines stay dead letters)
    assert len(rows) >= 4 and all(e.src_ip == x["host"] and e.status == 404 for x, e in rows if x)
    assert rows[0][1].url == "//phpMyAdmin-2.8.2.3/scripts/setup.php"


# The access-log formats real servers write besides nginx's and Apache's combined default, as their
# LogFormat lines define them (Debian's apache2.conf: vhost_combined for other_vhosts_access.log,
# common; Apache's vhost_common; nginx's log_format with more variables after the combined ones).
OTHER_FORMATS = [
    # vhost_combined: %v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"
    b'dichvucong.hue.gov.vn:443 203.0.113.44 - - [06/Dec/2026:07:15:02 +0700] "GET /wp-login.php HTTP/1.1" '
    b'404 437 "-" "Mozilla/5.0 zgrab/0.x"',
    # common: %h %l %u %t "%r" %>s %b
    b'198.51.100.23 - admin [06/Dec/2026:07:15:03 +0700] "POST /admin/login HTTP/1.0" 401 -',
    # vhost_common: %v %h %l %u %t "%r" %>s %b
    b'hue.gov.vn 198.51.100.23 - - [06/Dec/2026:07:15:04 +0700] "GET /../../etc/passwd HTTP/1.1" 400 226',
]
NGINX_TIMED = (b'203.0.113.45 - - [06/Dec/2026:07:15:05 +0700] "GET /?id=1%27%20OR%201=1 HTTP/1.1" 403 153 '
               b'"-" "sqlmap/1.8" "-" rt=0.002 uct="0.000" 10.0.0.7:8080')  # $request_time, upstream...


def test_access_lines_of_other_formats_are_requests_of_the_client() -> None:
    """The client address, not the virtual host, is the source; no referer and agent in common."""
    vhost, common, vhost_common = (PARSERS["web"](line, CTX) for line in OTHER_FORMATS)
    assert (vhost.src_ip, vhost.url, vhost.status, vhost.user_agent) == (
        "203.0.113.44", "/wp-login.php", 404, "Mozilla/5.0 zgrab/0.x")
    assert (common.src_ip, common.user, common.status, common.user_agent, common.outcome) == (
        "198.51.100.23", "admin", 401, None, "failure")
    assert (vhost_common.src_ip, vhost_common.url) == ("198.51.100.23", "/../../etc/passwd")
    # the site a request was for: %v (and %p, the server's port) of the vhost formats, none otherwise
    assert (vhost.vhost, vhost.dest_port) == ("dichvucong.hue.gov.vn", 443)
    assert (vhost_common.vhost, vhost_common.dest_port) == ("hue.gov.vn", None)
    assert (common.vhost, common.dest_port) == (None, None)
    escaped = PARSERS["web"](b'[2001:db8::7]:8443 203.0.113.44 - - [06/Dec/2026:07:15:02 +0700] "GET /a\\"b '
                             b'HTTP/1.1" 404 437 "-" "curl/8.5"', CTX)  # apachelogs' path: an escaped quote
    assert (escaped.vhost, escaped.dest_port, escaped.user_agent) == ("[2001:db8::7]", 8443, "curl/8.5")
    timed = PARSERS["web"](NGINX_TIMED, CTX)
    assert (timed.src_ip, timed.status, timed.user_agent) == ("203.0.113.45", 403, "sqlmap/1.8")
    assert timed.time == datetime(2026, 12, 6, 0, 15, 5, tzinfo=UTC)


def test_hostile_access_lines_are_dead_letters() -> None:
    """A megabyte of tokens, a line cut inside the request, a bad date: reasons, not hangs or crashes."""
    for line in (b"a " * 500_000 + b"[", b"x" * 1_000_000,
                 b"a " * 30_000 + b"[06/Dec/2026:07:15:05 +0700]",  # apachelogs needs 77 s to refuse this one
                 b'1.2.3.4 - - [06/Dec/2026:07:15:05 +0700] "GET /\\" HTTP/1.1" 200 - ' + b'"a" ' * 15_000,
                 b"203.0.113.9 - - [06/Dec/2026:07:15:05 +0700] \"GET /",
                 b'203.0.113.9 - - [31/Feb/2026:07:15:05 +0700] "GET / HTTP/1.1" 200 1 "-" "-"',
                 b'- - - [06/Dec/2026:07:15:05 +0700] "' + b'"' * 100_000):
        with pytest.raises(ParseError) as caught:
            PARSERS["web"](line, CTX)
        assert str(caught.value)


def test_the_fast_access_pattern_reads_what_apachelogs_reads() -> None:
    """The precompiled pattern and apachelogs (the fallback for escaped quotes) agree on every line."""
    import apachelogs

    from ingest.security import parsers

    lines = [line for name in ("apache-badbots", "nginx-botsearch") for _, line in annotated(name)]
    lines += [b'203.0.113.9 - alice [04/Dec/2026:10:00:01 -0330] "GET /a?q=%27 HTTP/1.1" 500 - "-" "curl/8"',
              *OTHER_FORMATS,
              b'203.0.113.9 - - [04/Dec/2026:10:00:01 +0700] "GET /\\"x HTTP/1.1" 404 5 "-" "a \\"b\\""']
    compared = 0
    for line in lines:
        text = line.decode()
        entry = None
        vhost = text.split(" [", 1)[0].count(" ") == 3
        for parser in parsers._VHOST_ACCESS if vhost else parsers._ACCESS:
            try:
                entry = parser.parse(text)
                break
            except apachelogs.InvalidEntryError:
                continue
        if entry is None:
            continue
        event = PARSERS["web"](line, CTX)
        assert (event.time, event.src_ip, event.status, event.user, event.user_agent) == (
            entry.request_time, entry.remote_host, entry.final_status,
            None if entry.remote_user in (None, "-") else entry.remote_user,
            getattr(entry, "headers_in", {}).get("User-Agent") or None), line
        assert event.url == (entry.request_line or "").split(" ")[1], line
        compared += 1
    assert compared >= 10 + len(OTHER_FORMATS)  # (the samples' error.log lines are access lines for neither)
    assert parsers._COMBINED.match(lines[-1].decode()) is None  # escaped quotes: apachelogs reads it


def test_the_eve_records_of_suricatas_own_documentation() -> None:
    """Suricata's user guide's complete records: offsets without a colon, a 1969 time, ports 0."""
    lines = (SAMPLES.parent / "suricata" / "eve-docs.json").read_bytes().splitlines()
    alert, *anomalies = (PARSERS["suricata"](line, CTX) for line in lines)
    assert (alert.action, alert.time, alert.src_ip, alert.src_port, alert.dest_ip, alert.dest_port,
            alert.proto, alert.signature_id, alert.severity, alert.category) == (
        "ids_alert", datetime(2017, 4, 7, 21, 24, 37, 251547, tzinfo=UTC), "192.168.2.14", 50096,
        "209.53.113.5", 80, "tcp", 2018358, 2, "Potentially Bad Traffic")
    assert [(a.action, a.signature, a.src_port) for a in anomalies] == [
        ("anomaly", "decoder.udp.pkt_too_small", 0),
        ("anomaly", "APPLAYER_DETECT_PROTOCOL_ONLY_ONE_DIRECTION", 49324),
        ("anomaly", "INVALID_RECORD_TYPE", 49323)]
    assert anomalies[0].time == datetime(1970, 1, 1, 0, 4, 21, tzinfo=UTC)
    # the extended HTTP example of the same page writes the status as a string
    http = (b'{"timestamp": "2017-04-07T22:24:37.251547+0100", "event_type": "http",'
            b' "src_ip": "192.168.2.14", "src_port": 50096, "dest_ip": "209.53.113.5", "dest_port": 80,'
            b' "proto": "TCP", "http": {'
            b'"hostname": "direkte.vg.no", "url": ".....", "http_user_agent": "<User-Agent>",'
            b' "http_content_type": "application\\/json", "http_refer": "http:\\/\\/www.vg.no\\/",'
            b' "http_method": "GET",'
            b' "protocol": "HTTP\\/1.1", "status": "200", "length": 310}}')
    assert PARSERS["suricata"](http, CTX).status == 200
    with pytest.raises(ParseError, match="http.status"):
        PARSERS["suricata"](http.replace(b'"200"', b'"2OO"'), CTX)


def test_sshds_own_penalties_are_bans_and_its_drops_refusals() -> None:
    """OpenSSH 9.8+ (Debian 13's 10.0) penalises sources itself (PerSourcePenalties, on by default).
    The lines are written as srclimit.c and sshd.c format them; the first two as ssh-audit's issue
    #349 quotes a stock OpenSSH 10.3p1 writing them."""
    lines = {
        b"Dec  8 10:00:00 gw sshd[812]: srclimit_penalise: 127.0.0.1/32: activating ipv4 penalty of 15 "
        b"seconds for penalty: connections without attempting authentication":
            ("ban", "127.0.0.1", "connections without attempting authentication"),
        b"Dec  8 10:00:01 gw sshd[812]: drop connection #2 from [127.0.0.1]:40046 on [127.0.0.1]:22 "
        b"penalty: connections without attempting authentication":
            ("refused", "127.0.0.1", "penalty: connections without attempting authentication"),
        b"Dec  8 10:00:02 gw sshd[812]: srclimit_penalise: ipv4: new 203.0.113.0/24 active penalty of 30 "
        b"seconds for penalty: failed authentication": ("ban", "203.0.113.0/24", "failed authentication"),
        b"Dec  8 10:00:03 gw sshd[812]: srclimit_penalise: ::ffff:198.51.100.7/128: activating ipv6 penalty "
        b"of 600 seconds for penalty: caused crash": ("ban", "198.51.100.7", "caused crash"),
        b"Dec  8 10:00:04 gw sshd[812]: drop connection #11 from [2001:db8::5]:5022 on [2001:db8::1]:22 "
        b"past MaxStartups": ("refused", "2001:db8::5", "past MaxStartups"),
        # a deferred penalty is no ban yet; and only sshd speaks for sshd
        b"Dec  8 10:00:05 gw sshd[812]: srclimit_penalise: ipv4: new 192.0.2.9/32 deferred penalty of 5 "
        b"seconds for penalty: failed authentication": ("message", None, None),
        b"Dec  8 10:00:06 gw cron[77]: srclimit_penalise: 192.0.2.9/32: activating ipv4 penalty of 15 "
        b"seconds for penalty: failed authentication": ("message", None, None),
    }
    for line, expected in lines.items():
        event = PARSERS["auth"](line, CTX)
        assert (event.action, event.src_ip, event.signature) == expected, line
    ban = PARSERS["auth"](next(iter(lines)), CTX)
    assert ban.outcome == "success" and ban.process == "sshd" and ban.severity == 2
