"""Security feed: parse + every rule on one core, for a mixed auth / access / EVE stream.

The baseline, in the same run, is the least any reader does with the same lines: ``json.loads``
of the EVE lines and a regex split of the others. Lines are SIMULATED from the formats OpenSSH,
nginx and Suricata write (documentation addresses 203.0.113.0/24, 198.51.100.0/24).

    .venv/bin/python -m bench.security_parse [--lines 60000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from bench.common import machine
from detectors.security.rules import SecurityDetector
from ingest.security.parsers import PARSERS, LineContext
from ingest.security.syslog import zone
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRuleSettings

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


AGENTS = [  # as browsers, a command-line client and a scanner send them (lengths matter to the rules)
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "curl/8.11.1",
    "sqlmap/1.8.12#stable (https://sqlmap.org)",
]


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
            status, agent = rng.choice([200, 200, 404, 500]), rng.choice(AGENTS)
            line = (f'{ip} - - [{(t + timedelta(hours=7)).strftime("%d/%b/%Y:%H:%M:%S")} +0700] '
                    f'"GET {path} HTTP/1.1" {status} 512 "-" "{agent}"')
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


class Stopwatch:
    """Wall time and this thread's CPU time together: on a machine shared with other work, the CPU
    time is what one core spent on the lines, the wall time what a reader waited."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.thread_time() - self._cpu


def baseline(stream: list[tuple[str, bytes]]) -> Stopwatch:
    with Stopwatch() as watch:
        for kind, line in stream:
            json.loads(line) if kind == "suricata" else SPLIT.split(line)
    return watch


def parse_and_rules(stream: list[tuple[str, bytes]], ctx: LineContext,
                    batch: int = 1000) -> tuple[Stopwatch, Stopwatch, int]:
    """Time to parse every line, time for every rule on the events, and the signals raised.

    Batch by batch, as the worker hands lines over (and the detector sees them): the events of one
    batch are let go before the next, as in the running system.
    """
    rules = SecurityDetector(SecurityRuleSettings())
    parse, judge = Stopwatch(), Stopwatch()
    signals = 0
    for start in range(0, len(stream), batch):
        with parse:
            parsed = [PARSERS[kind](line, ctx) for kind, line in stream[start:start + batch]]
        with judge:
            for e in parsed:
                signals += len(rules.observe(e))
    return parse, judge, signals


def batch_validation(stream: list[tuple[str, bytes]], ctx: LineContext) -> tuple[float, float]:
    """Seconds to validate the parsed events' fields one by one, and as one batch (a list TypeAdapter)."""
    fields = [e.model_dump() for e in (PARSERS[kind](line, ctx) for kind, line in stream)]
    t = time.perf_counter()
    for f in fields:
        SecurityEvent.model_validate(f)
    one_by_one = time.perf_counter() - t
    t = time.perf_counter()
    TypeAdapter(list[SecurityEvent]).validate_python(fields)
    return one_by_one, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=5, help="each path runs once per round, interleaved")
    args = parser.parse_args()
    stream = lines(args.lines)
    n = len(stream)
    ctx = LineContext(received=T0 + timedelta(days=1), host="gw", tz=zone("Asia/Ho_Chi_Minh"))
    rates: dict[str, list[tuple[float, float]]] = {"base": [], "parse": [], "total": []}
    signals = 0
    for _ in range(args.rounds):  # interleaved: a load that comes and goes hits every path alike
        base = baseline(stream)
        parse, judge, signals = parse_and_rules(stream, ctx)
        rates["base"].append((n / base.wall, n / base.cpu))
        rates["parse"].append((n / parse.wall, n / parse.cpu))
        rates["total"].append((n / (parse.wall + judge.wall), n / (parse.cpu + judge.cpu)))
    one, batch = batch_validation(stream[: min(n, 30_000)], ctx)
    print(f"machine: {machine()}")
    print(f"{n:,} lines (1/3 each auth, access, EVE), {args.rounds} rounds; lines/s, median of the rounds "
          f"(best), per wall-clock second and per CPU second of the one thread:")
    median = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
              for k, v in rates.items()}
    for key, name in (("base", "baseline json.loads / regex split"), ("parse", "parse into typed events"),
                      ("total", "parse + every security rule")):
        wall, cpu = median[key]
        print(f"  {name:36s} wall {wall:>9,.0f} ({max(w for w, _ in rates[key]):,.0f})  "
              f"cpu {cpu:>9,.0f} ({max(c for _, c in rates[key]):,.0f})   "
              f"{wall / median['base'][0]:.2f} / {cpu / median['base'][1]:.2f} of the baseline")
    print(f"  {signals} signals per round; pydantic validation of the same events: one by one "
          f"{min(n, 30_000) / one:,.0f}/s, one batch TypeAdapter {min(n, 30_000) / batch:,.0f}/s")


if __name__ == "__main__":
    main()
