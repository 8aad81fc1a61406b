"""Camera fault rules, from the frame statistics the camera workers publish.

Reads ``camera.frame_stats`` records (one per sampled frame; ``connected=false`` heartbeats
while a camera is down). Per (rule, camera) and fault:

* ``offline``: no frame for ``offline_seconds``. Judged on :meth:`advance` (the watermark
  passing the last frame + ``offline_seconds``), on a heartbeat that much later than the last
  frame, or on a frame that shows such a gap (replay then gives the firing and resolved pair
  that live running gave). ``time`` = last frame + ``offline_seconds``, ``started_at`` = last
  frame; the next newer frame resolves it.
* ``dark`` (black or covered lens): ``brightness`` below ``dark_below`` for ``dark_seconds``.
* ``frozen`` (the picture does not change): ``change`` at or below ``frozen_change_below``
  for ``frozen_seconds``. Live footage changes by 0.8-3.5 grey levels a frame even where
  nothing moves (sensor noise); a repeated frame by 0.
* ``blurred`` (defocus, fog, dirt): ``sharpness`` below ``blur_below`` for ``blur_seconds``.
  Not judged on dark frames (a dark frame is also flat).
* ``shaking`` (loose mount, wind, traffic vibration): ``shake`` (back-and-forth motion of the
  picture, % of the frame width) above ``shake_above`` for ``shake_seconds``. A shaking
  picture's motion is not objects: the worker does not count it as such. Not judged on dark
  frames; records without ``shake`` (older workers) never breach.

Each fault resolves after ``clear_seconds`` of good frames. ``faults`` lists the faults a
rule judges (all five by default). Fingerprint ``camera_fault:<rule>:<camera>:<fault>``;
title fields: ``camera``, ``camera_name``, ``fault``, ``value``, ``seconds`` (offline).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from detectors.base import dump_time, load_time
from detectors.cameras.base import (
    FrameRuleDetector,
    Title,
    cameras_from_settings,
    rules_from_settings,
    titled,
)
from detectors.cameras.frames import Change, FrameSample, RunTiming
from ioc.events import AlertSignal, Event
from ioc.feeds.cameras.rules import FAULTS, CameraFaultRule  # noqa: F401  (re-exported)

KIND = "camera.frame_stats"
TITLES = {  # alert titles (``alerts`` catalogue messages) by fault: (firing, resolved)
    "offline": ("Camera offline: no frames from {camera_name} for {seconds} s",
                "Camera back online: {camera_name}"),
    "dark": ("Camera dark or covered: {camera_name}", "Camera image back: {camera_name}"),
    "frozen": ("Camera image frozen: {camera_name}", "Camera image moving again: {camera_name}"),
    "blurred": ("Camera image blurred: {camera_name}", "Camera image sharp again: {camera_name}"),
    "shaking": ("Camera shaking: {camera_name}", "Camera steady again: {camera_name}"),
}





def _stats(event: Event) -> dict[str, Any]:
    return {
        "connected": bool(getattr(event, "connected", True)),
        "brightness": getattr(event, "brightness", None),
        "sharpness": getattr(event, "sharpness", None),
        "change": getattr(event, "change", None),
        "shake": getattr(event, "shake", None),
    }


class CameraFaultDetector(FrameRuleDetector):
    """Fires on cameras that stop sending, go dark, freeze or blur."""

    name = "camera_fault"
    event_kind = KIND

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (rule, camera) -> {"last": last frame time, "ref": reference when no frame yet, "since": firing}
        self._offline: dict[tuple[str, str], dict[str, datetime | None]] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> CameraFaultDetector:
        """The detector of ``settings.rules.camera_faults``."""
        _, names = cameras_from_settings(settings)
        return cls(rules_from_settings(settings, "camera_faults", CameraFaultRule), None, names)

    # -- frame faults ----------------------------------------------------------------------
    def _targets(self, rule: CameraFaultRule, event: Event) -> list[tuple[str, ...]]:
        if not getattr(event, "connected", True):
            return []
        return [(event.source_id, fault) for fault in rule.enabled()]

    def _empty(self) -> dict[str, Any]:
        return {}

    def _add(self, rule: CameraFaultRule, key: tuple[str, ...], agg: dict[str, Any], event: Event) -> None:
        agg.update(_stats(event))

    def _timing(self, rule: CameraFaultRule, key: tuple[str, ...]) -> RunTiming:
        seconds = {"dark": rule.dark_seconds, "frozen": rule.frozen_seconds, "blurred": rule.blur_seconds,
                   "shaking": rule.shake_seconds}
        return RunTiming(for_s=timedelta(seconds=seconds[key[2]]),
                         clear_s=timedelta(seconds=rule.clear_seconds),
                         max_gap=self.max_gap, settle=self.settle, lateness=self.lateness)

    def _sample(
        self, rule: CameraFaultRule, key: tuple[str, ...], t: datetime, agg: dict[str, Any]
    ) -> FrameSample:
        fault = key[2]
        brightness, sharpness, change = agg.get("brightness"), agg.get("sharpness"), agg.get("change")
        dark = brightness is not None and brightness < rule.dark_below
        if fault == "dark":
            return FrameSample(breaching=dark, value=float(brightness if brightness is not None else 0))
        if fault == "frozen":
            bad = change is not None and not dark and change <= rule.frozen_change_below
            return FrameSample(breaching=bad, value=float(change if change is not None else 0))
        if fault == "shaking":
            shake = agg.get("shake")
            bad = shake is not None and not dark and shake > rule.shake_above
            return FrameSample(breaching=bad, value=float(shake if shake is not None else 0))
        bad = sharpness is not None and not dark and sharpness < rule.blur_below
        return FrameSample(breaching=bad, value=float(sharpness if sharpness is not None else 0))

    def _title(
        self, rule: CameraFaultRule, key: tuple[str, ...], change: Change, fields: dict[str, Any]
    ) -> Title:
        firing, resolved = TITLES[key[2]]
        fields.update(fault=key[2])
        return (firing if change.status == "firing" else resolved), {"camera_name": fields["camera_name"]}

    def _details(self, rule: CameraFaultRule, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        limits = {"dark": rule.dark_below, "frozen": rule.frozen_change_below, "blurred": rule.blur_below,
                  "shaking": rule.shake_above}
        measures = {"dark": "brightness", "frozen": "change", "blurred": "sharpness", "shaking": "shake"}
        return {"fault": key[2], "limit": limits[key[2]], "measure": measures[key[2]]}

    # -- offline ---------------------------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        out = super().observe(event)
        if getattr(event, "kind", None) != KIND:
            return out
        for rule in self.rules:
            if "offline" not in rule.faults or not self.watches(rule, event.source_id):
                continue
            out.extend(self._offline_event(rule, event))
        return out

    def _offline_event(self, rule: CameraFaultRule, event: Event) -> list[AlertSignal]:
        key = (rule.name, event.source_id)
        st = self._offline.setdefault(key, {"last": None, "ref": None, "since": None})
        limit = timedelta(seconds=rule.offline_seconds)
        out: list[AlertSignal] = []
        base = st["last"] or st["ref"]
        if not getattr(event, "connected", True):
            if base is None:
                st["ref"] = event.time
            elif st["since"] is None and event.time - base >= limit:
                st["since"] = base
                out.append(self._offline_signal(rule, event.source_id, "firing", base + limit, base))
            return out
        if st["last"] is not None and event.time <= st["last"]:
            return out  # older than what we know: proves nothing about now
        if st["since"] is None and base is not None and event.time - base >= limit:
            out.append(self._offline_signal(rule, event.source_id, "firing", base + limit, base))
            st["since"] = base
        if st["since"] is not None:
            out.append(self._offline_signal(rule, event.source_id, "resolved", event.time, st["since"]))
            st["since"] = None
        st["last"], st["ref"] = event.time, None
        return out

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        out = super().advance(watermark)
        for (rule_name, camera), st in sorted(self._offline.items()):
            rule = self._rules.get(rule_name)
            if rule is None or "offline" not in rule.faults or st["since"] is not None:
                continue
            base = st["last"] or st["ref"]
            limit = timedelta(seconds=rule.offline_seconds)
            if base is not None and watermark - base >= limit:
                st["since"] = base
                out.append(self._offline_signal(rule, camera, "firing", base + limit, base))
        return out

    def _offline_signal(self, rule: CameraFaultRule, camera: str, status: str, at: datetime,
                        since: datetime) -> AlertSignal:
        fields = {"camera": camera, "camera_name": self.camera_name(camera), "seconds": rule.offline_seconds,
                  "rule": rule.name, "fault": "offline", "status": status, "value": 0.0}
        firing, resolved = TITLES["offline"]
        params = {"camera_name": fields["camera_name"], "seconds": float(rule.offline_seconds)}
        template = firing if status == "firing" else resolved
        title, template, params = titled(template, params, rule.title, fields)
        return AlertSignal(
            time=at, source_id=camera, detector=self.name, rule=rule.name,
            fingerprint=f"{self.name}:{rule.name}:{camera}:offline",
            status=status,  # type: ignore[arg-type]
            severity=rule.severity,
            title=title, title_template=template, title_params=params,
            area=self.camera_names.get(camera), started_at=since,
            details={"camera": camera, "fault": "offline", "last_frame": dump_time(since),
                     "offline_seconds": rule.offline_seconds},
        )

    def _extra_state(self) -> dict[str, Any]:
        return {"offline": [[r, c, {k: dump_time(v) for k, v in st.items()}]
                            for (r, c), st in sorted(self._offline.items())]}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        self._offline = {
            (r, c): {k: load_time(v) for k, v in st.items()}
            for r, c, st in state.get("offline", []) if r in self._rules
        }
