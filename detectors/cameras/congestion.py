"""Congestion rules: too many vehicles in a zone for a while, or vehicles that do not move.

Per (rule, camera), for each analysed frame, the detector takes the objects of the rule's
``labels`` (vehicles by default) whose bottom centre is in ``zone`` (no zone: the frame).
A frame breaches when

* ``above`` is set and more than ``above`` of them are in the zone (held for
  ``for_seconds`` to fire), or
* ``stopped_px`` is set and at least ``min_stopped`` of them are stopped: tracked objects
  seen for at least ``for_seconds`` whose box centre stayed within ``stopped_px`` pixels of
  its current position over the last ``for_seconds`` (they have already waited that long,
  so the rule fires at once, with ``started_at`` = when the wait began).

It resolves after ``clear_seconds`` without a breaching frame, or when the camera reports
nothing for ``max_gap``. Untracked detections count for ``above`` but can never be
"stopped". Fingerprint ``congestion:<rule>:<camera>``; title fields as for crowds plus
``stopped``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from detectors.cameras.base import (
    FrameRuleDetector,
    Title,
    cameras_from_settings,
    in_zone,
    rules_from_settings,
)
from detectors.cameras.crowd import object_id
from detectors.cameras.frames import Change, FrameSample
from detectors.cameras.labels import check_rule_labels
from detectors.cameras.tracks import TrackHistory
from ioc.events import Event
from ioc.feeds.cameras.records import CameraDetection
from ioc.feeds.cameras.rules import VEHICLES, CongestionRule  # noqa: F401  (re-exported)

# alert titles (``alerts`` catalogue messages) by (what, has a zone)
CONGESTION_TITLES = {
    ("many", True): "Congestion: {count} vehicles in {zone} at {camera} (over {above} for {seconds} s)",
    ("many", False): "Congestion: {count} vehicles in {camera} (over {above} for {seconds} s)",
    ("stopped", True): "Congestion: {stopped} vehicle(s) stopped for {seconds} s in {zone} at {camera}",
    ("stopped", False): "Congestion: {stopped} vehicle(s) stopped for {seconds} s in {camera}",
    ("moving", True): "Traffic moving again in {zone} at {camera}",
    ("moving", False): "Traffic moving again in {camera}",
}


class CongestionDetector(FrameRuleDetector):
    """Fires on crowded or standing traffic in a zone."""

    name = "congestion"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracks = TrackHistory()

    @classmethod
    def from_settings(cls, settings: Any) -> CongestionDetector:
        """The detector of ``settings.rules.congestion`` with the zones of ``settings.cameras``."""
        zones, names = cameras_from_settings(settings)
        rules = rules_from_settings(settings, "congestion", CongestionRule)
        check_rule_labels(settings, "congestion", rules, {r.name: [r.zone] for r in rules})
        return cls(rules, zones, names)

    def _targets(self, rule: CongestionRule, event: Event) -> list[tuple[str, ...]]:
        return [(event.source_id,)] if self.has_zone(rule, event.source_id, rule.zone) else []

    def _empty(self) -> dict[str, Any]:
        return {}

    def _add(self, rule: CongestionRule, key: tuple[str, ...], agg: dict[str, Any], event: Event) -> None:
        assert isinstance(event, CameraDetection)
        if event.label not in rule.labels or event.score < rule.min_score:
            return
        if not in_zone(event, rule.zone, self.polygon(event.source_id, rule.zone)):
            return
        agg["|".join(object_id(event))] = event.track_id
        if rule.stopped_px is not None and event.track_id is not None:
            keep = timedelta(seconds=rule.for_seconds) + self.max_gap + self.settle + self.lateness
            self.tracks.remember(rule.name, event, keep)

    def stopped(self, rule: CongestionRule, camera: str, track_id: int, t: datetime) -> bool:
        """Whether the track stood within ``stopped_px`` of its place at ``t`` for ``for_seconds``."""
        assert rule.stopped_px is not None
        obs = self.tracks.of(rule.name, camera, track_id, t)
        if not obs or obs[-1][0] != t:
            return False
        window = t - timedelta(seconds=rule.for_seconds)
        if obs[0][0] > window:
            return False  # not seen for long enough
        _, x, y = obs[-1]
        limit = rule.stopped_px ** 2
        return all((ox - x) ** 2 + (oy - y) ** 2 <= limit for ot, ox, oy in obs if ot >= window)

    def _sample(
        self, rule: CongestionRule, key: tuple[str, ...], t: datetime, agg: dict[str, Any]
    ) -> FrameSample:
        count = len(agg)
        crowded = rule.above is not None and count > rule.above
        stopped = 0
        if rule.stopped_px is not None:
            stopped = sum(1 for tid in agg.values() if tid is not None and self.stopped(rule, key[1], tid, t))
        standing = rule.stopped_px is not None and stopped >= rule.min_stopped
        since = t - timedelta(seconds=rule.for_seconds) if standing else None
        return FrameSample(breaching=crowded or standing, value=float(count), since=since,
                           info={"stopped": stopped})

    @staticmethod
    def _stopped_of(change: Change) -> int:
        return int((change.info or {}).get("stopped", 0))

    def _title(
        self, rule: CongestionRule, key: tuple[str, ...], change: Change, fields: dict[str, Any]
    ) -> Title:
        stopped = self._stopped_of(change)
        fields.update(above=rule.above, for_seconds=rule.for_seconds, stopped=stopped)
        params = {"camera": fields["camera_name"], "zone": rule.zone or "", "count": int(change.value),
                  "stopped": stopped, "above": rule.above, "seconds": float(rule.for_seconds)}
        if change.status == "resolved":
            kind = "moving"
        elif rule.stopped_px is not None and stopped >= rule.min_stopped:
            kind = "stopped"
        else:
            kind = "many"
        return CONGESTION_TITLES[(kind, bool(rule.zone))], params

    def _details(self, rule: CongestionRule, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        return {"zone": rule.zone, "labels": rule.labels, "count": int(change.value),
                "stopped": self._stopped_of(change), "above": rule.above,
                "stopped_px": rule.stopped_px, "for_seconds": rule.for_seconds}

    def _dump_agg(self, agg: Any) -> Any:
        return agg

    def _load_agg(self, raw: Any) -> Any:
        return dict(raw)

    def _extra_state(self) -> dict[str, Any]:
        return {"history": self.tracks.dump()}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        self.tracks.load(state.get("history", []), self._rules)
