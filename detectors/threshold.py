"""Threshold rules: a metric beyond a level for a while, in event time, with hysteresis.

The meaning of a rule is a fold over one station's readings of the rule's
metric, in event-time order:

* idle: a breaching reading (``value > above`` or ``value < below``) starts a
  run, or continues one; a non-breaching reading ends it. When a breaching
  reading is ``for_minutes`` or more after the run's first reading, the rule
  fires (one ``firing`` signal, ``time`` = that reading, ``started_at`` = the
  run's first reading). Gaps between readings do not break a run.
* firing: a reading back within the bound by ``clear_margin`` (``value <=
  above - clear_margin`` / ``value >= below + clear_margin``) resolves it (one
  ``resolved`` signal); anything else keeps it firing.

Readings may come out of order. Each (rule, station) keeps the readings of
the last ``allowed_lateness`` (behind its newest reading) sorted by time, and
re-runs the fold over them from the last decision on every insert, so a late
reading before any decision counts as if it had come in order. A reading more
than ``allowed_lateness`` behind the newest is dropped (``late_dropped``).
Signals are never taken back: a reading older than an emitted decision is
kept out of the fold (``late_behind_decision``). With ``settle`` > 0 a
decision waits until the station's newest reading (or the watermark from
:meth:`ThresholdDetector.advance`) is ``settle`` past it, so input that is
out of order by at most ``settle`` gives exactly the signals of sorted input.
Exact duplicates (same time, same value) change nothing. Readings of quality
``bad`` are skipped.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from detectors.base import check_rule_names, check_version, dump_time, load_time
from ioc.config import Settings
from ioc.events import AlertSignal, Event
from ioc.feeds.environment.metrics import METRIC_DOMAIN, metric_name
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.i18n import TERM_DOMAINS, TEXT_FORMS

KIND = "environment.reading"
SNAPSHOT_VERSION = 1
DEFAULT_LATENESS = timedelta(minutes=30)

Reading = tuple[datetime, float]
Change = Literal["firing", "resolved"]


# alert titles: messages of the ``alerts`` catalogue, rendered in the reader's language
THRESHOLD_TITLES = {"above": "{metric} above {bound}{unit} for {minutes} min at {area}",
                    "below": "{metric} below {bound}{unit} for {minutes} min at {area}"}


@dataclass(frozen=True, slots=True)
class _Phase:
    """Where the fold stands: idle (maybe inside a breaching run) or firing."""

    firing: bool = False
    run_start: datetime | None = None  # idle: first reading of the current breaching run
    episode_start: datetime | None = None  # firing: started_at of the episode


@dataclass(slots=True)
class _Track:
    """One (rule, station): its recent readings and the fold's committed position."""

    readings: list[Reading] = field(default_factory=list)  # sorted; the last allowed_lateness
    newest: datetime | None = None
    folded_until: datetime | None = None  # every reading at or before it is folded into phase
    phase: _Phase = field(default_factory=_Phase)
    unit: str = ""


