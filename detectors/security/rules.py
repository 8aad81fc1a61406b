"""Security rules over security events, pure and event-time: brute force and compromise, password
spraying, port scans, web attacks, IDS alerts grouped by signature.

Each rule keeps, per source address, the recent events it counts (a window in event time) and
fires once when its threshold is crossed (fingerprint ``<rule>:<address>[:...]``); a further
breach only refreshes the alert (the alerts service counts it), and quiet for ``clear_minutes``
after the last breach resolves it. Signals carry the event time of the deciding event.
"""

from __future__ import annotations

import re
import zlib
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.base import dump_time, load_time
from ioc.events import AlertSignal, Event
from ioc.feeds.security.records import SecurityEvent
from ioc.feeds.security.settings import SecurityRuleSettings

# Matched against the lower-cased URL and user agent: a case-blind pattern (re.I) costs about 20 µs
# on a browser's user agent, the same pattern on lower-cased text about 1 µs.
WEB_SIGNATURES = re.compile(
    r"(union(\s|%20|\+)+select|'(\s|%20|\+)*or(\s|%20|\+)+'?1'?(\s|%20|\+)*=|%27(\s|%20|\+)*or|<script|%3cscript"
    r"|\.\./|\.\.%2f|%2e%2e|/etc/passwd|cmd\.exe|/wp-login\.php|/\.env\b|/\.git/|phpmyadmin|\$\{jndi:)")
SCANNER_AGENTS = re.compile(r"(sqlmap|nikto|nmap|masscan|zgrab|nuclei|dirbuster|gobuster|wpscan|acunetix)")
IDS_SEVERITY = {1: "critical", 2: "warning"}
SCAN_ACTIONS = frozenset({"flow", "ids_alert", "anomaly"})


def record_id(e: SecurityEvent) -> str:
    """What tells one record from a redelivery of it: a digest of its raw line (or its fields)."""
    basis = e.raw or e.model_dump_json()
    return f"{zlib.crc32(basis.encode('utf-8', 'backslashreplace')):08x}"


@dataclass
class Window:
    """Recent ``(time, value, record)`` of one key, in event time (POSIX seconds: cheap to compare and
    subtract), sorted by time.

    A late record is put in its place (and one older than the span behind the newest is not
    counted); the same record given twice (a redelivery: same time, value and ``record``, a digest
    of its raw line) is kept once. How many times each value is held is kept as records come and
    go, so the distinct values cost nothing to count.
    """

    items: deque[tuple[float, str, str]] = field(default_factory=deque)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.items and not self.counts:
            for _, value, _ in self.items:
                self.counts[value] = self.counts.get(value, 0) + 1

    def add(self, t: float, value: str, span: float, record: str = "") -> None:
        items = self.items
        if items and not t > items[-1][0]:  # not the newest: a late record, or a redelivery
            entry = (t, value, record)
            if entry > items[-1]:
                items.append(entry)
            elif entry in items or t < items[-1][0] - span:
                return
            else:
                ordered = list(items)
                insort(ordered, entry)
                self.items = items = deque(ordered)
        else:
            items.append((t, value, record))
        counts = self.counts
        counts[value] = counts.get(value, 0) + 1
        cutoff = items[-1][0] - span
        while items[0][0] < cutoff:
            _, old, _ = items.popleft()
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]

    def count(self) -> int:
        return len(self.items)

    def within(self, start: float, end: float) -> int:
        """How many records fall in ``[start, end]`` (all of them, the usual case, at no cost)."""
        items = self.items
        if not items or (items[0][0] >= start and items[-1][0] <= end):
            return len(items)
        return sum(1 for t, _, _ in items if start <= t <= end)

    def distinct(self) -> set[str]:
        return set(self.counts)

    def n_distinct(self) -> int:
        return len(self.counts)


@dataclass
class Open:
    """An alert this detector holds open: when it last breached, its title and details."""

    started: datetime
    last: datetime
    severity: str
    title: str
    source: str
    rule: str
    details: dict[str, Any]


