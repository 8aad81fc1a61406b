"""The vessel feed's rules section ``[rules.vessels]``: one pydantic model per rule (``extra="forbid"``).

::

    [rules.vessels]
    zones = ["vessels/hue-zones.geojson"]      # relative to sample_streams/ (or absolute)
    enabled = ["zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban"]
    [rules.vessels.common]                     # options every rule takes
    settle_minutes = 2
    [rules.vessels.ais_gap]
    gap_minutes = 60

Each rule's table is checked alone here (a misspelled option fails at load time) and again
merged over ``common`` when the rules are built (:func:`VesselRuleSettings.as_config`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ioc.records import Severity


class RuleConfig(BaseModel):
    """Options every vessel rule has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settle_minutes: float = Field(default=2.0, ge=0, le=24 * 60)
    """How long a vessel's positions are held to be put in order (its own disorder)."""
    allowed_lateness_minutes: float = Field(default=30.0, ge=0, le=7 * 24 * 60)
    """How far one vessel's data may lag the newest event time of any (partition skew)."""
    forget_after_hours: float = Field(default=72.0, gt=0)
    """A vessel silent this long is forgotten (its open alerts resolved)."""
    severity: Severity = "warning"
    port_kinds: tuple[str, ...] = ("port",)
    """Zone kinds that count as "in port" (not at sea)."""


class AisGapConfig(RuleConfig):
    """Options of :class:`AisGapDetector`."""

    gap_minutes: float = Field(default=60.0, gt=0)
    within_kinds: tuple[str, ...] = ()


class EncounterConfig(RuleConfig):
    """Options of :class:`EncounterDetector`."""

    max_distance_m: float = Field(default=500.0, gt=0)
    min_duration_minutes: float = Field(default=120.0, gt=0)
    max_speed_kn: float = Field(default=2.0, gt=0)
    min_port_distance_m: float = Field(default=5000.0, ge=0)
    bin_minutes: float = Field(default=10.0, gt=0)
    max_fix_age_minutes: float = Field(default=30.0, gt=0)
    max_missed_bins: int = Field(default=1, ge=0)


class LoiteringConfig(RuleConfig):
    """Options of :class:`LoiteringDetector`."""

    max_speed_kn: float = Field(default=2.0, gt=0)
    min_duration_minutes: float = Field(default=120.0, gt=0)
    min_port_distance_m: float = Field(default=5000.0, ge=0)
    max_gap_minutes: float = Field(default=60.0, gt=0)
    sample_seconds: float = Field(default=60.0, gt=0)
    """Spacing of the window's anchor points (memory: one per vessel per ``sample_seconds``)."""


class StormBanConfig(RuleConfig):
    """Options of :class:`StormBanDetector`."""

    severity: Severity = "critical"


class ZoneDwellConfig(RuleConfig):
    """Options of :class:`ZoneDwellDetector`."""

    kinds: tuple[str, ...] = ("no_fishing", "protected")
    zone_ids: tuple[str, ...] = ()
    """If set, only these zones are watched (whatever their kind)."""
    min_dwell_minutes: float = Field(default=10.0, ge=0)
    min_exit_minutes: float = Field(default=5.0, ge=0)
    severity_by_kind: dict[str, Severity] = Field(
        default_factory=lambda: {"protected": "critical", "no_fishing": "warning"}
    )


RULE_NAMES = ("zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban")
RuleName = Literal["zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban"]


class VesselRuleSettings(BaseModel):
    """``[rules.vessels]``: the zone files, the enabled rules, and each rule's options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: list[str] = Field(default_factory=list)
    enabled: list[RuleName] = Field(default_factory=lambda: list(RULE_NAMES))
    common: RuleConfig = Field(default_factory=RuleConfig)
    zone_dwell: ZoneDwellConfig = Field(default_factory=ZoneDwellConfig)
    ais_gap: AisGapConfig = Field(default_factory=AisGapConfig)
    loitering: LoiteringConfig = Field(default_factory=LoiteringConfig)
    encounter: EncounterConfig = Field(default_factory=EncounterConfig)
    storm_ban: StormBanConfig = Field(default_factory=StormBanConfig)

    @field_validator("zones", mode="before")
    @classmethod
    def _one_file(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def as_config(self) -> dict[str, Any]:
        """The section as written (only the options set): the mapping the rule builder takes."""
        return self.model_dump(exclude_unset=True)


class VesselRules(BaseModel):
    """The ``[rules]`` fields of the vessel feed: ``[rules.vessels]``."""

    model_config = ConfigDict(extra="forbid")

    vessels: VesselRuleSettings = Field(default_factory=VesselRuleSettings)
