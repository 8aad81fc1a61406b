"""Wrong-way rules: a vehicle on a one-way lane moving against its direction.

Per (rule, camera), each analysed frame takes the tracked objects of the rule's ``labels`` whose
bottom centre is in ``zone`` (the lane). For each, the displacement of its box centre over the
last ``over_seconds`` is projected on the lane's ``direction`` (a vector in normalised image
coordinates: ``[0, 1]`` is "down the picture"; without one, the ``one_way`` of the camera's lane
named ``zone``); more than ``min_px`` pixels against it makes
the object a wrong-way driver. A frame breaches when at least one is, held for ``for_seconds``
(default 0: at once) to fire; the alert resolves after ``clear_seconds`` without one.
Fingerprint ``wrong_way:<rule>:<camera>``; ``started_at`` is the frame the driver was seen
against the flow; ``details`` name the track ids.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from detectors.cameras.base import (
    FrameRuleDetector,
    Title,
    cameras_from_settings,
    in_zone,
    one_way_lanes,
    rules_from_settings,
)
from detectors.cameras.frames import Change, FrameSample
from detectors.cameras.labels import check_rule_labels
from detectors.cameras.tracks import TrackHistory
from ioc.camera_settings import CameraConfigError
from ioc.events import Event
from ioc.feeds.cameras.records import CameraDetection
from ioc.feeds.cameras.rules import WrongWayRule  # noqa: F401  (re-exported)

WRONG_WAY_TITLES = {  # alert titles (``alerts`` catalogue messages) by firing
    True: "Wrong way: {count} vehicle(s) against the traffic in {zone} at {camera}",
    False: "No vehicle against the traffic in {zone} at {camera} any more",
}


class WrongWayDetector(FrameRuleDetector):
    """Fires when a tracked vehicle moves against a one-way lane's direction."""

    name = "wrong_way"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracks = TrackHistory()
        self._frame_size: dict[str, tuple[int, int]] = {}
        self.lane_ways: dict[str, dict[str, tuple[float, float]]] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> WrongWayDetector:
        """The detector of ``settings.rules.wrong_way`` with the zones of ``settings.cameras``."""
        zones, names = cameras_from_settings(settings)
        rules = rules_from_settings(settings, "wrong_way", WrongWayRule)
        check_rule_labels(settings, "wrong_way", rules, {r.name: [r.zone] for r in rules})
        ways = one_way_lanes(settings)
        for rule in rules:
            lanes = {c: w[rule.zone] for c, w in ways.items() if rule.zone in w}
            if rule.direction is None and not (set(rule.cameras) & set(lanes) if rule.cameras else lanes):
                raise CameraConfigError(
                    f"rules.wrong_way.{rule.name}: no direction, and no watched camera has a lane "
                    f"{rule.zone!r} with one_way set")
        detector = cls(rules, zones, names)
        detector.lane_ways = ways
        return detector

    def direction(self, rule: WrongWayRule, camera: str) -> tuple[float, float] | None:
        """The direction traffic must take: the rule's, else the one_way of the camera's lane."""
        return rule.direction or self.lane_ways.get(camera, {}).get(rule.zone)

    def _targets(self, rule: WrongWayRule, event: Event) -> list[tuple[str, ...]]:
        if self.direction(rule, event.source_id) is None:
            return []
        return [(event.source_id,)] if self.has_zone(rule, event.source_id, rule.zone) else []

    def _empty(self) -> dict[str, Any]:
        return {}

    def _add(self, rule: WrongWayRule, key: tuple[str, ...], agg: dict[str, Any], event: Event) -> None:
        assert isinstance(event, CameraDetection)
        if event.track_id is None or event.label not in rule.labels or event.score < rule.min_score:
            return
        if not in_zone(event, rule.zone, self.polygon(event.source_id, rule.zone)):
            return
        if event.frame_width and event.frame_height:
            self._frame_size[event.source_id] = (event.frame_width, event.frame_height)
        agg[str(event.track_id)] = event.track_id
        keep = timedelta(seconds=rule.over_seconds) + self.max_gap + self.settle + self.lateness
        self.tracks.remember(rule.name, event, keep)

    def against(self, rule: WrongWayRule, camera: str, track_id: int, t: datetime) -> float:
        """Pixels the track moved against the lane's direction over the last ``over_seconds``."""
        obs = self.tracks.of(rule.name, camera, track_id, t)
        window = [o for o in obs if o[0] >= t - timedelta(seconds=rule.over_seconds)]
        if len(window) < 2 or window[-1][0] != t:
            return 0.0
        width, height = self._frame_size.get(camera, (1, 1))
        way = self.direction(rule, camera)
        if way is None:
            return 0.0
        ux, uy = way[0] * width, way[1] * height
        norm = math.hypot(ux, uy)
        dx, dy = window[-1][1] - window[0][1], window[-1][2] - window[0][2]
        return -(dx * ux + dy * uy) / norm

    def _sample(self, rule: WrongWayRule, key: tuple[str, ...], t: datetime,
                agg: dict[str, Any]) -> FrameSample:
        wrong = sorted(tid for tid in agg.values() if self.against(rule, key[1], tid, t) > rule.min_px)
        return FrameSample(breaching=bool(wrong), value=float(len(wrong)), info={"tracks": wrong})

    def _title(self, rule: WrongWayRule, key: tuple[str, ...], change: Change,
               fields: dict[str, Any]) -> Title:
        params = {"camera": fields["camera_name"], "zone": rule.zone, "count": int(change.value)}
        return WRONG_WAY_TITLES[change.status == "firing"], params

    def _details(self, rule: WrongWayRule, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        return {"zone": rule.zone, "direction": list(self.direction(rule, key[1]) or ()),
                "count": int(change.value),
                "tracks": (change.info or {}).get("tracks", []), "min_px": rule.min_px}

    def _dump_agg(self, agg: Any) -> Any:
        return agg

    def _load_agg(self, raw: Any) -> Any:
        return dict(raw)

    def _extra_state(self) -> dict[str, Any]:
        sizes = {c: list(s) for c, s in self._frame_size.items()}
        return {"history": self.tracks.dump(), "frame_size": sizes}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        self.tracks.load(state.get("history", []), self._rules)
        self._frame_size = {c: (int(w), int(h)) for c, (w, h) in state.get("frame_size", {}).items()}
