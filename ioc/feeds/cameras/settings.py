"""The camera feed's rule sections: ``[[rules.crowd]]``, ``congestion``, ``intrusion``, ``camera_faults``,
``wrong_way``, ``no_stopping``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CameraRules(BaseModel):
    """Each camera rule kind's list (every entry checked by its rule's model, detectors/cameras/)."""

    model_config = ConfigDict(extra="forbid")

    crowd: list[dict[str, Any]] = Field(default_factory=list)
    congestion: list[dict[str, Any]] = Field(default_factory=list)
    intrusion: list[dict[str, Any]] = Field(default_factory=list)
    camera_faults: list[dict[str, Any]] = Field(default_factory=list)
    wrong_way: list[dict[str, Any]] = Field(default_factory=list)
    no_stopping: list[dict[str, Any]] = Field(default_factory=list)
