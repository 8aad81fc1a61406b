"""Read queries of the camera wall: each camera's health and key frame, its counts, its alerts.

Four questions, one round trip each, none scanning the raw camera tables without a bound:

* :func:`camera_statuses`: one row per camera from ``camera_status`` (what the newest frame
  statistics said: connected, brightness, sharpness, change, motion, fps in, last frame), with
  its newest ``camera_keyframes`` row (one index probe per camera on the table's
  ``(camera_id, time)`` key), read at one instant (``as_of``, the database's clock).
* :func:`latest_counts`: the newest minute of ``camera_counts_1m`` of every camera (whole frame
  ``'*'``, each zone, ``''`` for no zone), i.e. what a tile shows as "now".
* :func:`camera_counts`: one camera's minutes over the last hour, for the large view's chart.
* :func:`open_camera_alerts` / :func:`camera_alerts`: alerts of the camera rules (crowd,
  congestion, intrusion, camera faults, wrong way, no stopping, lane congestion), whose
  ``source_id`` is the camera id.

The same SQL runs on plain PostgreSQL and on TimescaleDB. Every value from a caller travels
as a ``%s`` parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from ioc.i18n import render

CAMERA_DETECTORS: tuple[str, ...] = ("crowd", "congestion", "intrusion", "camera_fault", "wrong_way",
                                     "no_stopping", "lane_congestion")
"""The detectors whose alerts are about a camera (``source_id`` = camera id)."""
FAULT_DETECTOR = "camera_fault"
LATEST_WITHIN = timedelta(hours=1)  # a camera whose newest counted minute is older shows no counts
RECENT_ALERTS = timedelta(hours=24)  # resolved alerts shown in a camera's large view

_SEVERITY_RANK = (
    "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END"
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class KeyFrameRow:
    """The newest key frame of a camera: ``path`` is relative to ``vision.keyframes_dir``."""

    camera_id: str
    time: datetime
    path: str
    width: int
    height: int
    detections: int
    size_bytes: int


@dataclass(frozen=True)
class CameraStatus:
    """One camera as its newest frame statistics describe it, with its newest key frame.

    ``time`` is the newest record (a frame or a ``connected=false`` heartbeat); the
    measurements and ``last_frame`` are those of the newest real frame. A camera named by the
    caller that never reported has ``time`` None (and every measurement None).
    """

    camera_id: str
    time: datetime | None
    connected: bool | None
    brightness: float | None
    sharpness: float | None
    change: float | None
    motion: float | None
    fps_in: float | None
    last_frame: datetime | None
    keyframe: KeyFrameRow | None

    @property
    def reported(self) -> bool:
        """True once the camera's worker sent any frame statistics."""
        return self.time is not None


@dataclass(frozen=True)
class CameraStatuses:
    """Every camera's status, read at one instant (``as_of``, the database's clock)."""

    as_of: datetime
    cameras: tuple[CameraStatus, ...]

    def get(self, camera_id: str) -> CameraStatus | None:
        """The status of one camera, or None when the store knows nothing of it."""
        return next((c for c in self.cameras if c.camera_id == camera_id), None)


@dataclass(frozen=True)
class CountRow:
    """One minute of one camera, zone and label from ``camera_counts_1m``.

    ``zone`` is the zone name, ``''`` for objects in no zone, ``'*'`` for the whole frame.
    ``max_count`` / ``avg_count``: objects per analysed frame that had any (peak, mean);
    ``objects``: distinct tracked objects that passed.
    """

    camera_id: str
    bucket: datetime
    zone: str
    label: str
    frames: int
    detections: int
    max_count: int
    avg_count: float
    objects: int


@dataclass(frozen=True)
class CameraAlert:
    """An alert of a camera rule as the camera wall shows it; ``fault`` for camera faults."""

    id: int
    camera_id: str
    detector: str
    rule: str
    severity: str
    state: str
    title: str
    fault: str | None
    started_at: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    title_template: str | None = None
    title_params: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"

    def title_in(self, lang: str) -> str:
        """The title in ``lang``: rendered from its template and fields, else the stored English."""
        return render("alerts", self.title_template, self.title_params, lang, self.title)


