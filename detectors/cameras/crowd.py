"""Crowd rules: more than ``above`` people in a zone for ``for_seconds``, in event time.

Per (rule, camera) the detector counts, per analysed frame, the distinct objects of the
rule's ``labels`` (score at least ``min_score``) whose bottom centre is in the rule's
``zone`` (no zone: the whole frame). Any detection of the camera marks a frame, so a frame
with people elsewhere counts as 0 in the zone; a camera that reports nothing for
``max_gap`` (no one detected) counts as 0 too. The count must stay above ``above`` for
``for_seconds`` to fire, and at or below it for ``clear_seconds`` to resolve. Duplicated
records (at-least-once bus) are counted once: an object is its label and track id, or its
box when untracked. Fingerprint: ``crowd:<rule>:<camera>``. Title fields: ``count``,
``peak``, ``zone``, ``camera``, ``camera_name``, ``above``, ``for_seconds``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from detectors.cameras.base import (
    FrameRuleDetector,
    Title,
    cameras_from_settings,
    in_zone,
    rules_from_settings,
)
from detectors.cameras.frames import Change, FrameSample
from detectors.cameras.labels import check_rule_labels
from ioc.events import Event
from ioc.feeds.cameras.records import CameraDetection
from ioc.feeds.cameras.rules import CrowdRule  # noqa: F401  (re-exported)

# alert titles (``alerts`` catalogue messages) by (firing, has a zone)
CROWD_TITLES = {
    (True, True): "Crowd: {count} {labels} in {zone} at {camera} (over {above} for {seconds} s)",
    (True, False): "Crowd: {count} {labels} in {camera} (over {above} for {seconds} s)",
    (False, True): "Crowd cleared in {zone} at {camera} (peak {peak} {labels})",
    (False, False): "Crowd cleared in {camera} (peak {peak} {labels})",
}


def object_id(event: CameraDetection) -> tuple[str, str]:
    """What tells two objects of one frame apart: label and track id, or the rounded box."""
    if event.track_id is not None:
        return (event.label, f"t{event.track_id}")
    b = event.box
    return (event.label, f"b{round(b.x1)},{round(b.y1)},{round(b.x2)},{round(b.y2)}")


class CrowdDetector(FrameRuleDetector):
    """Fires when a zone holds more than a rule's number of people for a while."""

    name = "crowd"

    @classmethod
    def from_settings(cls, settings: Any) -> CrowdDetector:
        """The detector of ``settings.rules.crowd`` with the zones of ``settings.cameras``."""
        zones, names = cameras_from_settings(settings)
        rules = rules_from_settings(settings, "crowd", CrowdRule)
        check_rule_labels(settings, "crowd", rules, {r.name: [r.zone] for r in rules})
        return cls(rules, zones, names)

    def _targets(self, rule: CrowdRule, event: Event) -> list[tuple[str, ...]]:
        return [(event.source_id,)] if self.has_zone(rule, event.source_id, rule.zone) else []

    def _empty(self) -> set[tuple[str, str]]:
        return set()

    def _add(self, rule: CrowdRule, key: tuple[str, ...], agg: set[tuple[str, str]], event: Event) -> None:
        assert isinstance(event, CameraDetection)
        if event.label not in rule.labels or event.score < rule.min_score:
            return
        if in_zone(event, rule.zone, self.polygon(event.source_id, rule.zone)):
            agg.add(object_id(event))

    def _sample(self, rule: CrowdRule, key: tuple[str, ...], t: datetime, agg: set[Any]) -> FrameSample:
        return FrameSample(breaching=len(agg) > rule.above, value=float(len(agg)))

    def _title(self, rule: CrowdRule, key: tuple[str, ...], change: Change, fields: dict[str, Any]) -> Title:
        fields.update(above=rule.above, for_seconds=rule.for_seconds)
        params = {"camera": fields["camera_name"], "zone": rule.zone or "", "labels": "/".join(rule.labels),
                  "count": int(change.value), "peak": int(change.peak), "above": rule.above,
                  "seconds": float(rule.for_seconds)}
        return CROWD_TITLES[(change.status == "firing", bool(rule.zone))], params

    def _details(self, rule: CrowdRule, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        return {"zone": rule.zone, "labels": rule.labels, "count": int(change.value),
                "above": rule.above, "for_seconds": rule.for_seconds}
