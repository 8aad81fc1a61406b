"""Camera feed: frames in through OpenCV, detections and frame statistics out on the bus.

* :mod:`.config`: the ``[[cameras]]`` settings (:class:`CameraSettings`, zones) and ``[vision]``.
* :mod:`.capture`: ``VideoCapture`` on RTSP / HTTP MJPEG / files, sampling, reconnect backoff.
* :mod:`.backends`: the object detector plugins (``opencv``, ``ultralytics``) behind one interface.
* :mod:`.analysis`: frame statistics (brightness, sharpness, change) and the motion gate.
* :mod:`.worker`: :class:`CameraWorker`, one per camera: publishes detections, frame stats and
  key frame records; writes key frame JPEGs (:mod:`.keyframes`).
* :mod:`.records`: the frame-stats and key-frame records (until they move to :mod:`ioc.events`).
* :mod:`.mjpeg`: a small MJPEG server, a stand-in IP camera for demos and tests.

Importing this package does not import torch: the ``ultralytics`` backend loads on first use.
"""

from __future__ import annotations

from ingest.cameras.backends import BACKENDS, BackendError, Detection, ObjectDetector, build_detector
from ingest.cameras.capture import CameraCapture, CapturedFrame
from ingest.cameras.worker import FRAME_STATS_TOPIC, KEYFRAMES_TOPIC, CameraWorker
from ioc.camera_settings import (
    CameraConfigError,
    CameraSettings,
    CameraZone,
    ModelSettings,
    VisionSettings,
    cameras_from_data,
)

__all__ = [
    "BACKENDS",
    "FRAME_STATS_TOPIC",
    "KEYFRAMES_TOPIC",
    "BackendError",
    "CameraCapture",
    "CameraConfigError",
    "CameraSettings",
    "CameraWorker",
    "CameraZone",
    "CapturedFrame",
    "Detection",
    "ModelSettings",
    "ObjectDetector",
    "VisionSettings",
    "build_detector",
    "cameras_from_data",
]
