"""The cameras feed's rule settings: one pydantic model (``extra="forbid"``) per rule kind.

``[[rules.crowd]]``, ``[[rules.congestion]]``, ``[[rules.intrusion]]``, ``[[rules.camera_faults]]``,
``[[rules.wrong_way]]``, ``[[rules.no_stopping]]``, ``[[rules.lane_congestion]]``. The camera-fault
levels are declared here, once: the rule (``detectors/cameras/faults.py``) judges with them and the
camera page (``dashboards/cameras/health.py``) shows the same faults at the same levels.
"""

from __future__ import annotations

import math
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VEHICLES = ["car", "truck", "bus", "motorcycle", "bicycle"]
FAULTS = ("dark", "frozen", "blurred", "shaking")


def parse_clock(value: str) -> time:
    """``"HH:MM"`` (or ``"HH:MM:SS"``) as a time of day."""
    return time.fromisoformat(value)


class CameraRule(BaseModel):
    """Fields every camera rule has."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=96)]
    cameras: list[str] = Field(default_factory=list)
    """Camera ids the rule watches; empty: every camera (that has the rule's zone)."""
    severity: Literal["info", "warning", "critical"] = "warning"
    title: str = ""
    """Optional template, e.g. ``"{count} people at {camera_name}"`` (fields: see each rule)."""
    clear_seconds: Annotated[float, Field(ge=0)] = 10.0
    """How long the condition must be off before the alert resolves."""


class CrowdRule(CameraRule):
    """More than ``above`` objects of ``labels`` in ``zone`` for ``for_seconds``."""

    zone: str | None = None
    labels: list[str] = Field(default_factory=lambda: ["person"])
    above: Annotated[int, Field(ge=0)]
    for_seconds: Annotated[float, Field(ge=0)] = 30.0
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0


class CongestionRule(CameraRule):
    """More than ``above`` vehicles in ``zone`` for ``for_seconds``, or ``min_stopped`` not moving."""

    zone: str | None = None
    labels: list[str] = Field(default_factory=lambda: list(VEHICLES))
    above: Annotated[int, Field(ge=0)] | None = None
    for_seconds: Annotated[float, Field(ge=0)] = 60.0
    stopped_px: Annotated[float, Field(gt=0)] | None = None
    min_stopped: Annotated[int, Field(ge=1)] = 1
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _a_condition(self) -> CongestionRule:
        if self.above is None and self.stopped_px is None:
            raise ValueError(f"congestion rule {self.name!r}: set 'above', 'stopped_px' or both")
        return self


class CameraFaultRule(CameraRule):
    """Which camera faults to judge, and their thresholds."""

    faults: list[Literal["offline", "dark", "frozen", "blurred", "shaking"]] = Field(
        default_factory=lambda: ["offline", *FAULTS]
    )
    offline_seconds: Annotated[float, Field(gt=0)] = 30.0
    dark_below: Annotated[float, Field(ge=0, le=255)] = 15.0
    dark_seconds: Annotated[float, Field(ge=0)] = 10.0
    frozen_change_below: Annotated[float, Field(ge=0)] = 0.3
    frozen_seconds: Annotated[float, Field(ge=0)] = 10.0
    blur_below: Annotated[float, Field(ge=0)] = 80.0
    blur_seconds: Annotated[float, Field(ge=0)] = 10.0
    shake_above: Annotated[float, Field(ge=0)] = 0.2
    shake_seconds: Annotated[float, Field(ge=0)] = 5.0
    clear_seconds: Annotated[float, Field(ge=0)] = 5.0

    def enabled(self) -> list[str]:
        """The frame faults (not ``offline``) this rule judges."""
        return [f for f in FAULTS if f in self.faults]


class IntrusionRule(CameraRule):
    """Someone in one of ``zones`` (during ``active_from``..``active_until`` local time, if set)."""

    zones: Annotated[list[str], Field(min_length=1)]
    labels: list[str] = Field(default_factory=lambda: ["person"])
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    for_seconds: Annotated[float, Field(ge=0)] = 0.0
    active_from: str | None = None
    active_until: str | None = None
    severity: Literal["info", "warning", "critical"] = "critical"

    @field_validator("active_from", "active_until")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            parse_clock(value)
        return value

    def active(self, local: time) -> bool:
        """Whether the rule watches at local time of day ``local``."""
        if self.active_from is None and self.active_until is None:
            return True
        start = parse_clock(self.active_from or "00:00")
        end = parse_clock(self.active_until or "00:00")
        if start == end:
            return True
        if start < end:
            return start <= local < end
        return local >= start or local < end


class WrongWayRule(CameraRule):
    """A tracked vehicle in ``zone`` moving more than ``min_px`` against ``direction``."""

    zone: str
    direction: tuple[float, float] | None = None
    """The lane's direction of travel; ``None``: the ``one_way`` of the camera's lane ``zone``."""
    labels: list[str] = Field(default_factory=lambda: list(VEHICLES))
    min_px: Annotated[float, Field(gt=0)] = 40.0
    over_seconds: Annotated[float, Field(gt=0)] = 3.0
    for_seconds: Annotated[float, Field(ge=0)] = 0.0
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    severity: str = "critical"  # type: ignore[assignment]

    @field_validator("direction")
    @classmethod
    def _a_direction(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and math.hypot(*value) == 0:
            raise ValueError("direction must not be the zero vector")
        return value


class NoStoppingRule(CongestionRule):
    """A vehicle stopped in ``zone`` for ``stopped_seconds``."""

    zone: str  # type: ignore[assignment]
    stopped_seconds: Annotated[float, Field(gt=0)] = 60.0
    stopped_px: Annotated[float, Field(gt=0)] = 8.0  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _as_congestion(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "for_seconds" in data:
                raise ValueError("a no-stopping rule takes stopped_seconds, not for_seconds")
            data["for_seconds"] = data.get("stopped_seconds", 60.0)
            data["min_stopped"] = 1
        return data


class LaneCongestionRule(CameraRule):
    """A lane occupied at least ``occupancy_at_least`` of the time while its vehicles move slower
    than ``speed_below`` pixels a second, for ``for_minutes`` minutes in a row.

    Judged on the worker's per-minute ``camera.lane_occupancy`` records of the camera's lane
    ``lane`` (``[[cameras.lanes]]``). A minute without a speed (no vehicle seen twice) is not
    congested: a full lane of unknown speed is not evidence of a jam.
    """

    lane: Annotated[str, Field(min_length=1, max_length=96)]
    occupancy_at_least: Annotated[float, Field(gt=0, le=1)] = 0.6
    speed_below: Annotated[float, Field(gt=0)]
    """Mean speed of the lane's tracked vehicles, box centre pixels a second."""
    for_minutes: Annotated[int, Field(ge=1, le=1440)] = 3
    clear_minutes: Annotated[int, Field(ge=1, le=1440)] = 2
    """Minutes in a row below either threshold before the alert resolves."""

    @model_validator(mode="before")
    @classmethod
    def _minutes_not_seconds(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"clear_seconds", "for_seconds"} & set(data)):
            raise ValueError("a lane congestion rule takes for_minutes and clear_minutes (its records "
                             "are per minute), not for_seconds / clear_seconds")
        return data