class SecurityDetector:
    """Every security rule of ``[rules.security]``, over ``security.event`` records."""

    name = "security"

    def __init__(self, cfg: SecurityRuleSettings) -> None:
        self.cfg = cfg
        self.kinds = frozenset({"security.event"}) if cfg.enabled else frozenset()
        self.windows: dict[tuple[str, str], Window] = {}
        self.open: dict[str, Open] = {}
        self.last_seen: dict[str, datetime] = {}  # expected host -> newest event time from it
        self.silent: set[str] = set()
        self.clock_start: datetime | None = None  # first progress: the start of hosts never heard
        self.on = frozenset(cfg.enabled)
        self.expected = frozenset(cfg.expected_hosts)
        self.allow_lists = bool(cfg.allow_addresses or cfg.allow_networks or cfg.allow_users)
        # Which expected hosts this instance judges silent: all of them, unless the runner keeps
        # an instance per topic-partition and tells it its own (:meth:`claim`).
        self.owns: Callable[[str, str], bool] | None = None

    def claim(self, owns: Callable[[str, str], bool]) -> None:
        """Judge only the expected hosts whose events this instance's partition carries."""
        self.owns = owns

    @classmethod
    def from_settings(cls, settings: Any) -> SecurityDetector:
        cfg = getattr(settings.rules, "security", None)
        return cls(cfg if cfg is not None else SecurityRuleSettings(enabled=[]))

    # -- windows -------------------------------------------------------------------------
    def _window(self, rule: str, key: str, t: float, value: str, minutes: float,
                record: str = "") -> Window:
        w = self.windows.get((rule, key))
        if w is None:
            w = self.windows[(rule, key)] = Window()
        w.add(t, value, minutes * 60.0, record)
        return w

    def _fire(self, fp: str, rule: str, e: SecurityEvent, severity: str, template: str,
              params: dict[str, Any], details: dict[str, Any]) -> list[AlertSignal]:
        """Fire once per fingerprint; ``template`` (an ``alerts`` catalogue id) and ``params`` give
        the title in the reader's language, the English one is stored beside them."""
        held = self.open.get(fp)
        if held is not None:  # a further breach: fresher details, the title it was raised with
            held.last = e.time
            held.details = {**details, "title_template": held.details.get("title_template"),
                            "title_params": held.details.get("title_params", {})}
            return []
        title = template.format(**params)
        self.open[fp] = Open(e.time, e.time, severity, title, e.source_id, rule,
                             {**details, "title_template": template, "title_params": params})
        return [AlertSignal(time=e.time, source_id=e.source_id, detector=self.name, rule=rule,
                            fingerprint=fp, status="firing", severity=severity,  # type: ignore[arg-type]
                            title=title, title_template=template, title_params=params, started_at=e.time,
                            details=details)]

    # -- rules ---------------------------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, SecurityEvent):
            return []
        out: list[AlertSignal] = self._heard(event) if event.source_id in self.expected else []
        if not event.src_ip or (self.allow_lists and self.cfg.allowed(event.src_ip, event.user)):
            return out
        on, action, record, t = self.on, event.action, record_id(event), event.time.timestamp()
        if action == "login" and ("brute_force" in on or "spraying" in on):
            out += self._logins(event, record, t)
        if action in SCAN_ACTIONS and "port_scan" in on and event.dest_port is not None:
            out += self._scan(event, record, t)
        if action == "http_request" and "web_attack" in on:
            out += self._web(event, record, t)
        if action == "ids_alert" and "ids" in on and event.severity <= self.cfg.ids_min_severity:
            out += self._ids(event, record, t)
        return out

    def _logins(self, e: SecurityEvent, record: str, t: float) -> list[AlertSignal]:
        cfg, src, out = self.cfg, e.src_ip or "", []
        if e.outcome == "failure":
            failures = self._window("failures", src, t, e.user or "?", cfg.brute_force_minutes, record)
            if "brute_force" in self.on and failures.count() >= cfg.brute_force_failures:
                out += self._fire(f"brute_force:{src}", "brute_force", e, "warning",
                                  "Login brute force from {src}: {n} failures in {minutes} min",
                                  {"src": src, "n": failures.count(),
                                   "minutes": f"{cfg.brute_force_minutes:g}"},
                                  {"src_ip": src, "failures": failures.count(),
                                   "users": sorted(failures.distinct())[:20]})
            users = self._window("spray", src, t, e.user or "?", cfg.spraying_minutes, record)
            if "spraying" in self.on and users.n_distinct() >= cfg.spraying_accounts:
                out += self._fire(f"spraying:{src}", "spraying", e, "warning",
                                  "Password spraying from {src}: {n} accounts tried",
                                  {"src": src, "n": users.n_distinct()},
                                  {"src_ip": src, "accounts": sorted(users.distinct())[:50]})
        elif e.outcome == "success" and "brute_force" in self.on:
            failures = self.windows.get(("failures", src))
            if failures is not None:  # failures in the window that ends at this success
                failed = failures.within(t - cfg.brute_force_minutes * 60.0, t)
                if failed >= cfg.brute_force_failures:
                    out += self._fire(f"compromise:{src}:{e.user}", "compromise", e, "critical",
                                      "Possible compromise: {user} logged in from {src} after {n} failures",
                                      {"user": e.user or "?", "src": src, "n": failed},
                                      {"src_ip": src, "user": e.user, "failures_before": failed})
        return out

    def _scan(self, e: SecurityEvent, record: str, t: float) -> list[AlertSignal]:
        cfg, src = self.cfg, e.src_ip or ""
        ports = self._window("ports", src, t, str(e.dest_port), cfg.scan_minutes, record).n_distinct()
        hosts = self._window("hosts", src, t, e.dest_ip or "?", cfg.scan_minutes, record).n_distinct()
        if ports >= cfg.scan_ports or hosts >= cfg.scan_hosts:
            return self._fire(f"port_scan:{src}", "port_scan", e, "warning",
                              "Port scan from {src}: {ports} ports on {hosts} hosts in {minutes} min",
                              {"src": src, "ports": ports, "hosts": hosts,
                               "minutes": f"{cfg.scan_minutes:g}"},
                              {"src_ip": src, "ports": ports, "hosts": hosts})
        return []

    def _web(self, e: SecurityEvent, record: str, t: float) -> list[AlertSignal]:
        cfg, src, out = self.cfg, e.src_ip or "", []
        url, agent = (e.url or "").lower(), (e.user_agent or "").lower()
        if WEB_SIGNATURES.search(url) or SCANNER_AGENTS.search(agent):
            text = f"{e.url or ''} {e.user_agent or ''}"
            hits = self._window("web", src, t, text[:200], cfg.web_minutes, record)
            if hits.count() >= cfg.web_signatures:
                out += self._fire(f"web_attack:{src}", "web_attack", e, "warning",
                                  "Web attack from {src}: {n} requests with attack signatures",
                                  {"src": src, "n": hits.count()},
                                  {"src_ip": src, "requests": hits.count(), "example": (e.url or "")[:300]})
        if e.status is not None and e.status >= 400:
            errors = self._window("web_errors", src, t, str(e.status), cfg.web_minutes, record)
            if errors.count() >= cfg.web_errors:
                out += self._fire(f"web_errors:{src}", "web_errors", e, "warning",
                                  "Burst of web errors from {src}: {n} in {minutes} min",
                                  {"src": src, "n": errors.count(), "minutes": f"{cfg.web_minutes:g}"},
                                  {"src_ip": src, "errors": errors.count()})
        return out

    def _ids(self, e: SecurityEvent, record: str, t: float) -> list[AlertSignal]:
        sig = str(e.signature_id or e.signature)
        fp = f"ids:{sig}:{e.src_ip}"
        hits = self._window("ids", f"{sig}:{e.src_ip}", t, "", self.cfg.ids_group_minutes, record)
        details = {"src_ip": e.src_ip, "dest_ip": e.dest_ip, "signature": e.signature,
                   "signature_id": e.signature_id, "category": e.category, "count": hits.count()}
        return self._fire(fp, "ids", e, IDS_SEVERITY.get(e.severity, "info"), "IDS: {signature} from {src}",
                          {"signature": e.signature or sig, "src": e.src_ip}, details)

    def _heard(self, e: SecurityEvent) -> list[AlertSignal]:
        """An expected host spoke: note when; if it was silent, its silence ends."""
        host = e.source_id
        if host not in self.cfg.expected_hosts:
            return []
        if host not in self.last_seen or e.time > self.last_seen[host]:
            self.last_seen[host] = e.time
        if host not in self.silent:
            return []
        self.silent.discard(host)
        fp = f"silent_host:{host}"
        held = self.open.pop(fp, None)
        return [AlertSignal(time=e.time, source_id=host, detector=self.name, rule="silent_host",
                            fingerprint=fp, status="resolved",
                            severity=held.severity if held else "warning",  # type: ignore[arg-type]
                            title=held.title if held else f"No logs from {host}",
                            title_template=held.details.get("title_template") if held else None,
                            title_params=held.details.get("title_params", {}) if held else {},
                            started_at=held.started if held else None, details={"host": host})]

    def _silences(self, watermark: datetime) -> list[AlertSignal]:
        """Expected hosts that sent nothing for ``silent_minutes`` of the feed's event time."""
        if "silent_host" not in self.cfg.enabled:
            return []
        if self.clock_start is None:
            self.clock_start = watermark
        after, out = timedelta(minutes=self.cfg.silent_minutes), []
        for host in self.cfg.expected_hosts:
            last = self.last_seen.get(host, self.clock_start)
            if host in self.silent or watermark - last < after:
                continue
            if self.owns is not None and not self.owns("security.event", host):
                continue  # another partition's instance hears this host and judges it
            self.silent.add(host)
            template = "No logs from {host} for {minutes} min"
            params = {"host": host, "minutes": f"{self.cfg.silent_minutes:g}"}
            fp, title = f"silent_host:{host}", template.format(**params)
            details = {"host": host, "last_seen": dump_time(self.last_seen.get(host))}
            self.open[fp] = Open(last + after, last + after, "warning", title, host, "silent_host",
                                 {**details, "title_template": template, "title_params": params})
            out.append(AlertSignal(time=last + after, source_id=host, detector=self.name, rule="silent_host",
                                   fingerprint=fp, status="firing", severity="warning", title=title,
                                   title_template=template, title_params=params, started_at=last + after,
                                   details=details))
        return out

    # -- time ----------------------------------------------------------------------------
    def advance(self, watermark: datetime) -> list[AlertSignal]:
        quiet = timedelta(minutes=self.cfg.clear_minutes)
        out = self._silences(watermark)
        for fp, held in list(self.open.items()):
            if held.rule == "silent_host":  # resolved by a line from the host, not by quiet
                continue
            if held.last + quiet <= watermark:
                del self.open[fp]
                details = {k: v for k, v in held.details.items() if not k.startswith("title_")}
                out.append(AlertSignal(time=held.last + quiet, source_id=held.source, detector=self.name,
                                       rule=held.rule, fingerprint=fp, status="resolved",
                                       severity=held.severity, title=held.title,  # type: ignore[arg-type]
                                       title_template=held.details.get("title_template"),
                                       title_params=held.details.get("title_params", {}),
                                       started_at=held.started, details=details))
        return out

    # -- snapshots -----------------------------------------------------------------------
    def event_times(self) -> Iterator[datetime]:
        """When each expected host was last heard (:class:`~detectors.base.KeepsEventTimes`)."""
        yield from self.last_seen.values()
        if self.clock_start is not None:
            yield self.clock_start

    def state(self) -> dict[str, Any]:
        return {
            "windows": [[rule, key, [[dump_time(datetime.fromtimestamp(t, UTC)), v, r]
                                     for t, v, r in w.items]] for (rule, key), w in self.windows.items()],
            "open": {fp: [dump_time(o.started), dump_time(o.last), o.severity, o.title, o.source, o.rule,
                          o.details] for fp, o in self.open.items()},
            "last_seen": {h: dump_time(t) for h, t in self.last_seen.items()},
            "silent": sorted(self.silent),
            "clock_start": dump_time(self.clock_start),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.windows = {}
        for rule, key, items in state.get("windows", []):
            self.windows[(rule, key)] = Window(deque(  # older snapshots: no record digest
                (load_time(i[0]).timestamp(), i[1], i[2] if len(i) > 2 else "")  # type: ignore[union-attr]
                for i in items))
        self.open = {fp: Open(load_time(a), load_time(b), sev, title, src, rule, det)  # type: ignore[arg-type]
                     for fp, (a, b, sev, title, src, rule, det) in state.get("open", {}).items()}
        self.last_seen = {h: load_time(t) for h, t in state.get("last_seen", {}).items()}  # type: ignore[misc]
        self.silent = set(state.get("silent", []))
        self.clock_start = load_time(state.get("clock_start"))
