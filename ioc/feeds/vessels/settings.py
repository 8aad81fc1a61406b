"""The vessel feed's rules section ``[rules.vessels]`` (its options are checked by the rules)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VesselRules(BaseModel):
    """``[rules.vessels]``: zone files, enabled rules, common and per-rule options."""

    model_config = ConfigDict(extra="forbid")

    vessels: dict[str, Any] = Field(default_factory=dict)  # see detectors/vessels/__init__.py
