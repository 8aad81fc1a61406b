"""The camera feed's records: detections, frame statistics and key frames."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.records import FLOAT4_MAX, INT4_MAX, Event, Float4, Int4, Int8


class Box(BaseModel):
    """Bounding box in pixels of the analysed frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x1: Float4
    y1: Float4
    x2: Float4
    y2: Float4


class CameraDetection(Event):
    """One object seen by a camera's detector in one analysed frame."""

    kind: Literal["camera.detection"] = "camera.detection"
    label: Annotated[str, Field(min_length=1, max_length=64)]
    score: Annotated[float, Field(ge=0, le=1)]
    box: Box
    track_id: Int8 | None = None
    zone: str | None = None
    frame_width: Int4 | None = None
    frame_height: Int4 | None = None




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
    sharpness: Annotated[float, Field(ge=0, le=FLOAT4_MAX, allow_inf_nan=False)] | None = None
    change: Annotated[float, Field(ge=0, le=255)] | None = None
    motion: Annotated[float, Field(ge=0, le=1)] | None = None
    analysed: bool = False
    detections: Annotated[int, Field(ge=0, le=INT4_MAX)] = 0
    fps_in: Annotated[float, Field(ge=0, le=FLOAT4_MAX, allow_inf_nan=False)] | None = None
    frame_width: Int4 | None = None
    frame_height: Int4 | None = None
    shake: Annotated[float, Field(ge=0, le=FLOAT4_MAX, allow_inf_nan=False)] | None = None


class CameraKeyFrame(Event):
    """A JPEG key frame written by the camera worker (boxes drawn); the file, not the image, travels."""

    kind: Literal["camera.keyframe"] = "camera.keyframe"
    path: Annotated[str, Field(min_length=1, max_length=1024)]
    """Relative to the configured ``keyframes_dir``: ``<camera>/<UTC time>.jpg``."""
    width: Annotated[int, Field(ge=1, le=INT4_MAX)]
    height: Annotated[int, Field(ge=1, le=INT4_MAX)]
    detections: Annotated[int, Field(ge=0, le=INT4_MAX)] = 0
    size_bytes: Annotated[int, Field(ge=0, le=INT4_MAX)] = 0


class TrafficCount(Event):
    """Objects of one class that crossed a camera's counting line one way in one minute.

    ``time`` is the start of the minute (event time); each tracked object is counted once per line.
    """

    kind: Literal["camera.traffic_count"] = "camera.traffic_count"
    line: Annotated[str, Field(min_length=1, max_length=96)]
    direction: Annotated[str, Field(min_length=1, max_length=64)]
    label: Annotated[str, Field(min_length=1, max_length=64)]
    count: Annotated[int, Field(ge=0, le=INT4_MAX)]


class LaneOccupancy(Event):
    """One minute of a camera's lane: how often it held vehicles, how many, how fast they moved.

    ``occupancy``: share of the minute's analysed frames with at least one vehicle in the lane;
    ``queue_max`` / ``queue_mean``: vehicles in the lane per frame; ``speed_px_s``: mean speed of
    the tracked vehicles in the lane (box centre, pixels a second; ``None`` without two sightings).
    """

    kind: Literal["camera.lane_occupancy"] = "camera.lane_occupancy"
    lane: Annotated[str, Field(min_length=1, max_length=96)]
    frames: Annotated[int, Field(ge=1, le=INT4_MAX)]
    occupancy: Annotated[float, Field(ge=0, le=1)]
    queue_max: Annotated[int, Field(ge=0, le=INT4_MAX)]
    queue_mean: Annotated[float, Field(ge=0, le=FLOAT4_MAX)]
    speed_px_s: Annotated[float, Field(ge=0, le=FLOAT4_MAX, allow_inf_nan=False)] | None = None
