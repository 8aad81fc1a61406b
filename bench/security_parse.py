"""Security feed: parse + every rule on one core, for a mixed auth / access / EVE stream.

The baseline, in the same run, is the least any reader does with the same lines: ``json.loads``
of the EVE lines and a regex split of the others. Lines are SIMULATED from the formats OpenSSH,
nginx and Suricata write (documentation addresses 203.0.113.0/24, 198.51.100.0/24).

    .venv/bin/python -m bench.security_parse [--lines 200000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta

from bench.common import machine
from detectors.security.rules import SecurityDetector
from ingest.security.parsers import PARSERS, LineContext
from ingest.security.syslog import zone
from ioc.feeds.security.settings import SecurityRuleSettings

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def lines(n: int) -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    out: list[tuple[str, bytes]] = []
    for i in range(n):
        t = T0 + timedelta(seconds=i / 100)
        ip = f"203.0.113.{rng.randrange(1, 255)}"
        kind = i % 3
        if kind == 0:
            what = rng.choice(["Failed password for root", "Failed password for invalid user admin",
                               "Accepted publickey for lan"])
            line = f"Dec  4 {10 + t.hour - 3:02d}:{t.minute:02d}:{t.second:02d} gw sshd[{2000 + i % 500}]: " \
                   f"{what} from {ip} port {rng.randrange(1024, 65535)} ssh2"
            out.append(("auth", line.encode()))
        elif kind == 1:
            path = rng.choice(["/", "/index.php?id=1%27%20OR%201=1", "/dich-vu-cong", "/../../etc/passwd"])
            line = (f'{ip} - - [{(t + timedelta(hours=7)).strftime("%d/%b/%Y:%H:%M:%S")} +0700] '
                    f'"GET {path} HTTP/1.1" {rng.choice([200, 200, 404, 500])} 512 "-" "Mozilla/5.0"')
            out.append(("web", line.encode()))
        else:
            doc = {"timestamp": t.isoformat().replace("+00:00", "+0000"), "event_type": "alert",
                   "src_ip": ip, "src_port": rng.randrange(1024, 65535), "dest_ip": "10.0.0.5",
                   "dest_port": rng.randrange(1, 1024), "proto": "TCP",
                   "alert": {"signature_id": 2001219, "signature": "ET SCAN Potential SSH Scan",
                             "category": "Attempted Information Leak", "severity": 2}}
            out.append(("suricata", json.dumps(doc).encode()))
    return out


SPLIT = re.compile(rb"\s+")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    stream = lines(args.lines)
    t = time.perf_counter()
    for kind, line in stream:
        json.loads(line) if kind == "suricata" else SPLIT.split(line)
    baseline = len(stream) / (time.perf_counter() - t)
    ctx = LineContext(received=T0 + timedelta(days=1), host="gw", tz=zone("Asia/Ho_Chi_Minh"))
    rules = SecurityDetector(SecurityRuleSettings())
    t = time.perf_counter()
    parsed = [PARSERS[kind](line, ctx) for kind, line in stream]
    parse_rate = len(stream) / (time.perf_counter() - t)
    t = time.perf_counter()
    signals = sum(len(rules.observe(e)) for e in parsed)
    rules_s = time.perf_counter() - t
    total = len(stream) / (len(stream) / parse_rate + rules_s)
    print(f"machine: {machine()}")
    print(f"{len(stream):,} lines (1/3 each auth, access, EVE); baseline json.loads/regex split "
          f"{baseline:,.0f} lines/s; parse {parse_rate:,.0f} lines/s; parse + rules {total:,.0f} lines/s "
          f"= {total / baseline:.2f} of the baseline; {signals} signals")


if __name__ == "__main__":
    main()
