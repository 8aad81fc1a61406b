"""Traffic measures of one camera: counts across counting lines and lane occupancy, per minute.

Pure and event-time: detections in, records out, no clock of its own. The camera worker runs a
:class:`TrafficMeter` per camera (its ``[[cameras.lines]]`` and ``[[cameras.lanes]]``) on every
sampled frame, in frame order, and publishes the records of each minute once a frame of the
next minute has been seen (``lateness`` seconds past the minute's end, 0 in the worker).

* :class:`LineCounter`: a tracked object whose bottom centre moves across the segment ``a``-``b``
  (normalised image coordinates) between two sightings is counted once for that line, in the
  minute of the sighting after the crossing, under its label and the direction it crossed:
  ``directions[0]`` when it went from the left of ``a``->``b`` to its right (image coordinates,
  y down), ``directions[1]`` the other way. An object counted once is not counted again on that
  line while its track lives (jitter on the line does not double count); a track not seen for
  ``forget_s`` is forgotten, so memory stays bounded on a camera that runs for months.
* :class:`LaneMeter`: for each measured frame, the vehicles whose bottom centre is in the lane
  polygon; per minute the share of frames with at least one (occupancy), the most and the mean
  per frame (queue), and the tracked vehicles' mean speed (box centre, pixels a second). A frame
  the motion gate skipped (nothing moved) counts as a repeat of the last analysed one: the same
  vehicles stand where they stood, so a still queue is not under-sampled against moving traffic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from ioc.camera_settings import CameraSettings, CountingLine, Lane, point_in_polygon
from ioc.events import Event
from ioc.feeds.cameras.records import CameraDetection, LaneOccupancy, TrafficCount

Point = tuple[float, float]
MINUTE = timedelta(minutes=1)


def minute_of(t: datetime) -> datetime:
    """The start of ``t``'s minute."""
    return t.replace(second=0, microsecond=0)


def foot_point(event: CameraDetection) -> Point | None:
    """Bottom centre of the box in normalised coordinates, or ``None`` without a frame size."""
    if not event.frame_width or not event.frame_height:
        return None
    return ((event.box.x1 + event.box.x2) / 2 / event.frame_width, event.box.y2 / event.frame_height)


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
    """Counts one camera's tracked objects across its counting lines, per minute, label and direction."""

    def __init__(self, camera: str, lines: Sequence[CountingLine], lateness: float = 5.0,
                 forget_s: float = 60.0) -> None:
        self.camera = camera
        self.lines = list(lines)
        self.lateness = timedelta(seconds=lateness)
        self.forget = timedelta(seconds=forget_s)
        self._last: dict[int, tuple[datetime, Point]] = {}  # track -> last sighting, foot point
        self._counted: dict[str, set[int]] = {line.name: set() for line in self.lines}
        self._open: dict[datetime, dict[tuple[str, str, str], int]] = {}

    def add(self, event: CameraDetection) -> list[TrafficCount]:
        """Take one detection of this camera; return the counts of minutes now closed."""
        foot = foot_point(event)
        if event.track_id is not None and foot is not None:
            key = event.track_id
            before = self._last.get(key)
            self._last[key] = (event.time, foot)
            if before is not None:
                for line in self.lines:
                    if event.label not in line.labels or key in self._counted[line.name]:
                        continue
                    way = crossing(line.a, line.b, before[1], foot)
                    if way:
                        self._counted[line.name].add(key)
                        bucket = self._open.setdefault(minute_of(event.time), {})
                        name = line.directions[0] if way > 0 else line.directions[1]
                        slot = (line.name, name, event.label)
                        bucket[slot] = bucket.get(slot, 0) + 1
        return self.close(event.time - self.lateness)

    def close(self, before: datetime | None) -> list[TrafficCount]:
        """The counts of the minutes that ended at or before ``before`` (``None``: all)."""
        out = []
        for minute in sorted(self._open):
            if before is None or minute + MINUTE <= before:
                for (line, direction, label), n in sorted(self._open.pop(minute).items()):
                    out.append(TrafficCount(time=minute, source_id=self.camera, line=line,
                                            direction=direction, label=label, count=n))
        if before is not None:
            self._forget(before)
        return out

    def _forget(self, now: datetime) -> None:
        gone = [k for k, (t, _) in self._last.items() if t < now - self.forget]
        for key in gone:
            del self._last[key]
            for counted in self._counted.values():
                counted.discard(key)

    def flush(self) -> list[TrafficCount]:
        """The counts of every minute still open."""
        return self.close(None)


