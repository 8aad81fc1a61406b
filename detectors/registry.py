"""The registry of detector kinds: a name and a factory that builds it from the settings.

Adding a rule kind means one module with a detector class and one line here.
A factory gets the whole :class:`ioc.config.Settings` and returns the detectors
it configures (a family such as the vessel rules returns several);
:func:`build_detectors` leaves out detectors that read no event kind (no rules
of theirs are configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from detectors.base import Detector
from detectors.cameras import CAMERA_DETECTORS
from detectors.reports import DETECTORS as REPORTS
from detectors.security import DETECTORS as SECURITY
from detectors.stale import StaleSensorDetector
from detectors.threshold import ThresholdDetector
from detectors.vessels import EncounterDetector, build_vessel_detectors
from ioc.config import ConfigError, Settings

DetectorFactory = Callable[[Settings], Sequence[Detector]]


def vessel_rules(settings: Settings) -> Sequence[Detector]:
    """The vessel rules of ``[rules.vessels]`` (none when the section is absent)."""
    if not settings.rules.vessels:
        return []
    rules = build_vessel_detectors(settings.rules.vessels, base_dir=settings.samples_dir)
    cells = settings.bus.cells
    for rule in rules:
        if not isinstance(rule, EncounterDetector):
            continue
        if rule.cfg.max_distance_m > cells.halo_m:
            raise ConfigError(f"encounter max_distance_m {rule.cfg.max_distance_m:g} is more than the map "
                              f"cells' halo ([bus.cells] halo_m = {cells.halo_m:g}): a close pair could "
                              "be missed")
        if cells.hold_minutes < rule.cfg.max_fix_age_minutes + rule.cfg.bin_minutes:
            raise ConfigError(f"[bus.cells] hold_minutes {cells.hold_minutes:g} is less than the encounter's "
                              "max_fix_age_minutes + bin_minutes: a cell could keep a vessel where it was")
    return rules


DETECTORS: Mapping[str, DetectorFactory] = {
    "threshold": lambda s: [ThresholdDetector.from_settings(s)],
    "stale": lambda s: [StaleSensorDetector.from_settings(s)],
    "vessels": vessel_rules,
    **{name: (lambda s, f=factory: [f(s)]) for name, factory in CAMERA_DETECTORS.items()},
    **SECURITY,
    **REPORTS,
}


def build_detectors(
    settings: Settings, registry: Mapping[str, DetectorFactory] | None = None
) -> list[Detector]:
    """Every registered detector that has rules in ``settings``, in registry order."""
    chosen = DETECTORS if registry is None else registry
    built = [detector for factory in chosen.values() for detector in factory(settings)]
    return [detector for detector in built if detector.kinds]
