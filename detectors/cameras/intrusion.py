"""Intrusion rules: a person in a restricted zone, optionally only at certain hours.

Per (rule, camera), a frame breaches when at least one object of the rule's ``labels``
(score at least ``min_score``) stands (bottom centre of its box) in one of the rule's
``zones``, and, when ``active_from`` / ``active_until`` are set, the frame's event time read
in the city's timezone falls in that daily window (``"22:00"`` to ``"05:00"`` wraps
midnight; the start is included, the end is not). It fires after ``for_seconds`` (0: on the
first such frame) and resolves after ``clear_seconds`` with no intruder (or outside the
window), or when the camera reports nothing for ``max_gap``. The clock of the window is the
events' time, never the machine's, so a replay at noon of a night recording still alerts.
Fingerprint ``intrusion:<rule>:<camera>``; title fields as for crowds plus ``zones``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from detectors.cameras.base import (
    CameraZones,
    FrameRuleDetector,
    Title,
    cameras_from_settings,
    in_zone,
    rules_from_settings,
)
from detectors.cameras.crowd import object_id
from detectors.cameras.frames import Change, FrameSample
from detectors.cameras.labels import check_rule_labels
from ioc.events import Event
from ioc.feeds.cameras.records import CameraDetection
from ioc.feeds.cameras.rules import IntrusionRule, parse_clock  # noqa: F401  (re-exported)

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
INTRUSION_TITLES = {  # alert titles (``alerts`` catalogue messages) by firing
    True: "Intrusion: {count} {labels} in restricted {zones} at {camera}",
    False: "Restricted zone clear: {zones} at {camera}",
}








class IntrusionDetector(FrameRuleDetector):
    """Fires when someone enters a restricted zone (at the hours a rule watches)."""

    name = "intrusion"

    def __init__(
        self,
        rules: list[IntrusionRule],
        zones: CameraZones | None = None,
        camera_names: dict[str, str] | None = None,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        max_gap: timedelta = timedelta(seconds=10),
        settle: timedelta = timedelta(seconds=1),
        lateness: timedelta = timedelta(seconds=5),
    ) -> None:
        super().__init__(rules, zones, camera_names, max_gap=max_gap, settle=settle, lateness=lateness)
        self.tz = ZoneInfo(timezone)

    @classmethod
    def from_settings(cls, settings: Any) -> IntrusionDetector:
        """The detector of ``settings.rules.intrusion``, zones of ``settings.cameras``, city timezone."""
        zones, names = cameras_from_settings(settings)
        rules = rules_from_settings(settings, "intrusion", IntrusionRule)
        check_rule_labels(settings, "intrusion", rules, {r.name: list(r.zones) for r in rules})
        return cls(rules, zones, names, timezone=getattr(settings, "timezone", DEFAULT_TIMEZONE))

    def _targets(self, rule: IntrusionRule, event: Event) -> list[tuple[str, ...]]:
        camera = event.source_id
        if any(self.has_zone(rule, camera, z) for z in rule.zones):
            return [(camera,)]
        return []

    def _empty(self) -> dict[str, str]:
        return {}

    def _add(self, rule: IntrusionRule, key: tuple[str, ...], agg: dict[str, str], event: Event) -> None:
        assert isinstance(event, CameraDetection)
        if event.label not in rule.labels or event.score < rule.min_score:
            return
        for zone in rule.zones:
            if self.has_zone(rule, event.source_id, zone) and in_zone(
                event, zone, self.polygon(event.source_id, zone)
            ):
                agg["|".join(object_id(event))] = zone
                return

    def _sample(
        self, rule: IntrusionRule, key: tuple[str, ...], t: datetime, agg: dict[str, str]
    ) -> FrameSample:
        watching = rule.active(t.astimezone(self.tz).time())
        count = len(agg) if watching else 0
        return FrameSample(breaching=count > 0, value=float(count),
                           info={"zones": sorted(set(agg.values())) if watching else []})

    def _title(
        self, rule: IntrusionRule, key: tuple[str, ...], change: Change, fields: dict[str, Any]
    ) -> Title:
        zones = (change.info or {}).get("zones") or rule.zones
        fields.update(zones=", ".join(zones), for_seconds=rule.for_seconds)
        firing = change.status == "firing"
        params = {"camera": fields["camera_name"], "zones": ", ".join(zones if firing else rule.zones),
                  "count": int(change.value), "labels": "/".join(rule.labels)}
        return INTRUSION_TITLES[firing], params

    def _details(self, rule: IntrusionRule, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        return {"zones": (change.info or {}).get("zones", []), "watched_zones": rule.zones,
                "count": int(change.value), "active_from": rule.active_from,
                "active_until": rule.active_until}

    def _dump_agg(self, agg: Any) -> Any:
        return agg

    def _load_agg(self, raw: Any) -> Any:
        return dict(raw)
