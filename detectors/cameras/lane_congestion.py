"""Lane congestion rules: a lane that is full AND slow, minute after minute.

Judged on the camera workers' per-minute ``camera.lane_occupancy`` records (occupancy, queue,
mean speed of the lane's tracked vehicles): a minute of the rule's ``lane`` breaches when its
occupancy is at least ``occupancy_at_least`` and its mean speed is below ``speed_below`` pixels
a second; a minute without a speed does not. Busy traffic that flows (full but fast) and a
slow vehicle on an empty road (slow but empty) are not congestion; both together are.

Each minute record is one frame of the shared fold (:mod:`detectors.cameras.frames`) at the
minute's start, so the rule is pure and event-time like the others: it fires at the
``for_minutes``-th breaching minute in a row (``started_at`` = the first one) and resolves at
the ``clear_minutes``-th minute in a row that does not breach. One missing minute (a camera
that analysed no frame in it) is bridged; after two, the run ends (frames stopped coming).
Fingerprint ``lane_congestion:<rule>:<camera>``; title fields as for crowds plus ``lane``,
``occupancy``, ``speed``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from detectors.cameras.base import (
    FrameRuleDetector,
    Title,
    cameras_from_settings,
    lane_names,
    rules_from_settings,
)
from detectors.cameras.frames import Change, FrameSample, RunTiming
from ioc.camera_settings import CameraConfigError
from ioc.events import Event
from ioc.feeds.cameras.records import LaneOccupancy
from ioc.feeds.cameras.rules import LaneCongestionRule  # noqa: F401  (re-exported)

MINUTE = timedelta(minutes=1)
LANE_CONGESTION_TITLES = {  # alert titles (``alerts`` catalogue messages) by firing
    True: "Congestion in {lane} at {camera}: lane {occupancy}% occupied, vehicles at {speed} px/s "
          "for {minutes} min",
    False: "Traffic flowing again in {lane} at {camera}",
}
MAX_GAP = timedelta(minutes=2, seconds=30)
"""Minute records are 60 s apart and published a minute after their start: one missing minute
is bridged, and the watermark of a camera still inside the next minute ends nothing."""


class LaneCongestionDetector(FrameRuleDetector):
    """Fires when a lane is occupied and slow for a number of minutes in a row."""

    name = "lane_congestion"
    event_kind = "camera.lane_occupancy"

    @classmethod
    def from_settings(cls, settings: Any) -> LaneCongestionDetector:
        """The detector of ``settings.rules.lane_congestion``; each rule's lane must be configured."""
        zones, names = cameras_from_settings(settings)
        rules = rules_from_settings(settings, "lane_congestion", LaneCongestionRule)
        lanes = lane_names(settings)
        for rule in rules:
            watched = rule.cameras or list(lanes)
            if not any(rule.lane in lanes.get(cam, set()) for cam in watched):
                raise CameraConfigError(
                    f"rules.lane_congestion.{rule.name}: no watched camera has a lane {rule.lane!r} "
                    f"([[cameras.lanes]])")
        return cls(rules, zones, names)

    def _targets(self, rule: LaneCongestionRule, event: Event) -> list[tuple[str, ...]]:
        assert isinstance(event, LaneOccupancy)
        return [(event.source_id,)] if event.lane == rule.lane else []

    def _timing(self, rule: LaneCongestionRule, key: tuple[str, ...]) -> RunTiming:
        return RunTiming(for_s=(rule.for_minutes - 1) * MINUTE, clear_s=(rule.clear_minutes - 1) * MINUTE,
                         max_gap=MAX_GAP, settle=self.settle, lateness=self.lateness)

    def _empty(self) -> dict[str, Any]:
        return {}

    def _add(self, rule: LaneCongestionRule, key: tuple[str, ...], agg: dict[str, Any], event: Event) -> None:
        assert isinstance(event, LaneOccupancy)
        agg.update(occupancy=event.occupancy, speed=event.speed_px_s, queue=event.queue_mean)

    def _sample(self, rule: LaneCongestionRule, key: tuple[str, ...], t: datetime,
                agg: dict[str, Any]) -> FrameSample:
        occupancy, speed = float(agg.get("occupancy", 0.0)), agg.get("speed")
        slow = speed is not None and speed < rule.speed_below
        return FrameSample(breaching=occupancy >= rule.occupancy_at_least and slow, value=occupancy,
                           info={"speed": speed, "queue": agg.get("queue")})

    def _title(self, rule: LaneCongestionRule, key: tuple[str, ...], change: Change,
               fields: dict[str, Any]) -> Title:
        speed = (change.info or {}).get("speed")
        fields.update(lane=rule.lane, occupancy=round(change.value * 100), speed=speed)
        params: dict[str, Any] = {"lane": rule.lane, "camera": fields["camera_name"],
                                  "occupancy": round(change.value * 100), "minutes": rule.for_minutes}
        if change.status == "firing":
            params["speed"] = round(speed or 0.0)
        return LANE_CONGESTION_TITLES[change.status == "firing"], params

    def _details(self, rule: LaneCongestionRule, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        info = change.info or {}
        return {"lane": rule.lane, "occupancy": change.value, "speed_px_s": info.get("speed"),
                "queue_mean": info.get("queue"), "occupancy_at_least": rule.occupancy_at_least,
                "speed_below": rule.speed_below, "for_minutes": rule.for_minutes}

    def _dump_agg(self, agg: Any) -> Any:
        return agg

    def _load_agg(self, raw: Any) -> Any:
        return dict(raw)
