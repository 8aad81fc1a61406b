"""Typed, versioned event records for every feed, with one JSON wire form.

Every record carries ``kind`` (which record it is), ``v`` (schema version),
``time`` (event time, timezone-aware) and ``source_id`` (camera, sensor,
MMSI, host... : the bus key that keeps a source's order). Input is
validated at the edge: :func:`decode` turns wire bytes into a record or
raises :class:`EventDecodeError` with a reason fit for a dead-letter row.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = 1
MAX_WIRE_BYTES = 1_000_000

SourceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")]
Severity = Literal["info", "warning", "critical"]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class EventDecodeError(ValueError):
    """Raised when wire bytes are not a valid event record; ``str()`` is the reason."""


class Event(BaseModel):
    """Fields every record shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION
    time: AwareDatetime
    source_id: SourceId

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-02:00: no such time in UTC
            raise ValueError("outside the years 1-9999 once converted to UTC") from None

    @property
    def key(self) -> str:
        """The bus partition key: the id of the source, so each source keeps its order."""
        return self.source_id

    def to_wire(self) -> bytes:
        """The one JSON wire form."""
        return self.model_dump_json().encode()


class EnvironmentReading(Event):
    """One measured value of one metric at one station (air, water, weather sensor)."""

    kind: Literal["environment.reading"] = "environment.reading"
    metric: Name
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Annotated[str, Field(max_length=32)] = ""
    quality: Literal["good", "suspect", "bad"] = "good"


class Box(BaseModel):
    """Bounding box in pixels of the analysed frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x1: float
    y1: float
    x2: float
    y2: float


class CameraDetection(Event):
    """One object seen by a camera's detector in one analysed frame."""

    kind: Literal["camera.detection"] = "camera.detection"
    label: Annotated[str, Field(min_length=1, max_length=64)]
    score: Annotated[float, Field(ge=0, le=1)]
    box: Box
    track_id: int | None = None
    zone: str | None = None
    frame_width: int | None = None
    frame_height: int | None = None


class VesselPosition(Event):
    """An AIS position report (types 1-3, 18, 19, 27); ``source_id`` is the MMSI."""

    kind: Literal["vessel.position"] = "vessel.position"
    mmsi: Annotated[int, Field(ge=0, le=999_999_999)]
    lat: Latitude
    lon: Longitude
    sog: Annotated[float, Field(ge=0, le=102.3)] | None = None
    cog: Annotated[float, Field(ge=0, lt=360)] | None = None
    heading: Annotated[int, Field(ge=0, lt=360)] | None = None
    nav_status: int | None = None
    msg_type: int | None = None
    simulated: bool = False


class VesselCellPosition(VesselPosition):
    """A vessel position as sent to one map cell of ``ioc.vessels.cells`` (see :mod:`ioc.cells`).

    Keyed by ``cell``, so the positions of every vessel near a cell meet in one partition:
    rules about pairs of vessels (encounters) read this topic. ``cell_deg`` is the grid.
    """

    kind: Literal["vessel.cell_position"] = "vessel.cell_position"  # type: ignore[assignment]
    cell: Annotated[str, Field(min_length=1, max_length=64)]
    cell_deg: Annotated[float, Field(gt=0, le=10)]

    @property
    def key(self) -> str:
        return self.cell


class VesselStatic(Event):
    """AIS static and voyage data (types 5, 19, 24) for the vessel register.

    ``ship_type`` is the raw ITU-R M.1371 ship and cargo type code (1-255; ``None``: not
    available); its category is derived where it is shown.
    """

    kind: Literal["vessel.static"] = "vessel.static"
    mmsi: Annotated[int, Field(ge=0, le=999_999_999)]
    name: str | None = None
    callsign: str | None = None
    imo: int | None = None
    ship_type: Annotated[int, Field(ge=0, le=255)] | None = None
    length_m: float | None = None
    beam_m: float | None = None
    destination: str | None = None
    simulated: bool = False


class SecurityEvent(Event):
    """A network security event (Suricata eve.json alert, syslog auth failure...)."""

    kind: Literal["security.event"] = "security.event"
    src_ip: str | None = None
    src_port: int | None = None
    dest_ip: str | None = None
    dest_port: int | None = None
    proto: str | None = None
    signature: str
    severity: Annotated[int, Field(ge=1, le=5)] = 3
    raw: Annotated[str, Field(max_length=65536)] = ""


class PressArticle(Event):
    """A local press article from an RSS/Atom feed; ``source_id`` is the feed id."""

    kind: Literal["press.article"] = "press.article"
    url: Annotated[str, Field(max_length=2048)]
    title: Annotated[str, Field(max_length=1024)]
    summary: Annotated[str, Field(max_length=16384)] = ""
    language: str | None = None
    watch_terms: list[str] = Field(default_factory=list)
    sentiment: float | None = None


class FieldReport(Event):
    """A citizen's field report (Open311 GeoReport v2 shape)."""

    kind: Literal["field.report"] = "field.report"
    service_request_id: str
    category: str
    description: Annotated[str, Field(max_length=16384)] = ""
    lat: Latitude | None = None
    lon: Longitude | None = None
    address: str | None = None
    status: Literal["open", "closed"] = "open"
    due: AwareDatetime | None = None


