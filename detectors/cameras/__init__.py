"""Camera rules: crowds, congestion, intrusion, wrong way, no stopping, lane congestion, faults.

Each is a pure, event-time :class:`detectors.base.Detector` over ``camera.detection`` records
(``camera.frame_stats`` for faults, ``camera.lane_occupancy`` for lane congestion), built on the
frame fold of :mod:`detectors.cameras.frames`.
:data:`CAMERA_DETECTORS` maps a registry name to a ``from_settings`` factory, ready to merge
into :data:`detectors.registry.DETECTORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from detectors.cameras.congestion import CongestionDetector, CongestionRule
from detectors.cameras.crowd import CrowdDetector, CrowdRule
from detectors.cameras.faults import CameraFaultDetector, CameraFaultRule
from detectors.cameras.intrusion import IntrusionDetector, IntrusionRule
from detectors.cameras.lane_congestion import LaneCongestionDetector, LaneCongestionRule
from detectors.cameras.no_stopping import NoStoppingDetector, NoStoppingRule
from detectors.cameras.wrong_way import WrongWayDetector, WrongWayRule

CAMERA_DETECTORS: Mapping[str, Callable[[Any], Any]] = {
    "crowd": CrowdDetector.from_settings,
    "congestion": CongestionDetector.from_settings,
    "intrusion": IntrusionDetector.from_settings,
    "camera_fault": CameraFaultDetector.from_settings,
    "wrong_way": WrongWayDetector.from_settings,
    "no_stopping": NoStoppingDetector.from_settings,
    "lane_congestion": LaneCongestionDetector.from_settings,
}
DETECTORS: Mapping[str, Callable[[Any], list[Any]]] = {
    name: (lambda s, f=factory: [f(s)]) for name, factory in CAMERA_DETECTORS.items()
}
"""This package's entries of the detector registry."""

__all__ = [
    "DETECTORS",
    "CAMERA_DETECTORS",
    "CameraFaultDetector",
    "CameraFaultRule",
    "CongestionDetector",
    "CongestionRule",
    "CrowdDetector",
    "CrowdRule",
    "IntrusionDetector",
    "IntrusionRule",
    "LaneCongestionDetector",
    "LaneCongestionRule",
    "NoStoppingDetector",
    "NoStoppingRule",
    "WrongWayDetector",
    "WrongWayRule",
]