# --------------------------------------------------------------------------- queries

_STATUSES = """
WITH ids AS (
    SELECT camera_id FROM camera_status
    UNION
    SELECT unnest(%(ids)s::text[])
), cams AS (
    SELECT i.camera_id, s.time, s.connected, s.brightness, s.sharpness, s.change, s.motion, s.fps_in,
           s.last_frame, k.time AS k_time, k.path, k.width, k.height, k.detections, k.size_bytes
    FROM ids i
    LEFT JOIN camera_status s ON s.camera_id = i.camera_id
    LEFT JOIN LATERAL (
        SELECT time, path, width, height, detections, size_bytes FROM camera_keyframes k
        WHERE k.camera_id = i.camera_id ORDER BY time DESC LIMIT 1
    ) k ON true
)
SELECT n.now, cams.* FROM (SELECT now()) n LEFT JOIN cams ON true ORDER BY cams.camera_id
"""


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def camera_statuses(pool: ConnectionPool, camera_ids: Sequence[str] = ()) -> CameraStatuses:
    """Every camera that reported, plus ``camera_ids`` (configured) even if silent; by camera id."""
    with pool.connection() as conn:
        rows = conn.execute(_STATUSES, {"ids": list(camera_ids)}).fetchall()
    as_of = rows[0][0]
    cameras = []
    for r in rows:
        if r[1] is None:  # no camera at all: the one row of now()
            continue
        keyframe = None if r[10] is None else KeyFrameRow(r[1], r[10], r[11], int(r[12]), int(r[13]),
                                                          int(r[14]), int(r[15]))
        cameras.append(CameraStatus(
            camera_id=r[1], time=r[2], connected=r[3], brightness=_float(r[4]), sharpness=_float(r[5]),
            change=_float(r[6]), motion=_float(r[7]), fps_in=_float(r[8]), last_frame=r[9],
            keyframe=keyframe,
        ))
    return CameraStatuses(as_of=as_of, cameras=tuple(cameras))


_COUNT_COLUMNS = "camera_id, bucket, zone, label, frames, detections, max_count, avg_count, objects"


def _count_row(r: tuple) -> CountRow:
    return CountRow(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), float(r[7]), int(r[8]))


def latest_counts(
    pool: ConnectionPool, within: timedelta = LATEST_WITHIN, camera_ids: Sequence[str] | None = None
) -> list[CountRow]:
    """The newest counted minute of each camera (if within ``within`` of now), every zone and label.

    Ordered by camera, zone, label. An empty ``camera_ids`` selects nothing.
    """
    where = "bucket >= time_bucket('1 minute', now() - %(within)s::interval)"
    params: dict[str, object] = {"within": within}
    if camera_ids is not None:
        where += " AND camera_id = ANY(%(ids)s::text[])"
        params["ids"] = list(camera_ids)
    sql = f"""
        WITH newest AS (
            SELECT camera_id, max(bucket) AS bucket FROM camera_counts_1m WHERE {where} GROUP BY camera_id
        )
        SELECT {_COUNT_COLUMNS} FROM camera_counts_1m c JOIN newest n USING (camera_id, bucket)
        ORDER BY camera_id, zone, label
    """
    with pool.connection() as conn:
        rows = conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
    return [_count_row(r) for r in rows]


def camera_counts(pool: ConnectionPool, camera_id: str, minutes: int = 60) -> list[CountRow]:
    """One camera's minutes from the one ``minutes`` ago to now, by zone, label, then minute."""
    with pool.connection() as conn:
        rows = conn.execute(
            f"""
            SELECT {_COUNT_COLUMNS} FROM camera_counts_1m
            WHERE camera_id = %(camera)s
              AND bucket >= time_bucket('1 minute', now() - make_interval(mins => %(minutes)s))
            ORDER BY zone, label, bucket
            """,
            {"camera": camera_id, "minutes": max(0, int(minutes))},
        ).fetchall()
    return [_count_row(r) for r in rows]


