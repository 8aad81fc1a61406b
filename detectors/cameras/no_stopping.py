"""No-stopping rules: a vehicle standing in a no-stopping zone for ``stopped_seconds``.

The congestion rule's test of a stopped vehicle (a tracked box centre that stayed within
``stopped_px`` pixels for the whole time), with one vehicle enough and its own alert:
fingerprint ``no_stopping:<rule>:<camera>``, ``started_at`` when the vehicle stopped.
"""

from __future__ import annotations

from typing import Any

from detectors.cameras.base import Title, cameras_from_settings, rules_from_settings
from detectors.cameras.congestion import CongestionDetector
from detectors.cameras.frames import Change
from detectors.cameras.labels import check_rule_labels
from ioc.feeds.cameras.rules import NoStoppingRule  # noqa: F401  (re-exported)

NO_STOPPING_TITLES = {  # alert titles (``alerts`` catalogue messages) by firing
    True: "Vehicle stopped in a no-stopping zone: {zone} at {camera} for {seconds} s",
    False: "No vehicle stopped in {zone} at {camera} any more",
}


class NoStoppingDetector(CongestionDetector):
    """Fires when a vehicle stands in a no-stopping zone."""

    name = "no_stopping"

    @classmethod
    def from_settings(cls, settings: Any) -> NoStoppingDetector:  # type: ignore[override]
        """The detector of ``settings.rules.no_stopping`` with the zones of ``settings.cameras``."""
        zones, names = cameras_from_settings(settings)
        rules = rules_from_settings(settings, "no_stopping", NoStoppingRule)
        check_rule_labels(settings, "no_stopping", rules, {r.name: [r.zone] for r in rules})
        return cls(rules, zones, names)

    def _title(self, rule: Any, key: tuple[str, ...], change: Change, fields: dict[str, Any]) -> Title:
        params = {"camera": fields["camera_name"], "zone": rule.zone, "seconds": float(rule.stopped_seconds)}
        return NO_STOPPING_TITLES[change.status == "firing"], params
