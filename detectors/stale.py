"""Stale-sensor rules: a source that sends nothing of a kind for ``after_minutes``.

Per rule, the detector keeps each source's last-seen event time (the largest
event time seen, so out-of-order events never move it back). A source is
silent when the watermark of its rule's kind (:meth:`StaleSensorDetector.advance_clocks`:
the progress of that kind's own feed, never another feed's; :meth:`advance` gives
every kind the same one) is more than ``after_minutes`` past its last-seen time: one ``firing`` signal, whose
``time`` is the moment the silence crossed the limit (last seen +
``after_minutes``) and whose ``started_at`` is the last-seen time. The next
event newer than the last-seen time resolves it (``time`` = that event).

Replay gives the same signals however the stream is cut into batches: when an
event shows a gap longer than the limit that no watermark had reported yet,
the detector emits the same ``firing`` and ``resolved`` pair it would have
emitted live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from detectors.base import check_rule_names, check_version, dump_time, load_time
from ioc.config import Settings, StaleRule
from ioc.events import AlertSignal, Event

SNAPSHOT_VERSION = 1


STALE_TITLE = "No data from {source} for over {minutes} min ({area})"  # an alerts message


class StaleSensorDetector:
    """Fires when a source stays silent longer than a rule allows."""

    name = "stale"

    def __init__(self, rules: list[StaleRule], stations: dict[str, str] | None = None) -> None:
        check_rule_names([r.name for r in rules], self.name)
        self.rules = list(rules)
        self.stations = dict(stations or {})
        self.kinds: frozenset[str] = frozenset(r.kind for r in self.rules)
        self._rules = {r.name: r for r in self.rules}
        self._last_seen: dict[str, dict[str, datetime]] = {r.name: {} for r in self.rules}
        self._silent: dict[str, dict[str, datetime]] = {r.name: {} for r in self.rules}  # -> last seen
        self._watermark: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> StaleSensorDetector:
        """The detector of ``settings.rules.stale``, naming stations by area (or name)."""
        stations = {s.id: s.area or s.name for s in settings.stations}
        return cls(settings.rules.stale, stations=stations)

    def observe(self, event: Event) -> list[AlertSignal]:
        kind = getattr(event, "kind", None)
        source = event.source_id
        out: list[AlertSignal] = []
        for rule in self.rules:
            if rule.kind != kind or (rule.sources and source not in rule.sources):
                continue
            seen = self._last_seen[rule.name]
            last = seen.get(source)
            if last is not None and event.time <= last:
                continue  # not newer than what we have: proves nothing about now
            silent_since = self._silent[rule.name].pop(source, None)
            if silent_since is not None:
                out.append(self._signal(rule, source, "resolved", event.time, silent_since))
            elif last is not None and event.time - last > self._limit(rule):
                out.append(self._signal(rule, source, "firing", last + self._limit(rule), last))
                out.append(self._signal(rule, source, "resolved", event.time, last))
            seen[source] = event.time
        return out

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        return self.advance_clocks({kind: watermark for kind in self.kinds})

    def advance_clocks(self, watermarks: Mapping[str, datetime]) -> list[AlertSignal]:
        """Event time per kind has reached ``watermarks``; each rule is judged on its own kind's."""
        out: list[AlertSignal] = []
        for rule in self.rules:
            watermark = watermarks.get(rule.kind)
            if watermark is None:
                continue
            if self._watermark is None or watermark > self._watermark:
                self._watermark = watermark
            cutoff = watermark - self._limit(rule)
            silent = self._silent[rule.name]
            for source, last in sorted(self._last_seen[rule.name].items()):
                if last < cutoff and source not in silent:
                    silent[source] = last
                    out.append(self._signal(rule, source, "firing", last + self._limit(rule), last))
        return out

    @staticmethod
    def _limit(rule: StaleRule) -> timedelta:
        return timedelta(minutes=rule.after_minutes)

    def _signal(
        self,
        rule: StaleRule,
        source: str,
        status: Literal["firing", "resolved"],
        time: datetime,
        last_seen: datetime,
    ) -> AlertSignal:
        where = self.stations.get(source) or source
        details: dict[str, Any] = {
            "kind": rule.kind,
            "last_seen": dump_time(last_seen),
            "after_minutes": rule.after_minutes,
        }
        if status == "resolved":
            details["silent_minutes"] = round((time - last_seen).total_seconds() / 60, 3)
        return AlertSignal(
            time=time,
            source_id=source,
            detector=self.name,
            rule=rule.name,
            fingerprint=f"stale:{rule.name}:{source}",
            status=status,
            severity=rule.severity,
            title=STALE_TITLE.format(**(params := {"source": source, "minutes": f"{rule.after_minutes:g}",
                                                   "area": where}))[:512],
            title_template=STALE_TITLE,
            title_params=params,
            area=self.stations.get(source),
            started_at=last_seen,
            details=details,
        )

    def event_times(self) -> Iterator[datetime]:
        """Its watermark and when each source was last heard (:class:`~detectors.base.KeepsEventTimes`)."""
        if self._watermark is not None:
            yield self._watermark
        for seen in self._last_seen.values():
            yield from seen.values()

    def state(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "version": SNAPSHOT_VERSION,
            "watermark": dump_time(self._watermark),
            "rules": {
                name: {
                    "last_seen": {s: dump_time(t) for s, t in sorted(self._last_seen[name].items())},
                    "silent": {s: dump_time(t) for s, t in sorted(self._silent[name].items())},
                }
                for name in sorted(self._rules)
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot; rules no longer configured, and filtered-out sources, are dropped."""
        check_version(state, self.name, SNAPSHOT_VERSION)
        self._watermark = load_time(state.get("watermark"))
        saved = state.get("rules", {})
        for name, rule in self._rules.items():
            raw = saved.get(name, {})
            self._last_seen[name] = _times(raw.get("last_seen", {}), rule)
            self._silent[name] = _times(raw.get("silent", {}), rule)


def _times(raw: dict[str, str | None], rule: StaleRule) -> dict[str, datetime]:
    """Source -> time from a snapshot, keeping only the sources the rule still watches."""
    out: dict[str, datetime] = {}
    for source, text in raw.items():
        when = load_time(text)
        if when is not None and (not rule.sources or source in rule.sources):
            out[source] = when
    return out
