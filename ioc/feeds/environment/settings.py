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
    #: the alert's title, a template of the rule's fields ({metric}, {value}, {bound}, {unit},
    #: {station}, {area}, {minutes}): one text, or one per language (``{vi = "...", en = "..."}``),
    #: each screen reading its own; empty: the standard title, in every language
    title: str | dict[Literal["vi", "en"], str] = ""

    def title_forms(self) -> tuple[str, dict[str, str]]:
        """The rule's own title: its English (else its only) text, and its texts in other languages."""
        if isinstance(self.title, str):
            return self.title, {}
        english = self.title.get("en") or next(iter(self.title.values()), "")
        return english, {lang: text for lang, text in self.title.items() if lang != "en"}

    @model_validator(mode="after")
    def _one_bound(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"rule {self.name!r}: set exactly one of 'above' or 'below'")
        return self


class EnvironmentRules(BaseModel):
    """The environment feed's sections of ``[rules]``."""

    model_config = ConfigDict(extra="forbid")

    thresholds: list[ThresholdRule] = Field(default_factory=list)
