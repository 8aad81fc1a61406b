"""The camera feed's rule sections: ``[[rules.crowd]]``, ``congestion``, ``intrusion``, ``camera_faults``,
``wrong_way``, ``no_stopping``, ``lane_congestion``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ioc.feeds.cameras.rules import (
    CameraFaultRule,
    CongestionRule,
    CrowdRule,
    IntrusionRule,
    LaneCongestionRule,
    NoStoppingRule,
    WrongWayRule,
)


class CameraRules(BaseModel):
    """Each camera rule kind's list (each entry a model of :mod:`ioc.feeds.cameras.rules`)."""

    model_config = ConfigDict(extra="forbid")

    crowd: list[CrowdRule] = Field(default_factory=list)
    congestion: list[CongestionRule] = Field(default_factory=list)
    intrusion: list[IntrusionRule] = Field(default_factory=list)
    camera_faults: list[CameraFaultRule] = Field(default_factory=list)
    wrong_way: list[WrongWayRule] = Field(default_factory=list)
    no_stopping: list[NoStoppingRule] = Field(default_factory=list)
    lane_congestion: list[LaneCongestionRule] = Field(default_factory=list)
