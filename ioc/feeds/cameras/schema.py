"""Camera tables: detections, per-zone counts, frame statistics and health, key frame index.

Kept like readings: each record kind has a :class:`~ioc.store.writer.TableSpec` (binary
``COPY`` into a staging table, ``INSERT ... ON CONFLICT DO NOTHING`` on a natural key), and a
hypertable on TimescaleDB or a BRIN index on plain PostgreSQL.

* ``camera_detections``: one row per object per analysed frame. Natural key
  ``(camera_id, time, label, object_key)``; ``object_key`` is ``t<track id>`` for a tracked
  object, else ``b<x1>,<y1>,<x2>,<y2>`` (the box rounded to whole pixels), so a redelivered
  record is stored once.
* ``camera_counts_1m``: counts per camera, zone and label per minute, computed from the
  detections (the worker publishes detections only). ``zone`` is the zone name, ``''`` for
  objects in no zone and ``'*'`` for the whole frame. Columns: ``frames`` (analysed frames
  with at least one such object), ``detections``, ``max_count`` / ``avg_count`` (objects per
  such frame: peak and mean occupancy), ``objects`` (distinct track ids: objects that passed).
  Chosen over a continuous aggregate because per-frame peaks (an aggregate of an aggregate)
  and distinct counts are not allowed there: the detections writer's ``after_insert``
  recomputes, in the same transaction, every (camera, minute) bucket its batch touched, from
  the stored rows. That is exact under duplicates and out-of-order batches, and the same SQL
  on both capability levels.
* ``camera_frame_stats``: one row per sampled frame (and per ``connected=false`` heartbeat),
  key ``(camera_id, time)``. ``camera_status`` has one row per camera, upserted by the writer
  (what a wall tile shows): ``time`` and ``connected`` of the newest record, the measurements
  and ``last_frame`` of the newest real frame (a heartbeat does not blank them). ``shake``
  (added by :func:`apply_camera_shake`) is NULL in rows of workers that did not measure it.
* ``camera_keyframes``: the index of JPEG key frames written by the workers, key
  ``(camera_id, time)``; ``path`` is relative to the configured ``keyframes_dir``.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ioc.feeds.cameras.records import Box, CameraDetection, CameraKeyFrame
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin

COUNT_BUCKET = "1 minute"
RAW_CAMERA_TABLES = ("camera_detections", "camera_frame_stats", "camera_keyframes")


def apply_cameras(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration: the camera tables (hypertables where TimescaleDB is present)."""
    conn.execute(
        """
        CREATE TABLE camera_detections (
            time          timestamptz      NOT NULL,
            camera_id     text             NOT NULL,
            label         text             NOT NULL,
            object_key    text             NOT NULL,
            score         real             NOT NULL,
            x1            real             NOT NULL,
            y1            real             NOT NULL,
            x2            real             NOT NULL,
            y2            real             NOT NULL,
            track_id      bigint,
            zone          text,
            frame_width   integer,
            frame_height  integer,
            PRIMARY KEY (camera_id, time, label, object_key)
        )
        """
    )
    hypertable_or_brin(conn, caps, "camera_detections", "1 day")
    conn.execute(
        """
        CREATE TABLE camera_counts_1m (
            bucket      timestamptz      NOT NULL,
            camera_id   text             NOT NULL,
            zone        text             NOT NULL,
            label       text             NOT NULL,
            frames      integer          NOT NULL,
            detections  integer          NOT NULL,
            max_count   integer          NOT NULL,
            avg_count   double precision NOT NULL,
            objects     integer          NOT NULL,
            PRIMARY KEY (camera_id, zone, label, bucket)
        );
        CREATE INDEX camera_counts_1m_bucket ON camera_counts_1m (bucket);
        CREATE TABLE camera_frame_stats (
            time          timestamptz      NOT NULL,
            camera_id     text             NOT NULL,
            connected     boolean          NOT NULL,
            brightness    real,
            sharpness     real,
            change        real,
            motion        real,
            analysed      boolean          NOT NULL,
            detections    integer          NOT NULL,
            fps_in        real,
            frame_width   integer,
            frame_height  integer,
            PRIMARY KEY (camera_id, time)
        )
        """
    )
    hypertable_or_brin(conn, caps, "camera_frame_stats", "1 day")
    conn.execute(
        """
        CREATE TABLE camera_status (
            camera_id     text PRIMARY KEY,
            time          timestamptz NOT NULL,
            connected     boolean     NOT NULL,
            brightness    real,
            sharpness     real,
            change        real,
            motion        real,
            fps_in        real,
            last_frame    timestamptz
        );
        CREATE TABLE camera_keyframes (
            time          timestamptz NOT NULL,
            camera_id     text        NOT NULL,
            path          text        NOT NULL,
            width         integer     NOT NULL,
            height        integer     NOT NULL,
            detections    integer     NOT NULL,
            size_bytes    integer     NOT NULL,
            PRIMARY KEY (camera_id, time)
        )
        """
    )
    hypertable_or_brin(conn, caps, "camera_keyframes", "7 days")


