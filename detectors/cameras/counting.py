"""Traffic measures: counts across a counting line and lane occupancy, per camera per minute.

Pure and event-time, like the camera rules: events in, records out, no clock of its own. A
minute is closed (its records returned) once a detection of that camera ``lateness`` seconds
past the minute's end arrives, or on :meth:`flush`.

* :class:`LineCounter`: a tracked object whose bottom centre moves across the segment ``a``-``b``
  (normalised image coordinates) between two sightings is counted once for that line, in the
  minute of the sighting after the crossing, under its label and the direction it crossed:
  ``directions[0]`` when it went from the left of ``a``->``b`` to its right (image coordinates,
  y down), ``directions[1]`` the other way. An object counted once is never counted again on
  that line (ByteTrack ids are per camera), so jitter on the line does not double count.
* :class:`LaneMeter`: for each analysed frame (a distinct event time of the camera), the vehicles
  whose bottom centre is in the lane polygon; per minute the share of frames with at least one
  (occupancy), the most and the mean per frame (queue), and the tracked vehicles' mean speed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from detectors.cameras.base import foot_point
from detectors.cameras.congestion import VEHICLES
from ioc.camera_settings import point_in_polygon
from ioc.feeds.cameras.records import CameraDetection, LaneOccupancy, TrafficCount

Point = tuple[float, float]
MINUTE = timedelta(minutes=1)


def minute_of(t: datetime) -> datetime:
    """The start of ``t``'s minute."""
    return t.replace(second=0, microsecond=0)


class CountingLine(BaseModel):
    """A counting line drawn on one camera's picture."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=96)]
    camera: Annotated[str, Field(min_length=1)]
    a: Point
    b: Point
    directions: tuple[str, str] = ("a_right", "a_left")
    """Names of the two crossing directions: to the right of ``a``->``b``, then to its left."""
    labels: list[str] = Field(default_factory=lambda: ["person", *VEHICLES])


class Lane(BaseModel):
    """A lane polygon on one camera's picture, measured for occupancy and queue."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=96)]
    camera: Annotated[str, Field(min_length=1)]
    polygon: Annotated[list[Point], Field(min_length=3)]
    labels: list[str] = Field(default_factory=lambda: list(VEHICLES))


def _side(a: Point, b: Point, p: Point) -> float:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def crossing(a: Point, b: Point, p: Point, q: Point) -> int:
    """+1 when ``p``->``q`` crosses segment ``a``-``b`` to its right side (y down), -1 to its left, 0 not."""
    s1, s2 = _side(a, b, p), _side(a, b, q)
    if not (s1 <= 0 < s2 or s1 >= 0 > s2):
        return 0  # still on the same side (or only reached the line)
    if _side(p, q, a) * _side(p, q, b) > 0:
        return 0  # the movement passes beside the segment, not through it
    return 1 if s2 > 0 else -1


class LineCounter:
    """Counts tracked objects across counting lines, per minute, label and direction."""

    def __init__(self, lines: Sequence[CountingLine], lateness: float = 5.0) -> None:
        self.lines = list(lines)
        self.lateness = timedelta(seconds=lateness)
        self._last: dict[tuple[str, int], Point] = {}  # (camera, track) -> last foot point
        self._counted: dict[str, set[tuple[str, int]]] = defaultdict(set)  # line -> (camera, track)
        self._open: dict[tuple[str, datetime], dict[tuple[str, str, str], int]] = {}

    def add(self, event: CameraDetection) -> list[TrafficCount]:
        """Take one detection; return the counts of minutes this camera has now closed."""
        foot = foot_point(event)
        if event.track_id is not None and foot is not None:
            key = (event.source_id, event.track_id)
            before = self._last.get(key)
            self._last[key] = foot
            if before is not None:
                for line in self.lines:
                    if line.camera != event.source_id or event.label not in line.labels:
                        continue
                    if key in self._counted[line.name]:
                        continue
                    way = crossing(line.a, line.b, before, foot)
                    if way:
                        self._counted[line.name].add(key)
                        bucket = self._open.setdefault((event.source_id, minute_of(event.time)), {})
                        name = line.directions[0] if way > 0 else line.directions[1]
                        slot = (line.name, name, event.label)
                        bucket[slot] = bucket.get(slot, 0) + 1
        return self._close(event.source_id, event.time - self.lateness)

    def _close(self, camera: str | None, before: datetime | None) -> list[TrafficCount]:
        out = []
        for cam, minute in sorted(self._open):
            if (camera is None or cam == camera) and (before is None or minute + MINUTE <= before):
                for (line, direction, label), n in sorted(self._open.pop((cam, minute)).items()):
                    out.append(TrafficCount(time=minute, source_id=cam, line=line, direction=direction,
                                            label=label, count=n))
        return out

    def flush(self) -> list[TrafficCount]:
        """The counts of every minute still open."""
        return self._close(None, None)