class AlertSignal(Event):
    """A detector's verdict: a condition started (``firing``) or cleared (``resolved``).

    ``fingerprint`` identifies the condition (rule + source + area) so repeats
    dedupe into one alert. ``time`` is the event time of the deciding record.
    """

    kind: Literal["alert.signal"] = "alert.signal"
    detector: Name
    rule: Annotated[str, Field(min_length=1, max_length=128)]
    fingerprint: Annotated[str, Field(min_length=1, max_length=256)]
    status: Literal["firing", "resolved"]
    severity: Severity = "warning"
    title: Annotated[str, Field(max_length=512)]
    area: str | None = None
    started_at: AwareDatetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class CameraFrameStats(Event):
    """Measurements of one sampled frame (or, with ``connected=False``, a camera that sends none).

    ``brightness``: mean grey level 0..255 (black or covered lens: near 0).
    ``sharpness``: variance of the Laplacian of the grey frame at the stats width (blur: low).
    ``change``: mean absolute grey difference to the previous sampled frame (frozen: ~0).
    ``motion``: foreground fraction from the motion detector (MOG2), 0..1.
    ``analysed``: whether the object detector ran on this frame (False: gated, no motion).
    ``shake``: back-and-forth motion of the whole picture, % of the frame width per frame, over
    the last few frames (a camera at rest or panning: ~0; jittered by +-6 px at 640 wide: 0.2-1.4).
    ``None`` in records of workers that do not measure it.
    """

    kind: Literal["camera.frame_stats"] = "camera.frame_stats"
    connected: bool = True
    brightness: Annotated[float, Field(ge=0, le=255)] | None = None
    sharpness: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    change: Annotated[float, Field(ge=0, le=255)] | None = None
    motion: Annotated[float, Field(ge=0, le=1)] | None = None
    analysed: bool = False
    detections: Annotated[int, Field(ge=0)] = 0
    fps_in: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    shake: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class CameraKeyFrame(Event):
    """A JPEG key frame written by the camera worker (boxes drawn); the file, not the image, travels."""

    kind: Literal["camera.keyframe"] = "camera.keyframe"
    path: Annotated[str, Field(min_length=1, max_length=1024)]
    """Relative to the configured ``keyframes_dir``: ``<camera>/<UTC time>.jpg``."""
    width: Annotated[int, Field(ge=1)]
    height: Annotated[int, Field(ge=1)]
    detections: Annotated[int, Field(ge=0)] = 0
    size_bytes: Annotated[int, Field(ge=0)] = 0


class StormWarning(Event):
    """A storm warning that closes a sea area to boats for a time.

    ``time`` is when it was issued; ``source_id`` the issuer (e.g. ``nchmf``, Vietnam's
    National Centre for Hydro-Meteorological Forecasting, or the provincial border guard).
    """

    kind: Literal["storm.warning"] = "storm.warning"
    warning_id: str = Field(min_length=1, max_length=96)
    title: str = Field(default="", max_length=512)
    zone_id: str | None = None
    area: dict[str, Any] | None = None
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    severity: Severity = "critical"

    @model_validator(mode="after")
    def _check(self) -> StormWarning:
        if (self.zone_id is None) == (self.area is None):
            raise ValueError("set exactly one of zone_id or area")
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if self.area is not None and self.area.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("area must be a GeoJSON Polygon or MultiPolygon")
        return self

    @property
    def key(self) -> str:
        """Warnings are keyed by their id, so a re-issued warning follows the one it replaces."""
        return self.warning_id


AnyEvent = Annotated[
    EnvironmentReading
    | CameraDetection
    | CameraFrameStats
    | CameraKeyFrame
    | VesselPosition
    | VesselCellPosition
    | VesselStatic
    | SecurityEvent
    | PressArticle
    | FieldReport
    | StormWarning
    | AlertSignal,
    Field(discriminator="kind"),
]

EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["kind"].default: cls
    for cls in (
        EnvironmentReading,
        CameraDetection,
        CameraFrameStats,
        CameraKeyFrame,
        VesselPosition,
        VesselCellPosition,
        VesselStatic,
        SecurityEvent,
        PressArticle,
        FieldReport,
        StormWarning,
        AlertSignal,
    )
}

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def decode(wire: bytes | str) -> Event:
    """Parse one wire record; raise :class:`EventDecodeError` with a short reason."""
    if len(wire) > MAX_WIRE_BYTES:
        raise EventDecodeError(f"record too large: {len(wire)} bytes > {MAX_WIRE_BYTES}")
    if (_NUL_ESCAPE if isinstance(wire, bytes) else _NUL_ESCAPE_TEXT) in wire:
        _refuse_nul(wire)
    try:
        return _ADAPTER.validate_json(wire)  # fast path: pydantic-core parses and validates at once
    except (ValidationError, RecursionError):
        pass
    try:  # slow path, only for bad records: say precisely what is wrong
        data = json.loads(wire)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"not JSON: {exc}") from None
    except RecursionError:
        raise EventDecodeError("not an event record: nested too deeply") from None
    return parse(data)


_NUL_ESCAPE = b"\\u0000"
_NUL_ESCAPE_TEXT = "\\u0000"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _refuse_nul(wire: bytes | str) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: a record with one is refused at the edge."""
    try:
        data = json.loads(wire)
        nul = _holds_nul(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return  # not JSON (or too deep): the usual path says why
    if nul:
        raise EventDecodeError("text holds a NUL character (U+0000), which the store cannot keep")


def parse(data: Any) -> Event:
    """Validate an already-parsed JSON object as an event record."""
    if not isinstance(data, dict):
        raise EventDecodeError(f"not a JSON object: {type(data).__name__}")
    if data.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise EventDecodeError(f"unsupported schema version {data.get('v')!r}")
    if data.get("kind") not in EVENT_TYPES:
        raise EventDecodeError(f"unknown kind {data.get('kind')!r}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise EventDecodeError(_reason(exc)) from None


def is_finite(value: float) -> bool:
    """True for a number that is neither NaN nor infinite."""
    return not (math.isnan(value) or math.isinf(value))
