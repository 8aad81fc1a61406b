"""The registry of detector kinds: a name and a factory that builds it from the settings.

Adding a rule kind means one module with a detector class and one line in its package's
``DETECTORS``; adding a detector package means one line in :data:`PACKAGES`.
A factory gets the whole :class:`ioc.config.Settings` and returns the detectors
it configures (a family such as the vessel rules returns several);
:func:`build_detectors` leaves out detectors that read no event kind (no rules
of theirs are configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import detectors.cameras as cameras
import detectors.press as press
import detectors.reports as reports
import detectors.security as security
import detectors.services as services
import detectors.vessels as vessels
from detectors.base import Detector
from detectors.stale import StaleSensorDetector
from detectors.threshold import ThresholdDetector
from detectors.vessels import vessel_rules  # noqa: F401  (re-exported)
from ioc.config import Settings

DetectorFactory = Callable[[Settings], Sequence[Detector]]


PACKAGES: list[Mapping[str, DetectorFactory]] = [
    {"threshold": lambda s: [ThresholdDetector.from_settings(s)]},
    {"stale": lambda s: [StaleSensorDetector.from_settings(s)]},
    vessels.DETECTORS,
    cameras.DETECTORS,
    security.DETECTORS,
    press.DETECTORS,
    services.DETECTORS,
    reports.DETECTORS,
]
"""Each detector package's own ``DETECTORS`` (name -> factory): one line per package."""

DETECTORS: Mapping[str, DetectorFactory] = {name: f for package in PACKAGES for name, f in package.items()}


def build_detectors(
    settings: Settings, registry: Mapping[str, DetectorFactory] | None = None
) -> list[Detector]:
    """Every registered detector that has rules in ``settings``, in registry order."""
    chosen = DETECTORS if registry is None else registry
    built = [detector for factory in chosen.values() for detector in factory(settings)]
    return [detector for detector in built if detector.kinds]