class _LaneMinute:
    def __init__(self) -> None:
        self.frames: dict[datetime, int] = {}
        self.speeds: list[float] = []


class LaneMeter:
    """Occupancy, queue and speed of lanes, per camera per minute."""

    def __init__(self, lanes: Sequence[Lane], lateness: float = 5.0) -> None:
        self.lanes = list(lanes)
        self.lateness = timedelta(seconds=lateness)
        self._frames: dict[str, set[datetime]] = defaultdict(set)  # camera -> frame times this minute
        self._open: dict[tuple[str, str, datetime], _LaneMinute] = {}
        self._last: dict[tuple[str, str, int], tuple[datetime, float, float]] = {}

    def add(self, event: CameraDetection) -> list[LaneOccupancy]:
        """Take one detection; return the records of minutes this camera has now closed."""
        minute = minute_of(event.time)
        foot = foot_point(event)
        for lane in self.lanes:
            if lane.camera != event.source_id:
                continue
            agg = self._open.setdefault((lane.camera, lane.name, minute), _LaneMinute())
            agg.frames.setdefault(event.time, 0)  # every analysed frame with a detection counts
            if event.label not in lane.labels or foot is None or not point_in_polygon(*foot, lane.polygon):
                continue
            agg.frames[event.time] += 1
            if event.track_id is not None:
                cx, cy = (event.box.x1 + event.box.x2) / 2, (event.box.y1 + event.box.y2) / 2
                key = (lane.camera, lane.name, event.track_id)
                prev = self._last.get(key)
                self._last[key] = (event.time, cx, cy)
                if prev is not None and event.time > prev[0]:
                    dt = (event.time - prev[0]).total_seconds()
                    agg.speeds.append(math.hypot(cx - prev[1], cy - prev[2]) / dt)
        return self._close(event.source_id, event.time - self.lateness)

    def frame(self, camera: str, t: datetime) -> None:
        """Note an analysed frame without detections (an empty lane is a measurement too)."""
        for lane in self.lanes:
            if lane.camera == camera:
                agg = self._open.setdefault((camera, lane.name, minute_of(t)), _LaneMinute())
                agg.frames.setdefault(t, 0)

    def _close(self, camera: str | None, before: datetime | None) -> list[LaneOccupancy]:
        out = []
        for cam, lane, minute in sorted(self._open):
            if (camera is None or cam == camera) and (before is None or minute + MINUTE <= before):
                agg = self._open.pop((cam, lane, minute))
                counts = list(agg.frames.values())
                out.append(LaneOccupancy(
                    time=minute, source_id=cam, lane=lane, frames=len(counts),
                    occupancy=round(sum(1 for c in counts if c) / len(counts), 4),
                    queue_max=max(counts), queue_mean=round(sum(counts) / len(counts), 3),
                    speed_px_s=round(sum(agg.speeds) / len(agg.speeds), 2) if agg.speeds else None,
                ))
        return out

    def flush(self) -> list[LaneOccupancy]:
        """The records of every minute still open."""
        return self._close(None, None)
