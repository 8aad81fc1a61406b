"""A camera rule must be able to match: its labels must be among what its cameras publish.

A camera publishes its model's classes through the label maps and its ``classes`` filter
(:meth:`ioc.camera_settings.CameraSettings.produced_labels`): the people model's raw
``Normal``/``Fall`` never match a rule looking for ``person`` unless mapped. A rule naming
cameras must be able to match on each of them; a rule for every camera on at least one. A
rule that never can is a :class:`~ioc.camera_settings.CameraConfigError` when the detectors
are built at start, naming the rule, the camera and what it does publish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ioc.camera_settings import CameraConfigError, CameraSettings, VisionSettings


def configured_cameras(settings: Any) -> tuple[list[CameraSettings], VisionSettings]:
    """``settings.cameras`` and ``settings.vision`` as models.

    Raw tables that are not complete camera settings (a rule test's zones only) are left out:
    the cameras' own validation reports them where cameras run.
    """
    cameras = []
    for raw in getattr(settings, "cameras", None) or []:
        try:
            cameras.append(raw if isinstance(raw, CameraSettings) else CameraSettings.model_validate(raw))
        except ValidationError:
            continue
    vision = getattr(settings, "vision", None)
    if not isinstance(vision, VisionSettings):
        vision = VisionSettings.model_validate(vision or {})
    return cameras, vision


def check_rule_labels(
    settings: Any, key: str, rules: Sequence[Any], zones_of: Mapping[str, Sequence[str | None]] | None = None
) -> None:
    """Raise :class:`CameraConfigError` for a rule of ``rules.<key>`` that can never match.

    ``zones_of``: rule name -> the zones it watches; a rule for every camera is then checked
    against the cameras that have one of them (``None``: the whole frame, any camera).
    """
    cameras, vision = configured_cameras(settings)
    by_id = {c.id: c for c in cameras}
    for rule in rules:
        wanted = set(rule.labels)
        if rule.cameras:
            watched = [by_id[c] for c in rule.cameras if c in by_id]
        else:
            zones = (zones_of or {}).get(rule.name, [None])
            watched = [c for c in cameras
                       if any(z is None or z in {zone.name for zone in c.areas()} for z in zones)]
        produced = {c.id: c.produced_labels(vision) for c in watched}
        blind = {cid: labels for cid, labels in produced.items()
                 if labels is not None and not wanted & labels}
        if not blind:
            continue
        if rule.cameras or len(blind) == len(watched):
            cid, labels = next(iter(blind.items()))
            raise CameraConfigError(
                f"rules.{key}.{rule.name}: labels {sorted(wanted)} can never come from camera {cid!r}, "
                f"which publishes {sorted(labels) or 'nothing'} (see its model's labels and its classes)"
            )