class ThresholdDetector:
    """Fires when a station's metric stays beyond a rule's bound for ``for_minutes``."""

    name = "threshold"

    def __init__(
        self,
        rules: list[ThresholdRule],
        stations: dict[str, str] | None = None,
        allowed_lateness: timedelta = DEFAULT_LATENESS,
        settle: timedelta = timedelta(0),
    ) -> None:
        check_rule_names([r.name for r in rules], self.name)
        if allowed_lateness < timedelta(0) or settle < timedelta(0):
            raise ValueError("allowed_lateness and settle must not be negative")
        if settle > allowed_lateness:
            raise ValueError("settle must not exceed allowed_lateness")
        self.rules = list(rules)
        self.stations = dict(stations or {})
        self.allowed_lateness = allowed_lateness
        self.settle = settle
        self.kinds: frozenset[str] = frozenset({KIND}) if self.rules else frozenset()
        self._by_metric: dict[str, list[ThresholdRule]] = {}
        for rule in self.rules:
            self._by_metric.setdefault(rule.metric, []).append(rule)
        self._rules = {r.name: r for r in self.rules}
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._held: set[tuple[str, str]] = set()  # tracks with a decision waiting for settle
        self._watermark: datetime | None = None
        self.late_dropped = 0
        self.late_behind_decision = 0
        self.duplicates = 0
        self.bad_quality = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ThresholdDetector:
        """The detector of ``settings.rules.thresholds``, naming stations by area (or name)."""
        stations = {s.id: s.area or s.name for s in settings.stations}
        return cls(settings.rules.thresholds, stations=stations)

    # -- events ----------------------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, EnvironmentReading):
            return []
        rules = self._by_metric.get(event.metric)
        if not rules:
            return []
        if event.quality == "bad":
            self.bad_quality += 1
            return []
        out: list[AlertSignal] = []
        for rule in rules:
            if rule.stations and event.source_id not in rule.stations:
                continue
            out.extend(self._insert(rule, event))
        return out

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        if self._watermark is None or watermark > self._watermark:
            self._watermark = watermark
        out: list[AlertSignal] = []
        for key in sorted(self._held):
            out.extend(self._evaluate(self._rules[key[0]], key[1], self._tracks[key]))
        return out

    def _insert(self, rule: ThresholdRule, event: EnvironmentReading) -> list[AlertSignal]:
        key = (rule.name, event.source_id)
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = _Track(unit=event.unit)
        reading: Reading = (event.time, event.value)
        if track.newest is not None and event.time < track.newest - self.allowed_lateness:
            self.late_dropped += 1
            return []
        at = bisect_left(track.readings, reading)
        if at < len(track.readings) and track.readings[at] == reading:
            self.duplicates += 1
            return []
        track.readings.insert(at, reading)  # kept even behind a decision, to spot its duplicates
        if track.folded_until is not None and event.time <= track.folded_until:
            self.late_behind_decision += 1
            return []
        if track.newest is None or event.time > track.newest:
            track.newest = event.time
        return self._evaluate(rule, event.source_id, track)

    # -- the fold --------------------------------------------------------------------
    @staticmethod
    def _step(rule: ThresholdRule, phase: _Phase, t: datetime, v: float) -> tuple[_Phase, Change | None]:
        if not phase.firing:
            breaching = v > rule.above if rule.above is not None else v < rule.below  # type: ignore[operator]
            if not breaching:
                return _Phase(), None
            start = phase.run_start or t
            if t - start >= timedelta(minutes=rule.for_minutes):
                return _Phase(firing=True, episode_start=start), "firing"
            return _Phase(run_start=start), None
        if rule.above is not None:
            clear = v <= rule.above - rule.clear_margin
        else:
            clear = v >= rule.below + rule.clear_margin  # type: ignore[operator]
        return (_Phase(), "resolved") if clear else (phase, None)

    def _evaluate(self, rule: ThresholdRule, source: str, track: _Track) -> list[AlertSignal]:
        """Run the fold from the last decision over the buffered readings; emit what is due."""
        assert track.newest is not None
        key = (rule.name, source)
        horizon = track.newest if self._watermark is None else max(track.newest, self._watermark)
        emit_until = horizon - self.settle
        final_until = track.newest - self.allowed_lateness  # nothing older can still arrive
        first = 0
        if track.folded_until is not None:
            first = bisect_right(track.readings, (track.folded_until, math.inf))
        phase = track.phase
        out: list[AlertSignal] = []
        self._held.discard(key)
        for t, v in track.readings[first:]:
            nxt, change = self._step(rule, phase, t, v)
            if change is not None:
                if t > emit_until:
                    self._held.add(key)
                    break
                started = nxt.episode_start if change == "firing" else phase.episode_start
                out.append(self._signal(rule, source, track.unit, change, t, v, started))
                track.phase, track.folded_until = nxt, t
            elif t < final_until:
                track.phase, track.folded_until = nxt, t
            phase = nxt
        cut = bisect_left(track.readings, (final_until, -math.inf))
        del track.readings[:cut]
        return out

    def _signal(
        self,
        rule: ThresholdRule,
        source: str,
        unit: str,
        status: Change,
        t: datetime,
        value: float,
        started_at: datetime | None,
    ) -> AlertSignal:
        direction = "above" if rule.above is not None else "below"
        bound = rule.above if rule.above is not None else rule.below
        assert bound is not None
        where = self.stations.get(source) or source
        fields = {
            "metric": metric_name(rule.metric),
            "value": value,
            "bound": bound,
            "unit": unit,
            "station": source,
            "area": where,
            "minutes": rule.for_minutes,
            "rule": rule.name,
        }
        title = ""
        own, forms = rule.title_forms()
        template: str | None = own or None
        params: dict[str, Any] = dict(fields)
        if own:
            try:
                title = own.format(**fields)
                params[TEXT_FORMS] = forms  # the operator's own words in each language written
            except (KeyError, IndexError, ValueError, AttributeError):
                title = ""  # a broken template must not stop the detector
        if not title:
            template = THRESHOLD_TITLES[direction]
            params = {"metric": fields["metric"], "bound": f"{bound:g}", "unit": f" {unit}" if unit else "",
                      "minutes": f"{rule.for_minutes:g}", "area": where}
            title = template.format(**params)
        params[TERM_DOMAINS] = {"metric": METRIC_DOMAIN}  # "Độ ẩm" on a Vietnamese screen
        return AlertSignal(
            time=t,
            source_id=source,
            detector=self.name,
            rule=rule.name,
            fingerprint=f"threshold:{rule.name}:{source}",
            status=status,
            severity=rule.severity,
            title=title[:512],
            title_template=template,
            title_params={k: v for k, v in params.items()
                          if isinstance(v, str | int | float) or k in (TERM_DOMAINS, TEXT_FORMS)},
            area=self.stations.get(source),
            started_at=started_at,
            details={
                "metric": rule.metric,
                "value": value,
                "bound": bound,
                "direction": direction,
                "unit": unit,
                "for_minutes": rule.for_minutes,
                "clear_margin": rule.clear_margin,
            },
        )

    # -- snapshot --------------------------------------------------------------------
    def event_times(self) -> Iterator[datetime]:
        """Its watermark and each station's newest reading (:class:`~detectors.base.KeepsEventTimes`)."""
        if self._watermark is not None:
            yield self._watermark
        for track in self._tracks.values():
            if track.newest is not None:
                yield track.newest

    def state(self) -> dict[str, Any]:
        tracks: dict[str, dict[str, Any]] = {}
        for (rule, source), track in sorted(self._tracks.items()):
            tracks.setdefault(rule, {})[source] = {
                "readings": [[dump_time(t), v] for t, v in track.readings],
                "newest": dump_time(track.newest),
                "folded_until": dump_time(track.folded_until),
                "firing": track.phase.firing,
                "run_start": dump_time(track.phase.run_start),
                "episode_start": dump_time(track.phase.episode_start),
                "unit": track.unit,
            }
        return {
            "detector": self.name,
            "version": SNAPSHOT_VERSION,
            "watermark": dump_time(self._watermark),
            "counters": {
                "late_dropped": self.late_dropped,
                "late_behind_decision": self.late_behind_decision,
                "duplicates": self.duplicates,
                "bad_quality": self.bad_quality,
            },
            "tracks": tracks,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot; tracks of rules no longer configured (or stations filtered out) are dropped."""
        check_version(state, self.name, SNAPSHOT_VERSION)
        self._tracks.clear()
        self._watermark = load_time(state.get("watermark"))
        counters = state.get("counters", {})
        self.late_dropped = int(counters.get("late_dropped", 0))
        self.late_behind_decision = int(counters.get("late_behind_decision", 0))
        self.duplicates = int(counters.get("duplicates", 0))
        self.bad_quality = int(counters.get("bad_quality", 0))
        for rule_name, by_source in state.get("tracks", {}).items():
            rule = self._rules.get(rule_name)
            if rule is None:
                continue
            for source, raw in by_source.items():
                if rule.stations and source not in rule.stations:
                    continue
                readings: list[Reading] = []
                for t, v in raw["readings"]:
                    when = load_time(t)
                    if when is not None:
                        insort(readings, (when, float(v)))
                self._tracks[(rule_name, source)] = _Track(
                    readings=readings,
                    newest=load_time(raw["newest"]),
                    folded_until=load_time(raw["folded_until"]),
                    phase=_Phase(
                        firing=bool(raw["firing"]),
                        run_start=load_time(raw["run_start"]),
                        episode_start=load_time(raw["episode_start"]),
                    ),
                    unit=str(raw.get("unit", "")),
                )
        # Which decisions wait for settle is recomputed on the next advance().
        self._held = {k for k, t in self._tracks.items() if t.newest is not None} if self.settle else set()
