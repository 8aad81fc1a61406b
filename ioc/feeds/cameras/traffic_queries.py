"""Read query of a camera's traffic measures: its newest measured minute of lines and lanes.

:func:`latest_traffic` reads ``camera_traffic_counts`` and ``camera_lane_occupancy`` (camera
migration 3) for one camera: the newest minute of each table within ``within`` of the
database's clock, by their ``(camera_id, time, ...)`` keys (index probes, no scan). The same
SQL runs on plain PostgreSQL and on TimescaleDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

TRAFFIC_WITHIN = timedelta(minutes=15)
"""A camera whose newest measured minute is older than this shows no traffic figures."""


@dataclass(frozen=True)
class LineCount:
    """Objects of one class that crossed a counting line one way in the minute."""

    line: str
    direction: str
    label: str
    count: int


@dataclass(frozen=True)
class LaneMinute:
    """A lane's minute: occupancy (share of frames with a vehicle), queue, mean speed."""

    lane: str
    frames: int
    occupancy: float
    queue_max: int
    queue_mean: float
    speed_px_s: float | None


@dataclass(frozen=True)
class CameraTraffic:
    """A camera's newest minute of counts and of lane measures (each ``None`` when there is none)."""

    counts_minute: datetime | None = None
    counts: list[LineCount] = field(default_factory=list)
    lanes_minute: datetime | None = None
    lanes: list[LaneMinute] = field(default_factory=list)


def latest_traffic(pool: ConnectionPool, camera_id: str, within: timedelta = TRAFFIC_WITHIN) -> CameraTraffic:
    """The newest minute of ``camera_id``'s line counts and lane measures, within ``within`` of now."""
    params = {"camera": camera_id, "within": within}
    with pool.connection() as conn:
        counts = conn.execute(
            """
            SELECT time, line, direction, label, count FROM camera_traffic_counts
            WHERE camera_id = %(camera)s AND time = (
                SELECT max(time) FROM camera_traffic_counts
                WHERE camera_id = %(camera)s AND time >= now() - %(within)s::interval)
            ORDER BY line, direction, label
            """, params).fetchall()
        lanes = conn.execute(
            """
            SELECT time, lane, frames, occupancy, queue_max, queue_mean, speed_px_s FROM camera_lane_occupancy
            WHERE camera_id = %(camera)s AND time = (
                SELECT max(time) FROM camera_lane_occupancy
                WHERE camera_id = %(camera)s AND time >= now() - %(within)s::interval)
            ORDER BY lane
            """, params).fetchall()
    return CameraTraffic(
        counts_minute=counts[0][0] if counts else None,
        counts=[LineCount(r[1], r[2], r[3], int(r[4])) for r in counts],
        lanes_minute=lanes[0][0] if lanes else None,
        lanes=[LaneMinute(r[1], int(r[2]), float(r[3]), int(r[4]), float(r[5]),
                          None if r[6] is None else float(r[6])) for r in lanes],
    )
