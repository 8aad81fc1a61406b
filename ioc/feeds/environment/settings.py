"""The environment feed's rules: thresholds on a metric held for a while (``[[rules.thresholds]]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ThresholdRule(BaseModel):
    """Fire when ``metric`` stays above/below a level for ``for_minutes``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    metric: str
    above: float | None = None
    below: float | None = None
    for_minutes: float = 10.0
    clear_margin: float = 0.0
    severity: Literal["info", "warning", "critical"] = "warning"
    stations: list[str] = Field(default_factory=list)
    title: str = ""

    @model_validator(mode="after")
    def _one_bound(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"rule {self.name!r}: set exactly one of 'above' or 'below'")
        return self


class EnvironmentRules(BaseModel):
    """The environment feed's sections of ``[rules]``."""

    model_config = ConfigDict(extra="forbid")

    thresholds: list[ThresholdRule] = Field(default_factory=list)
