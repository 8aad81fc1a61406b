"""Camera settings: one ``[[cameras]]`` TOML table per camera, plus shared ``[vision]`` settings.

:mod:`ioc.config` holds them as ``Settings.cameras`` and ``Settings.vision``;
:func:`cameras_from_data` validates raw TOML tables with messages that name the setting.
Zones are polygons in normalised image coordinates (0..1, origin top left); an object is in a
zone when the bottom centre of its box (where it stands) is inside the polygon.

Example::

    [vision]
    keyframes_dir = ".ioc/keyframes"

    [[cameras]]
    id = "hue-cam-ngomon"
    name = "Ngọ Môn gate"
    url = "cameras/vtest.mp4"         # rtsp://..., http://host/stream.mjpg, or a file
    detector = "opencv"               # or "ultralytics" (model_path required)
    analysed_fps = 2.0

    [[cameras.zones]]
    name = "gate"
    polygon = [[0.0, 0.45], [1.0, 0.45], [1.0, 1.0], [0.0, 1.0]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]
ZONE_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"


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
    model_path: str | None = None
    """``ultralytics``: a YOLO ``.pt`` or ``.onnx`` file; never downloaded."""
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
    """Model class name to published label, e.g. ``{Normal = "person", Fall = "person"}``."""
    classes: list[str] = Field(default_factory=list)
    """Keep only these labels (after ``labels``); empty: keep all."""
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
    def _model_for_ultralytics(self) -> CameraSettings:
        if self.detector == "ultralytics" and not self.model_path:
            raise ValueError("detector 'ultralytics' needs model_path (a .pt or .onnx file)")
        return self

    def setting(self, key: str) -> str:
        """The dotted name of one of this camera's settings, for error messages."""
        return f"cameras.{self.id}.{key}"

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
