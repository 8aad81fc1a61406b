"""The registry of detector kinds: a name and a factory that builds it from the settings.

Adding a rule kind means one module with a detector class and one line here.
A factory gets the whole :class:`ioc.config.Settings` and returns a detector;
:func:`build_detectors` leaves out detectors that read no event kind (no rules
of theirs are configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from detectors.base import Detector
from detectors.stale import StaleSensorDetector
from detectors.threshold import ThresholdDetector
from ioc.config import Settings

DetectorFactory = Callable[[Settings], Detector]

DETECTORS: Mapping[str, DetectorFactory] = {
    "threshold": ThresholdDetector.from_settings,
    "stale": StaleSensorDetector.from_settings,
}


def build_detectors(
    settings: Settings, registry: Mapping[str, DetectorFactory] | None = None
) -> list[Detector]:
    """Every registered detector that has rules in ``settings``, in registry order."""
    chosen = DETECTORS if registry is None else registry
    built = [factory(settings) for factory in chosen.values()]
    return [detector for detector in built if detector.kinds]