def apply_camera_shake(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration: frame statistics keep the camera's shake (back-and-forth motion, % of width)."""
    conn.execute("ALTER TABLE camera_frame_stats ADD COLUMN shake real")


def object_key(event: Any) -> str:
    """The part of a detection's natural key that tells objects of one frame apart."""
    if event.track_id is not None:
        return f"t{event.track_id}"
    b = event.box
    return f"b{round(b.x1)},{round(b.y1)},{round(b.x2)},{round(b.y2)}"


_COUNTS_REFRESH = f"""
WITH touched AS (
    SELECT DISTINCT camera_id, time_bucket('{COUNT_BUCKET}', time) AS bucket FROM stage_camera_detections
), rows AS (
    SELECT d.time, d.camera_id, d.label, d.track_id, t.bucket, coalesce(d.zone, '') AS zone
    FROM camera_detections d
    JOIN touched t ON d.camera_id = t.camera_id
     AND d.time >= t.bucket AND d.time < t.bucket + interval '{COUNT_BUCKET}'
), zoned AS (
    SELECT time, camera_id, label, track_id, bucket, zone FROM rows
    UNION ALL
    SELECT time, camera_id, label, track_id, bucket, '*' FROM rows
), per_frame AS (
    SELECT bucket, camera_id, zone, label, time, count(*) AS n
    FROM zoned GROUP BY bucket, camera_id, zone, label, time
), per_bucket AS (
    SELECT bucket, camera_id, zone, label, count(*) AS frames, sum(n) AS detections,
           max(n) AS max_count, avg(n) AS avg_count
    FROM per_frame GROUP BY bucket, camera_id, zone, label
), objects AS (
    SELECT bucket, camera_id, zone, label, count(DISTINCT track_id) AS objects
    FROM zoned GROUP BY bucket, camera_id, zone, label
)
INSERT INTO camera_counts_1m AS c
    (bucket, camera_id, zone, label, frames, detections, max_count, avg_count, objects)
SELECT p.bucket, p.camera_id, p.zone, p.label, p.frames, p.detections, p.max_count, p.avg_count,
       o.objects
FROM per_bucket p JOIN objects o USING (bucket, camera_id, zone, label)
ON CONFLICT (camera_id, zone, label, bucket) DO UPDATE
    SET frames = excluded.frames, detections = excluded.detections, max_count = excluded.max_count,
        avg_count = excluded.avg_count, objects = excluded.objects
"""

CAMERA_DETECTIONS = TableSpec(
    kind="camera.detection",
    table="camera_detections",
    columns=(
        ("time", "timestamptz"),
        ("camera_id", "text"),
        ("label", "text"),
        ("object_key", "text"),
        ("score", "float4"),
        ("x1", "float4"),
        ("y1", "float4"),
        ("x2", "float4"),
        ("y2", "float4"),
        ("track_id", "int8"),
        ("zone", "text"),
        ("frame_width", "int4"),
        ("frame_height", "int4"),
    ),
    key=("camera_id", "time", "label", "object_key"),
    to_row=lambda e: (
        e.time, e.source_id, e.label, object_key(e), e.score, e.box.x1, e.box.y1, e.box.x2, e.box.y2,
        e.track_id, e.zone, e.frame_width, e.frame_height,
    ),
    after_insert=(_COUNTS_REFRESH,),
    from_row=lambda r: CameraDetection(time=r["time"], source_id=r["camera_id"], label=r["label"],
                                       score=round(r["score"], 4),
                                       box=Box(x1=r["x1"], y1=r["y1"], x2=r["x2"], y2=r["y2"]),
                                       track_id=r["track_id"], zone=r["zone"], frame_width=r["frame_width"],
                                       frame_height=r["frame_height"])
)

CAMERA_FRAME_STATS = TableSpec(
    kind="camera.frame_stats",
    table="camera_frame_stats",
    columns=(
        ("time", "timestamptz"),
        ("camera_id", "text"),
        ("connected", "bool"),
        ("brightness", "float4"),
        ("sharpness", "float4"),
        ("change", "float4"),
        ("motion", "float4"),
        ("analysed", "bool"),
        ("detections", "int4"),
        ("fps_in", "float4"),
        ("frame_width", "int4"),
        ("frame_height", "int4"),
        ("shake", "float4"),
    ),
    key=("camera_id", "time"),
    to_row=lambda e: (
        e.time, e.source_id, e.connected, e.brightness, e.sharpness, e.change, e.motion, e.analysed,
        e.detections, e.fps_in, e.frame_width, e.frame_height, e.shake,
    ),
    after_insert=(
        """
        INSERT INTO camera_status AS s
            (camera_id, time, connected, brightness, sharpness, change, motion, fps_in, last_frame)
        SELECT n.camera_id, n.time, n.connected, f.brightness, f.sharpness, f.change, f.motion,
               f.fps_in, f.time
        FROM (SELECT DISTINCT ON (camera_id) camera_id, time, connected
              FROM stage_camera_frame_stats ORDER BY camera_id, time DESC) n
        LEFT JOIN (SELECT DISTINCT ON (camera_id) camera_id, time, brightness, sharpness, change,
                          motion, fps_in
                   FROM stage_camera_frame_stats WHERE connected ORDER BY camera_id, time DESC) f
            USING (camera_id)
        ON CONFLICT (camera_id) DO UPDATE
            SET time = excluded.time, connected = excluded.connected,
                brightness = CASE WHEN excluded.last_frame IS NULL THEN s.brightness
                                  ELSE excluded.brightness END,
                sharpness = CASE WHEN excluded.last_frame IS NULL THEN s.sharpness
                                 ELSE excluded.sharpness END,
                change = CASE WHEN excluded.last_frame IS NULL THEN s.change ELSE excluded.change END,
                motion = CASE WHEN excluded.last_frame IS NULL THEN s.motion ELSE excluded.motion END,
                fps_in = CASE WHEN excluded.last_frame IS NULL THEN s.fps_in ELSE excluded.fps_in END,
                last_frame = coalesce(excluded.last_frame, s.last_frame)
            WHERE excluded.time > s.time
        """,
    ),
)

CAMERA_KEYFRAMES = TableSpec(
    kind="camera.keyframe",
    table="camera_keyframes",
    columns=(
        ("time", "timestamptz"),
        ("camera_id", "text"),
        ("path", "text"),
        ("width", "int4"),
        ("height", "int4"),
        ("detections", "int4"),
        ("size_bytes", "int4"),
    ),
    key=("camera_id", "time"),
    to_row=lambda e: (e.time, e.source_id, e.path, e.width, e.height, e.detections, e.size_bytes),
    # the record names its JPEG; a recording carries the file beside it (ioc.recording, attachments)
    from_row=lambda r: CameraKeyFrame(time=r["time"], source_id=r["camera_id"], path=r["path"],
                                      width=r["width"], height=r["height"], detections=r["detections"],
                                      size_bytes=r["size_bytes"]),
)

CAMERA_SPECS: tuple[TableSpec, ...] = (CAMERA_DETECTIONS, CAMERA_FRAME_STATS, CAMERA_KEYFRAMES)
"""How each camera record kind is kept: detections, frame statistics, key frames."""


def camera_spec(kind: str) -> TableSpec:
    """The spec of one camera record kind (registered or not)."""
    for spec in CAMERA_SPECS:
        if spec.kind == kind:
            return spec
    raise KeyError(kind)
