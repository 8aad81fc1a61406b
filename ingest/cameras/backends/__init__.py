"""Object detector backends: one interface, chosen per camera (``detector = "..."``), like Frigate's.

Every backend implements :class:`ObjectDetector`: ``detect(frame) -> list[Detection]`` on a BGR
frame, boxes in that frame's pixels, ``track_id`` when the backend tracks objects across calls
(so one detector instance belongs to one camera). :data:`BACKENDS` maps a name to a factory
taking the camera's :class:`~ioc.camera_settings.CameraSettings` and the shared
:class:`~ioc.camera_settings.VisionSettings` (where named models and their label maps live);
adding a backend is one module and one line here. Every backend publishes labels through the
camera's label map (:meth:`~ioc.camera_settings.CameraSettings.label_map`) and ``classes``.

* ``opencv`` (always available, no weights): MOG2 motion blobs, confirmed as ``person`` by
  OpenCV's HOG people detector, the rest labelled ``motion``; an IoU tracker gives ids.
* ``ultralytics``: a YOLO model from ``model_path`` (``.pt`` or ``.onnx``), on the GPU when
  there is one, tracked with ByteTrack (``model.track(..., persist=True)``). Never downloads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ioc.camera_settings import ALL_CLASSES, CameraSettings, VisionSettings


class BackendError(RuntimeError):
    """A backend cannot be built (missing model file, missing package); the message names the setting."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One object in one frame: label, confidence 0..1, box ``(x1, y1, x2, y2)`` in pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]
    track_id: int | None = None

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre of the box: where the object stands."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2.0, y2)


@runtime_checkable
class ObjectDetector(Protocol):
    """Finds objects in frames of one camera."""

    name: str

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Objects in one BGR frame (consecutive calls are consecutive frames of one camera)."""
        ...


BackendFactory = Callable[[CameraSettings, VisionSettings], ObjectDetector]


def _opencv(camera: CameraSettings, vision: VisionSettings) -> ObjectDetector:
    from ingest.cameras.backends.opencv import OpenCVDetector

    return OpenCVDetector.from_settings(camera, vision)


def _ultralytics(camera: CameraSettings, vision: VisionSettings) -> ObjectDetector:
    from ingest.cameras.backends.yolo import UltralyticsDetector  # imports torch: only when chosen

    return UltralyticsDetector.from_settings(camera, vision)


BACKENDS: dict[str, BackendFactory] = {
    "opencv": _opencv,
    "ultralytics": _ultralytics,
}


def build_detector(
    camera: CameraSettings, registry: dict[str, BackendFactory] | None = None,
    vision: VisionSettings | None = None,
) -> ObjectDetector:
    """The detector a camera's settings choose; :class:`BackendError` names the bad setting."""
    backends = BACKENDS if registry is None else registry
    factory = backends.get(camera.detector)
    if factory is None:
        raise BackendError(
            f"{camera.setting('detector')}: unknown detector {camera.detector!r} (known: {sorted(backends)})"
        )
    return factory(camera, vision or VisionSettings())


def relabel(label: str, labels: dict[str, str], classes: list[str] | tuple[str, ...]) -> str | None:
    """Apply a label map and a ``classes`` filter (empty or ``["*"]``: keep all); ``None`` drops it."""
    mapped = labels.get(label, label)
    if classes and ALL_CLASSES not in classes and mapped not in classes:
        return None
    return mapped


__all__ = ["BACKENDS", "BackendError", "Detection", "ObjectDetector", "build_detector", "relabel"]
