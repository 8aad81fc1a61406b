"""The security rules, pure and in event time: brute force, compromise, spraying, scans, web attacks, IDS.

One detector reads ``security.event`` records and keeps, per source address, event-time windows
(:class:`KeyedWindow`), so late and duplicate records give the same signals as an ordered stream.
Each condition fires once per fingerprint; it resolves when event time has passed its window
with no new evidence. Allow-listed addresses, networks and users never raise anything.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta
from typing import Any

from detectors.base import check_version, dump_time, load_time
from detectors.security.windows import KeyedWindow
from ioc.events import AlertSignal, Event
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRules

NAME = "security"
VERSION = 1

WEB_ATTACK = re.compile(
    r"(union(\s|%20|\+)+select|select.+from|'\s*or\s*'?1'?\s*=\s*'?1|%27|<script|%3cscript|"
    r"\.\./|\.\.%2f|%2e%2e|/etc/passwd|cmd\.exe|\$\{jndi:|wp-login\.php|phpmyadmin|\.env\b|/\.git/)",
    re.I,
)
SCANNER_AGENT = re.compile(
    r"(sqlmap|nikto|nmap|masscan|zgrab|nuclei|dirbuster|gobuster|wpscan|acunetix)", re.I
)
IDS_SEVERITY = {1: "critical", 2: "warning", 3: "info", 4: "info"}


def _item(e: SecurityEvent, extra: str) -> str:
    return f"{extra}|{e.source_id}|{zlib.crc32(e.raw.encode()) if e.raw else ''}"


class SecurityDetector:
    """Every ``[rules.security]`` rule in one detector (they share the per-address windows)."""

    name = NAME
    kinds = frozenset({"security.event"})

    def __init__(self, rules: SecurityRules) -> None:
        self.rules = rules
        s = timedelta(seconds=1)
        self.fail = KeyedWindow(s * rules.brute_force_window_s)
        self.spray = KeyedWindow(s * rules.spray_window_s)
        self.scan = KeyedWindow(s * rules.scan_window_s)
        self.web = KeyedWindow(s * rules.web_errors_window_s)
        self.firing: dict[str, list[str]] = {}  # fingerprint -> [last evidence time, rule, source]
        self.ids_counts: dict[str, int] = {}
        self.last_seen: dict[str, str] = {}
        self.silent: set[str] = set()
        self.clock_start: str | None = None

    # ---- helpers --------------------------------------------------------------------------------
    def _fire(self, e: Event, rule: str, key: str, severity: str, title: str, area: str | None,
              details: dict[str, Any], refire: bool = False) -> list[AlertSignal]:
        fp = f"{NAME}:{rule}:{key}"
        known = self.firing.get(fp)
        if known is None:
            self.firing[fp] = [dump_time(e.time) or "", rule, e.source_id]
        elif e.time > (load_time(known[0]) or e.time):
            known[0] = dump_time(e.time) or ""
        if known is not None and not refire:
            return []
        return [AlertSignal(
            time=e.time, source_id=e.source_id, detector=NAME, rule=rule, fingerprint=fp[:256],
            status="firing",
            severity=severity, title=title[:512], area=area, details=details,  # type: ignore[arg-type]
        )]

    # ---- the rules ------------------------------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, SecurityEvent):
            return []
        out = self._seen(event)
        if self.rules.allowed(event.src_ip, event.user):
            return out
        if event.category == "auth" and event.src_ip:
            out += self._auth(event)
        if event.dest_port is not None and event.src_ip and event.category in ("flow", "ids", "firewall"):
            out += self._scan(event)
        if event.category in ("web", "http") and event.src_ip:
            out += self._web(event)
        if event.category == "ids":
            out += self._ids(event)
        return out

    def _auth(self, e: SecurityEvent) -> list[AlertSignal]:
        ip, r, out = e.src_ip or "", self.rules, []
        if e.outcome == "failure":
            self.fail.add(ip, e.time, _item(e, e.user or ""))
            self.spray.add(ip, e.time, _item(e, e.user or ""))
            n = max((len(w) for w in self.fail.around(ip, e.time)), default=0)
            if n >= r.brute_force_failures:
                out += self._fire(e, "brute_force", ip, "warning",
                                  f"Brute force from {ip}: {n} failed logins", ip,
                                  {"src_ip": ip, "failures": n, "host": e.source_id})
            spans = self.spray.around(ip, e.time)
            users = max((len({i.split("|")[0] for _, i in w}) for w in spans), default=0)
            if users >= r.spray_accounts:
                out += self._fire(e, "password_spray", ip, "warning",
                                  f"Password spraying from {ip}: {users} accounts", ip,
                                  {"src_ip": ip, "accounts": users, "host": e.source_id})
        elif e.outcome == "success":
            before = [t for t, _ in self.fail.entries.get(ip, [])
                      if e.time - self.fail.width <= t <= e.time]
            if len(before) >= r.brute_force_failures:
                out += self._fire(e, "possible_compromise", f"{ip}:{e.source_id}:{e.user}", "critical",
                                  f"Possible compromise: {e.user} logged in on {e.source_id} from {ip} "
                                  f"after {len(before)} failures", ip,
                                  {"src_ip": ip, "user": e.user, "failures": len(before),
                                   "host": e.source_id})
        return out

    def _scan(self, e: SecurityEvent) -> list[AlertSignal]:
        ip, r = e.src_ip or "", self.rules
        self.scan.add(ip, e.time, f"{e.dest_ip}|{e.dest_port}")
        out: list[AlertSignal] = []
        for w in self.scan.around(ip, e.time):
            ports = len({i.split("|")[1] for _, i in w})
            hosts = len({i.split("|")[0] for _, i in w})
            if ports >= r.scan_ports or hosts >= r.scan_hosts:
                out += self._fire(e, "port_scan", ip, "warning",
                                  f"Scan from {ip}: {ports} ports, {hosts} hosts", ip,
                                  {"src_ip": ip, "ports": ports, "hosts": hosts})
                break
        return out

    def _web(self, e: SecurityEvent) -> list[AlertSignal]:
        ip, out = e.src_ip or "", []
        hit = WEB_ATTACK.search(e.path or "")
        agent = SCANNER_AGENT.search(e.signature or "") if e.category == "web" else None
        if hit or agent:
            why = hit.group(0) if hit else agent.group(0)  # type: ignore[union-attr]
            out += self._fire(e, "web_attack", f"{ip}:{e.source_id}", "warning",
                              f"Web attack from {ip} on {e.source_id}: {why}", ip,
                              {"src_ip": ip, "host": e.source_id, "path": (e.path or "")[:256], "match": why})
        if e.status is not None and e.status >= 400:
            self.web.add(ip, e.time, _item(e, str(e.path)))
            n = max((len(w) for w in self.web.around(ip, e.time)), default=0)
            if n >= self.rules.web_errors:
                out += self._fire(e, "web_errors", ip, "warning", f"Burst of {n} HTTP errors from {ip}", ip,
                                  {"src_ip": ip, "errors": n})
        return out

    def _ids(self, e: SecurityEvent) -> list[AlertSignal]:
        key = f"{e.rule_id or e.signature}:{e.src_ip or ''}"
        fp = f"{NAME}:ids:{key}"
        self.ids_counts[fp] = self.ids_counts.get(fp, 0) + 1
        count = self.ids_counts[fp]
        refire = count in (1, 10, 100, 1000)  # the grouped alert's count is updated at orders of magnitude
        return self._fire(e, "ids", key, IDS_SEVERITY.get(e.severity, "info"),
                          f"IDS: {e.signature} from {e.src_ip or '?'}", e.src_ip,
                          {"signature": e.signature, "rule_id": e.rule_id, "src_ip": e.src_ip,
                           "dest_ip": e.dest_ip, "count": count}, refire=refire)

    def _seen(self, e: SecurityEvent) -> list[AlertSignal]:
        host, out = e.source_id, []
        prev = load_time(self.last_seen.get(host))
        if prev is None or e.time > prev:
            self.last_seen[host] = dump_time(e.time)  # type: ignore[assignment]
        if host in self.silent:
            self.silent.discard(host)
            out.append(AlertSignal(time=e.time, source_id=host, detector=NAME, rule="silent_host",
                                   fingerprint=f"{NAME}:silent_host:{host}", status="resolved",
                                   title=f"{host} sends logs again", area=host, details={"host": host}))
        return out

    # ---- event-time progress --------------------------------------------------------------------
    def advance(self, watermark: datetime) -> list[AlertSignal]:
        out: list[AlertSignal] = []
        if self.clock_start is None:
            self.clock_start = dump_time(watermark)
        silent_after = timedelta(seconds=self.rules.silent_after_s)
        for host in self.rules.expected_hosts:
            last = load_time(self.last_seen.get(host)) or load_time(self.clock_start)
            if host not in self.silent and last is not None and watermark - last >= silent_after:
                self.silent.add(host)
                out.append(AlertSignal(time=watermark, source_id=host, detector=NAME, rule="silent_host",
                                       fingerprint=f"{NAME}:silent_host:{host}", status="firing",
                                       title=f"{host} has sent no logs since {dump_time(last)}", area=host,
                                       details={"host": host, "last_seen": dump_time(last)}))
        widest = max(self.fail.width, self.spray.width, self.scan.width, self.web.width,
                     timedelta(seconds=self.rules.ids_group_window_s))
        for fp, (last_s, rule, source) in list(self.firing.items()):
            last = load_time(last_s)
            if last is not None and watermark - last > widest:
                del self.firing[fp]
                self.ids_counts.pop(fp, None)
                out.append(AlertSignal(time=watermark, source_id=source, detector=NAME, rule=rule,
                                       fingerprint=fp[:256], status="resolved", title=f"{rule} ended",
                                       details={}))
        for window in (self.fail, self.spray, self.scan, self.web):
            window.prune(watermark - 2 * widest)
        return out

    def state(self) -> dict[str, Any]:
        return {"detector": NAME, "version": VERSION, "fail": self.fail.state(), "spray": self.spray.state(),
                "scan": self.scan.state(), "web": self.web.state(), "firing": dict(self.firing),
                "ids_counts": dict(self.ids_counts), "last_seen": dict(self.last_seen),
                "silent": sorted(self.silent), "clock_start": self.clock_start}

    def restore(self, state: dict[str, Any]) -> None:
        check_version(state, NAME, VERSION)
        for name in ("fail", "spray", "scan", "web"):
            getattr(self, name).restore(state[name])
        self.firing = {fp: list(v) for fp, v in state["firing"].items()}
        self.ids_counts = dict(state["ids_counts"])
        self.last_seen = dict(state["last_seen"])
        self.silent = set(state["silent"])
        self.clock_start = state["clock_start"]