class _LaneMinute:
    def __init__(self) -> None:
        self.frames: dict[datetime, int] = {}
        self.speeds: list[float] = []


class LaneMeter:
    """Occupancy, queue and speed of one camera's lanes, per minute."""

    def __init__(self, camera: str, lanes: Sequence[Lane], lateness: float = 5.0,
                 forget_s: float = 60.0) -> None:
        self.camera = camera
        self.lanes = list(lanes)
        self.lateness = timedelta(seconds=lateness)
        self.forget = timedelta(seconds=forget_s)
        self._open: dict[tuple[str, datetime], _LaneMinute] = {}
        self._last: dict[tuple[str, int], tuple[datetime, float, float]] = {}
        self._previous: dict[str, int] = {}  # lane -> vehicles in the last analysed frame

    def add(self, event: CameraDetection) -> list[LaneOccupancy]:
        """Take one detection of this camera; return the records of minutes now closed."""
        minute = minute_of(event.time)
        foot = foot_point(event)
        for lane in self.lanes:
            agg = self._open.setdefault((lane.name, minute), _LaneMinute())
            agg.frames.setdefault(event.time, 0)  # every analysed frame with a detection counts
            if event.label not in lane.labels or foot is None or not point_in_polygon(*foot, lane.polygon):
                continue
            agg.frames[event.time] += 1
            if event.track_id is not None:
                cx, cy = (event.box.x1 + event.box.x2) / 2, (event.box.y1 + event.box.y2) / 2
                key = (lane.name, event.track_id)
                prev = self._last.get(key)
                self._last[key] = (event.time, cx, cy)
                if prev is not None and event.time > prev[0]:
                    dt = (event.time - prev[0]).total_seconds()
                    agg.speeds.append(math.hypot(cx - prev[1], cy - prev[2]) / dt)
        return self.close(event.time - self.lateness)

    def frame(self, t: datetime, analysed: bool = True) -> None:
        """Note a frame once its detections were added: an analysed frame without detections is an
        empty lane; a gated frame (``analysed=False``) repeats the last analysed frame's counts."""
        for lane in self.lanes:
            agg = self._open.setdefault((lane.name, minute_of(t)), _LaneMinute())
            if analysed:
                agg.frames.setdefault(t, 0)
                self._previous[lane.name] = agg.frames[t]
            elif t not in agg.frames:
                agg.frames[t] = self._previous.get(lane.name, 0)

    def close(self, before: datetime | None) -> list[LaneOccupancy]:
        """The records of the minutes that ended at or before ``before`` (``None``: all)."""
        out = []
        for lane, minute in sorted(self._open, key=lambda k: (k[1], k[0])):
            if before is None or minute + MINUTE <= before:
                agg = self._open.pop((lane, minute))
                counts = list(agg.frames.values())
                if not counts:
                    continue
                out.append(LaneOccupancy(
                    time=minute, source_id=self.camera, lane=lane, frames=len(counts),
                    occupancy=round(sum(1 for c in counts if c) / len(counts), 4),
                    queue_max=max(counts), queue_mean=round(sum(counts) / len(counts), 3),
                    speed_px_s=round(sum(agg.speeds) / len(agg.speeds), 2) if agg.speeds else None,
                ))
        if before is not None:
            for key in [k for k, (t, _, _) in self._last.items() if t < before - self.forget]:
                del self._last[key]
        return out

    def flush(self) -> list[LaneOccupancy]:
        """The records of every minute still open."""
        return self.close(None)


class TrafficMeter:
    """One camera's counting lines and lanes, fed frame by frame by its worker."""

    def __init__(self, camera: CameraSettings, lateness: float = 0.0) -> None:
        self.lines = LineCounter(camera.id, camera.lines, lateness=lateness)
        self.lanes = LaneMeter(camera.id, camera.lanes, lateness=lateness)
        self.active = bool(camera.lines or camera.lanes)

    def frame(self, t: datetime, detections: Iterable[CameraDetection], analysed: bool) -> list[Event]:
        """Take one sampled frame's detections; return the records of the minutes before it."""
        if not self.active:
            return []
        out: list[Event] = []
        for event in detections:
            out += self.lines.add(event)
            out += self.lanes.add(event)
        self.lanes.frame(t, analysed)
        before = t - self.lines.lateness
        return out + self.lines.close(before) + self.lanes.close(before)

    def flush(self) -> list[Event]:
        """Every minute still open (the end of a file that does not loop)."""
        return [*self.lines.flush(), *self.lanes.flush()]
