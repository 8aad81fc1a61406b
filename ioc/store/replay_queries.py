"""The city "as of" a moment of the record: what the replay page shows at its time cursor.

Each function reads the store's raw tables bounded by the cursor, so the page shows the readings,
vessel tracks and camera key frames that existed at that moment, never anything later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ioc.store.queries import LatestValue

#: the newest reading of one station's metric at the cursor: the wall's own record of it
ReadingAt = LatestValue


@dataclass(frozen=True)
class TrackPoint:
    mmsi: int
    time: datetime
    lat: float
    lon: float
    sog: float | None
    simulated: bool


@dataclass(frozen=True)
class KeyFrameAt:
    """The newest key frame of one camera at the cursor (``path`` relative to ``keyframes_dir``)."""

    camera_id: str
    time: datetime
    path: str
    width: int
    height: int
    detections: int


def readings_at(pool: Any, at: datetime, window: timedelta = timedelta(hours=1)) -> list[ReadingAt]:
    """Each station's newest reading of each metric in ``(at - window, at]``."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT DISTINCT ON (station_id, metric) station_id, metric, time, value, unit
               FROM readings WHERE time > %s AND time <= %s
               ORDER BY station_id, metric, time DESC""", (at - window, at)).fetchall()
    return [ReadingAt(*r) for r in rows]


def tracks_until(pool: Any, at: datetime, since: datetime, step: timedelta = timedelta(minutes=1),
                 limit: int = 60000, mmsis: list[int] | None = None) -> dict[int, list[TrackPoint]]:
    """Every vessel's (or only ``mmsis``') track from ``since`` up to ``at`` (one fix per ``step``,
    the latest of each), oldest first; the newest ``limit`` fixes at most."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT mmsi, time, lat, lon, sog, simulated FROM (
                   SELECT DISTINCT ON (mmsi, time_bucket(%(step)s, time)) mmsi, time, lat, lon, sog, simulated
                   FROM vessel_positions WHERE time > %(since)s AND time <= %(at)s
                     AND (%(mmsis)s::bigint[] IS NULL OR mmsi = ANY(%(mmsis)s::bigint[]))
                   ORDER BY mmsi, time_bucket(%(step)s, time), time DESC) fixes
               ORDER BY time DESC LIMIT %(limit)s""",
            {"step": step, "since": since, "at": at, "limit": limit, "mmsis": mmsis}).fetchall()
    out: dict[int, list[TrackPoint]] = {}
    for r in sorted(rows, key=lambda r: (r[0], r[1])):
        out.setdefault(int(r[0]), []).append(TrackPoint(int(r[0]), r[1], r[2], r[3], r[4], bool(r[5])))
    return out


def keyframes_at(pool: Any, at: datetime, window: timedelta = timedelta(minutes=10)) -> list[KeyFrameAt]:
    """Each camera's newest key frame in ``(at - window, at]``."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT DISTINCT ON (camera_id) camera_id, time, path, width, height, detections
               FROM camera_keyframes WHERE time > %s AND time <= %s
               ORDER BY camera_id, time DESC""", (at - window, at)).fetchall()
    return [KeyFrameAt(*r) for r in rows]


def keyframes_between(pool: Any, start: datetime, end: datetime, camera_ids: list[str] | None = None,
                      limit: int = 6) -> list[KeyFrameAt]:
    """Key frames of ``[start, end]`` (of ``camera_ids``, when given), spread over the period: at most
    ``limit``, the one nearest each of ``limit`` even steps."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT camera_id, time, path, width, height, detections FROM camera_keyframes
               WHERE time >= %s AND time <= %s AND (%s::text[] IS NULL OR camera_id = ANY(%s::text[]))
               ORDER BY time""", (start, end, camera_ids, camera_ids)).fetchall()
    frames = [KeyFrameAt(*r) for r in rows]
    if len(frames) <= limit:
        return frames
    picked = sorted({round(i * (len(frames) - 1) / (limit - 1)) for i in range(limit)})
    return [frames[i] for i in picked]
