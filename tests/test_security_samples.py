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


def test_apache_bad_bots_are_web_requests_from_their_address() -> None:
    rows = [(x, PARSERS["web"](line, CTX)) for x, line in annotated("apache-badbots") if x and x.get("match")]
    plain = [(x, e) for x, e in rows if "vhost" not in x.get("desc", "")]
    assert len(plain) == 3 and all(e.src_ip == x["host"] for x, e in plain)
    # a vhost_combined line (virtual host first) is read as combined: the vhost taken for the client
    [(x, e)] = [(x, e) for x, e in rows if "vhost" in x.get("desc", "")]
    assert e.src_ip != x["host"]  # known limitation, kept visible: a [feeds.options] format is not there yet