_ALERT_COLUMNS = (
    "id, source_id, detector, rule, severity, state, title, details->>'fault', started_at, last_seen, "
    "resolved_at, count, title_template, title_params"
)


def _alert(r: tuple) -> CameraAlert:
    return CameraAlert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], int(r[11]),
                       r[12], dict(r[13] or {}))


def open_camera_alerts(
    pool: ConnectionPool, camera_ids: Sequence[str] | None = None
) -> dict[str, list[CameraAlert]]:
    """The alerts of camera rules that are not resolved, per camera: worst first, then newest."""
    where = "state <> 'resolved' AND detector = ANY(%(detectors)s::text[])"
    params: dict[str, object] = {"detectors": list(CAMERA_DETECTORS)}
    if camera_ids is not None:
        where += " AND source_id = ANY(%(ids)s::text[])"
        params["ids"] = list(camera_ids)
    sql = (
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {where} "
        f"ORDER BY source_id, {_SEVERITY_RANK}, last_seen DESC, id DESC"
    )
    with pool.connection() as conn:
        rows = conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
    out: dict[str, list[CameraAlert]] = {}
    for r in rows:
        out.setdefault(r[1], []).append(_alert(r))
    return out


def camera_alerts(
    pool: ConnectionPool, camera_id: str, limit: int = 20, recent: timedelta = RECENT_ALERTS
) -> list[CameraAlert]:
    """One camera's alerts: every open one (worst, then newest first), then those resolved recently.

    At most ``limit`` in all; an open alert is never pushed off by resolved ones.
    """
    with pool.connection() as conn:
        rows = conn.execute(
            f"""
            (SELECT {_ALERT_COLUMNS}, 0 AS grp, {_SEVERITY_RANK} AS rank FROM alerts
             WHERE source_id = %(camera)s AND detector = ANY(%(detectors)s::text[]) AND state <> 'resolved')
            UNION ALL
            (SELECT {_ALERT_COLUMNS}, 1, 0 FROM alerts
             WHERE source_id = %(camera)s AND detector = ANY(%(detectors)s::text[]) AND state = 'resolved'
               AND last_seen >= now() - %(recent)s::interval
             ORDER BY last_seen DESC, id DESC LIMIT %(limit)s)
            ORDER BY grp, rank, last_seen DESC, id DESC LIMIT %(limit)s
            """,
            {"camera": camera_id, "detectors": list(CAMERA_DETECTORS), "recent": recent,
             "limit": max(0, int(limit))},
        ).fetchall()
    return [_alert(r) for r in rows]


def keyframe_at(pool: ConnectionPool, camera_id: str, at: datetime) -> KeyFrameRow | None:
    """The camera's key frame nearest ``at`` (an alert's time): the last written at or before it,
    else the first after it; None when the camera has none."""
    columns = "time, path, width, height, detections, size_bytes"
    with pool.connection() as conn:
        row = conn.execute(
            f"""
            (SELECT {columns}, 0 AS side FROM camera_keyframes
             WHERE camera_id = %(camera)s AND time <= %(at)s ORDER BY time DESC LIMIT 1)
            UNION ALL
            (SELECT {columns}, 1 FROM camera_keyframes
             WHERE camera_id = %(camera)s AND time > %(at)s ORDER BY time LIMIT 1)
            ORDER BY side LIMIT 1
            """, {"camera": camera_id, "at": at}).fetchone()
    if row is None:
        return None
    return KeyFrameRow(camera_id, row[0], row[1], int(row[2]), int(row[3]), int(row[4]), int(row[5]))


__all__ = [
    "CAMERA_DETECTORS", "CameraAlert", "CameraStatus", "CameraStatuses", "CountRow", "KeyFrameRow",
    "camera_alerts", "camera_counts", "camera_statuses", "keyframe_at", "latest_counts", "open_camera_alerts",
]
