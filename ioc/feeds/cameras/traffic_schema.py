"""Traffic measure tables (camera migration 3): line counts and lane occupancy per minute.

* ``camera_traffic_counts``: objects that crossed a counting line, per camera, minute, line,
  direction and label; key ``(camera_id, time, line, direction, label)`` (a redelivered record is
  stored once).
* ``camera_lane_occupancy``: per camera, minute and lane, the analysed frames, occupancy (share
  of frames with a vehicle in the lane), queue (most and mean vehicles per frame) and the mean
  speed of the tracked vehicles in pixels a second; key ``(camera_id, time, lane)``.
"""

from __future__ import annotations

import psycopg

from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin


def apply_traffic_tables(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration: the traffic measure tables (hypertables where TimescaleDB is present)."""
    conn.execute(
        """
        CREATE TABLE camera_traffic_counts (
            time        timestamptz NOT NULL,
            camera_id   text        NOT NULL,
            line        text        NOT NULL,
            direction   text        NOT NULL,
            label       text        NOT NULL,
            count       integer     NOT NULL CHECK (count >= 0),
            PRIMARY KEY (camera_id, time, line, direction, label)
        )
        """
    )
    hypertable_or_brin(conn, caps, "camera_traffic_counts", "7 days")
    conn.execute(
        """
        CREATE TABLE camera_lane_occupancy (
            time        timestamptz NOT NULL,
            camera_id   text        NOT NULL,
            lane        text        NOT NULL,
            frames      integer     NOT NULL CHECK (frames >= 1),
            occupancy   real        NOT NULL CHECK (occupancy BETWEEN 0 AND 1),
            queue_max   integer     NOT NULL,
            queue_mean  real        NOT NULL,
            speed_px_s  real,
            PRIMARY KEY (camera_id, time, lane)
        )
        """
    )
    hypertable_or_brin(conn, caps, "camera_lane_occupancy", "7 days")


TRAFFIC_COUNTS = TableSpec(
    kind="camera.traffic_count",
    table="camera_traffic_counts",
    columns=(
        ("time", "timestamptz"),
        ("camera_id", "text"),
        ("line", "text"),
        ("direction", "text"),
        ("label", "text"),
        ("count", "int4"),
    ),
    key=("camera_id", "time", "line", "direction", "label"),
    to_row=lambda e: (e.time, e.source_id, e.line, e.direction, e.label, e.count),
)

LANE_OCCUPANCY = TableSpec(
    kind="camera.lane_occupancy",
    table="camera_lane_occupancy",
    columns=(
        ("time", "timestamptz"),
        ("camera_id", "text"),
        ("lane", "text"),
        ("frames", "int4"),
        ("occupancy", "float4"),
        ("queue_max", "int4"),
        ("queue_mean", "float4"),
        ("speed_px_s", "float4"),
    ),
    key=("camera_id", "time", "lane"),
    to_row=lambda e: (e.time, e.source_id, e.lane, e.frames, e.occupancy, e.queue_max, e.queue_mean,
                      e.speed_px_s),
)
