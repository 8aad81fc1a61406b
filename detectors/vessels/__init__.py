"""Vessel rules: one module per rule over AIS positions, plus the zones they share.

* :mod:`.zone_dwell`: inside a no-fishing or protected zone (confirmed by dwell time);
* :mod:`.ais_gap`: a "dark" vessel, silent at sea for too long;
* :mod:`.loitering`: slow (< 2 kn on average) for hours, away from port;
* :mod:`.encounter`: two vessels side by side, slowly, for hours;
* :mod:`.storm_ban`: at sea inside an area closed by an active storm warning.

All share :mod:`.common` (per-vessel reordering in event time, snapshots) and a
:class:`~detectors.vessels.zones.ZoneIndex` built once by the runtime and handed down.
:func:`build_vessel_detectors` builds the enabled rules from a config mapping::

    [rules.vessels]
    zones = ["vessels/hue-zones.geojson"]      # relative to sample_streams/ (or absolute)
    enabled = ["zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban"]
    [rules.vessels.common]                     # options every rule takes
    settle_minutes = 2
    allowed_lateness_minutes = 30
    [rules.vessels.ais_gap]
    gap_minutes = 60
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ioc.config import ConfigError, Settings

from .ais_gap import AisGapConfig, AisGapDetector
from .common import RuleConfig, VesselRule
from .encounter import EncounterConfig, EncounterDetector
from .loitering import LoiteringConfig, LoiteringDetector
from .ruleset import PLAIN_KINDS, VesselRuleSet
from .storm_ban import StormBanConfig, StormBanDetector, StormWarning
from .zone_dwell import ZoneDwellConfig, ZoneDwellDetector
from .zones import Zone, ZoneError, ZoneIndex, load_zones

RULES: dict[str, type[VesselRule]] = {
    "zone_dwell": ZoneDwellDetector,
    "ais_gap": AisGapDetector,
    "loitering": LoiteringDetector,
    "encounter": EncounterDetector,
    "storm_ban": StormBanDetector,
}


def build_vessel_detectors(
    config: Mapping[str, Any], zones: ZoneIndex | None = None, base_dir: Path | None = None
) -> list[VesselRule]:
    """The enabled vessel rules (all by default), each with ``common`` options under its own.

    ``zones`` is the shared index; without it the ``zones`` files of the config are loaded
    (relative to ``base_dir``). Unknown rule names or options raise ``ValueError``.
    """
    known = {"zones", "enabled", "common", *RULES}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown vessel rule setting(s) {unknown}; rules are {sorted(RULES)}")
    enabled = list(config.get("enabled", RULES))
    bad = sorted(set(enabled) - set(RULES))
    if bad:
        raise ValueError(f"unknown vessel rule(s) {bad}; rules are {sorted(RULES)}")
    if zones is None:
        files = config.get("zones", [])
        files = [files] if isinstance(files, str) else list(files)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        zones = load_zones([base / f for f in files]) if files else ZoneIndex([])
    common = dict(config.get("common", {}))
    return [RULES[name](zones, {**common, **dict(config.get(name, {}))}) for name in enabled]  # type: ignore[call-arg]


def vessel_rules(settings: Settings) -> Sequence[VesselRule]:
    """The vessel rules of ``[rules.vessels]`` (none when the section is absent); those that read
    plain positions share one reorder queue (:class:`~detectors.vessels.ruleset.VesselRuleSet`)."""
    if "vessels" not in settings.rules.model_fields_set:
        return []
    rules = build_vessel_detectors(settings.rules.vessels.as_config(), base_dir=settings.samples_dir)
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
    plain = [rule for rule in rules if rule.kinds <= PLAIN_KINDS]
    if len(plain) < 2:
        return rules
    return [VesselRuleSet(plain), *(rule for rule in rules if rule not in plain)]


DETECTORS: Mapping[str, Callable[[Settings], Sequence[VesselRule]]] = {"vessels": vessel_rules}
"""This package's entries of the detector registry."""


__all__ = [
    "DETECTORS",
    "RULES",
    "AisGapConfig",
    "AisGapDetector",
    "EncounterConfig",
    "EncounterDetector",
    "LoiteringConfig",
    "LoiteringDetector",
    "RuleConfig",
    "StormBanConfig",
    "StormBanDetector",
    "StormWarning",
    "VesselRule",
    "VesselRuleSet",
    "Zone",
    "ZoneDwellConfig",
    "ZoneDwellDetector",
    "ZoneError",
    "ZoneIndex",
    "build_vessel_detectors",
    "vessel_rules",
    "load_zones",
]
