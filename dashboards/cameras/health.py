"""A camera's health from its latest frame statistics and the fault rules' limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from dashboards.cameras.model import FAULT_NAMES
from dashboards.i18n import t
from ioc.config import Settings
from ioc.feeds.cameras.rules import CameraFaultRule
from ioc.store import camera_queries as cq

_RULE = CameraFaultRule.model_fields


@dataclass(frozen=True)
class FaultLimits:
    """When a camera's newest frame statistics count as a fault (the camera-fault rule's levels).

    The levels are those of the cameras feed's rule model (``ioc/feeds/cameras/rules.py``), read
    from the configured rule (``[[rules.camera_faults]]``) or its defaults: declared once.
    """

    offline_seconds: float = _RULE["offline_seconds"].default
    dark_below: float = _RULE["dark_below"].default
    frozen_change_below: float = _RULE["frozen_change_below"].default
    blur_below: float = _RULE["blur_below"].default
    faults: tuple[str, ...] = ("offline", "dark", "frozen", "blurred")  # those the page shows


def fault_limits(settings: Settings, camera_id: str) -> FaultLimits:
    """The levels of the first camera-fault rule that watches ``camera_id`` (defaults without one)."""
    for rule in settings.rules.camera_faults:
        if rule.cameras and camera_id not in rule.cameras:
            continue
        return FaultLimits(
            offline_seconds=rule.offline_seconds,
            dark_below=rule.dark_below,
            frozen_change_below=rule.frozen_change_below,
            blur_below=rule.blur_below,
            faults=tuple(rule.faults) if "faults" in rule.model_fields_set else FaultLimits.faults,
        )
    return FaultLimits()


HealthState = Literal["ok", "fault", "offline", "waiting"]


@dataclass(frozen=True)
class Health:
    """What a tile says about a camera's health."""

    state: HealthState
    label: str  # the badge: LIVE, OFFLINE, FAULT: DARK, NO SIGNAL YET
    faults: tuple[str, ...] = ()
    last_frame_age: timedelta | None = None
    fps_in: float | None = None

    def shown(self, lang: str) -> str:
        """The badge in ``lang``: ``TRỰC TIẾP``, ``LỖI: TỐI``..."""
        if self.state == "fault":
            names = ", ".join(t(FAULT_NAMES.get(f, f), lang).upper() for f in self.faults)
            return t("FAULT: {faults}", lang, faults=names)
        return t(self.label, lang)

    @property
    def bad(self) -> bool:
        """Offline or faulty: the tile is marked red."""
        return self.state in ("fault", "offline")


def camera_health(
    status: cq.CameraStatus | None, alerts: Sequence[cq.CameraAlert], limits: FaultLimits, now: datetime
) -> Health:
    """Live, offline, faulty (open camera-fault alert, or the newest frame looks so), or not seen yet."""
    alert_faults = [a.fault or "fault" for a in alerts if a.detector == cq.FAULT_DETECTOR and not a.resolved]
    if status is None or not status.reported:
        if alert_faults:
            return Health("offline", "OFFLINE", tuple(dict.fromkeys(alert_faults)))
        return Health("waiting", "NO SIGNAL YET")
    age = None if status.last_frame is None else max(timedelta(0), now - status.last_frame)
    silent = age is None or age.total_seconds() > limits.offline_seconds
    if not status.connected or silent:
        faults = tuple(dict.fromkeys(["offline", *alert_faults]))
        return Health("offline", "OFFLINE", faults, age, None)
    seen: list[str] = []
    dark = status.brightness is not None and status.brightness < limits.dark_below
    if dark and "dark" in limits.faults:
        seen.append("dark")
    if not dark and "frozen" in limits.faults and status.change is not None \
            and status.change <= limits.frozen_change_below:
        seen.append("frozen")
    if not dark and "blurred" in limits.faults and status.sharpness is not None \
            and status.sharpness < limits.blur_below:
        seen.append("blurred")
    faults = tuple(dict.fromkeys([*alert_faults, *seen]))
    if faults:
        label = "FAULT: " + ", ".join(FAULT_NAMES.get(f, f).upper() for f in faults)
        return Health("fault", label, faults, age, status.fps_in)
    return Health("ok", "LIVE", (), age, status.fps_in)
