"""The camera wall's queries on a real PostgreSQL, plain and with TimescaleDB.

Records go in through the real :class:`~ioc.store.writer.StoreWriter` (so ``camera_status`` and
``camera_counts_1m`` are what the writer keeps), alerts as rows of ``alerts``; every query's
answer is checked exactly. Times are relative to now because the queries look back from the
database's clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ioc.feeds.cameras.records import Box, CameraDetection, CameraFrameStats, CameraKeyFrame
from ioc.store import camera_queries as cq
from ioc.store.database import Store
from ioc.store.writer import StoreWriter

A, B, C = "cam-a", "cam-b", "cam-c"


def minute(back: int) -> datetime:
    """The start of the minute ``back`` minutes before the current one (UTC)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=back)


def det(cam: str, t: datetime, track: int | None, zone: str | None, label: str = "person",
        x: float = 10.0) -> CameraDetection:
    return CameraDetection(time=t, source_id=cam, label=label, score=0.8,
                           box=Box(x1=x, y1=20, x2=x + 20, y2=80), track_id=track, zone=zone,
                           frame_width=640, frame_height=480)


def stats(cam: str, t: datetime, connected: bool = True, brightness: float = 100.5) -> CameraFrameStats:
    if not connected:
        return CameraFrameStats(time=t, source_id=cam, connected=False)
    return CameraFrameStats(time=t, source_id=cam, brightness=brightness, sharpness=250.0, change=2.25,
                            motion=0.125, analysed=True, detections=3, fps_in=10.0, frame_width=640,
                            frame_height=480)


def keyframe(cam: str, t: datetime, n: int) -> CameraKeyFrame:
    return CameraKeyFrame(time=t, source_id=cam, path=f"{cam}/{t:%H%M%S}.jpg", width=640, height=480,
                          detections=n, size_bytes=1000 + n)


def test_camera_statuses_with_newest_key_frame_and_silent_configured_cameras(store: Store) -> None:
    writer = StoreWriter(store.pool, store.caps)
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    writer.write([stats(A, t), stats(A, t + timedelta(seconds=5), brightness=90.5),
                  keyframe(A, t, 2), keyframe(A, t + timedelta(seconds=5), 4)])
    # B: a frame, then heartbeats of a lost connection (the measurements stay those of the frame)
    writer.write([stats(B, t), stats(B, t + timedelta(seconds=10), connected=False)])
    writer.write([stats(B, t + timedelta(seconds=15), connected=False)])

    snap = cq.camera_statuses(store.pool, [C, A])
    assert abs((datetime.now(UTC) - snap.as_of).total_seconds()) < 5
    assert [c.camera_id for c in snap.cameras] == [A, B, C]
    assert snap.get(A) == cq.CameraStatus(
        camera_id=A, time=t + timedelta(seconds=5), connected=True, brightness=90.5, sharpness=250.0,
        change=2.25, motion=0.125, fps_in=10.0, last_frame=t + timedelta(seconds=5),
        keyframe=cq.KeyFrameRow(A, t + timedelta(seconds=5), f"{A}/{t + timedelta(seconds=5):%H%M%S}.jpg",
                                640, 480, 4, 1004),
    )
    assert snap.get(B) == cq.CameraStatus(
        camera_id=B, time=t + timedelta(seconds=15), connected=False, brightness=100.5, sharpness=250.0,
        change=2.25, motion=0.125, fps_in=10.0, last_frame=t, keyframe=None,
    )
    silent = snap.get(C)
    assert silent == cq.CameraStatus(C, None, None, None, None, None, None, None, None, None)
    assert silent is not None and not silent.reported and snap.get(A).reported  # type: ignore[union-attr]
    assert snap.get("nope") is None


def test_camera_statuses_of_an_empty_store(store: Store) -> None:
    snap = cq.camera_statuses(store.pool)
    assert snap.cameras == () and snap.as_of is not None


def _counted(store: Store) -> None:
    writer = StoreWriter(store.pool, store.caps)
    batch = []
    for back in (70, 30, 2):  # A: three minutes; in each, 2 frames: people 1 and 2 in "gate", 3 in none
        m = minute(back)
        for s in (0, 30):
            t = m + timedelta(seconds=s)
            batch += [det(A, t, 1, "gate"), det(A, t, 2, "gate", x=100), det(A, t, 3, None, x=200)]
        batch.append(det(A, m + timedelta(seconds=40), None, None, label="motion", x=300))
    batch.append(det(B, minute(90), 7, None, label="vehicle"))  # B counted only long ago
    batch.append(det(C, minute(1), 8, "road", label="vehicle"))
    writer.write(batch)


def test_latest_counts_are_the_newest_minute_of_each_camera(store: Store) -> None:
    _counted(store)
    m2, m1 = minute(2), minute(1)
    expected_a = [
        cq.CountRow(A, m2, "", "motion", 1, 1, 1, 1.0, 0),
        cq.CountRow(A, m2, "", "person", 2, 2, 1, 1.0, 1),
        cq.CountRow(A, m2, "*", "motion", 1, 1, 1, 1.0, 0),
        cq.CountRow(A, m2, "*", "person", 2, 6, 3, 3.0, 3),
        cq.CountRow(A, m2, "gate", "person", 2, 4, 2, 2.0, 2),
    ]
    expected_c = [
        cq.CountRow(C, m1, "*", "vehicle", 1, 1, 1, 1.0, 1),
        cq.CountRow(C, m1, "road", "vehicle", 1, 1, 1, 1.0, 1),
    ]
    assert cq.latest_counts(store.pool) == expected_a + expected_c  # B's minute is over an hour old
    assert cq.latest_counts(store.pool, camera_ids=[C]) == expected_c
    assert cq.latest_counts(store.pool, camera_ids=[]) == []
    assert cq.latest_counts(store.pool, within=timedelta(hours=2), camera_ids=[B]) == [
        cq.CountRow(B, minute(90), "", "vehicle", 1, 1, 1, 1.0, 1),
        cq.CountRow(B, minute(90), "*", "vehicle", 1, 1, 1, 1.0, 1),
    ]


def test_camera_counts_cover_the_last_hour_by_zone_label_and_minute(store: Store) -> None:
    _counted(store)
    m30, m2 = minute(30), minute(2)
    got = cq.camera_counts(store.pool, A)
    assert got == [
        cq.CountRow(A, m30, "", "motion", 1, 1, 1, 1.0, 0),
        cq.CountRow(A, m2, "", "motion", 1, 1, 1, 1.0, 0),
        cq.CountRow(A, m30, "", "person", 2, 2, 1, 1.0, 1),
        cq.CountRow(A, m2, "", "person", 2, 2, 1, 1.0, 1),
        cq.CountRow(A, m30, "*", "motion", 1, 1, 1, 1.0, 0),
        cq.CountRow(A, m2, "*", "motion", 1, 1, 1, 1.0, 0),
        cq.CountRow(A, m30, "*", "person", 2, 6, 3, 3.0, 3),
        cq.CountRow(A, m2, "*", "person", 2, 6, 3, 3.0, 3),
        cq.CountRow(A, m30, "gate", "person", 2, 4, 2, 2.0, 2),
        cq.CountRow(A, m2, "gate", "person", 2, 4, 2, 2.0, 2),
    ]  # the minute 70 minutes back is outside the hour
    assert [r.bucket for r in cq.camera_counts(store.pool, A, minutes=10)] == [m2] * 5
    assert cq.camera_counts(store.pool, B) == []
    assert cq.camera_counts(store.pool, "nope") == []


def _alert(store: Store, cam: str, detector: str, severity: str, state: str, last_seen: datetime,
           title: str, details: dict | None = None) -> int:
    resolved = last_seen if state == "resolved" else None
    with store.pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, state, "
            "started_at, first_seen, last_seen, resolved_at, details) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id",
            (f"{detector}:{cam}:{title}", detector, f"{detector}-rule", cam, severity, title, state,
             last_seen - timedelta(minutes=1), last_seen - timedelta(minutes=1), last_seen, resolved,
             json.dumps(details or {})),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_open_and_recent_camera_alerts(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    crowd = _alert(store, A, "crowd", "warning", "open", now - timedelta(seconds=60), "Crowd on path")
    intrusion = _alert(store, A, "intrusion", "critical", "acknowledged", now - timedelta(seconds=120),
                       "Intrusion in lawn")
    offline = _alert(store, A, "camera_fault", "warning", "resolved", now - timedelta(minutes=30),
                     "Camera offline", {"fault": "offline", "camera": A})
    _alert(store, A, "camera_fault", "warning", "resolved", now - timedelta(hours=48), "Old fault",
           {"fault": "dark"})
    _alert(store, A, "threshold", "critical", "open", now, "PM2.5 high")  # not a camera rule
    dark = _alert(store, B, "camera_fault", "critical", "open", now - timedelta(seconds=5),
                  "Camera dark or covered", {"fault": "dark"})

    def expect(alert_id: int, cam: str, detector: str, severity: str, state: str, title: str,
               fault: str | None, last_seen: datetime) -> cq.CameraAlert:
        return cq.CameraAlert(alert_id, cam, detector, f"{detector}-rule", severity, state, title, fault,
                              last_seen - timedelta(minutes=1), last_seen,
                              last_seen if state == "resolved" else None, 1)

    e_intrusion = expect(intrusion, A, "intrusion", "critical", "acknowledged", "Intrusion in lawn", None,
                         now - timedelta(seconds=120))
    e_crowd = expect(crowd, A, "crowd", "warning", "open", "Crowd on path", None, now - timedelta(seconds=60))
    e_dark = expect(dark, B, "camera_fault", "critical", "open", "Camera dark or covered", "dark",
                    now - timedelta(seconds=5))
    e_offline = expect(offline, A, "camera_fault", "warning", "resolved", "Camera offline", "offline",
                       now - timedelta(minutes=30))

    assert cq.open_camera_alerts(store.pool) == {A: [e_intrusion, e_crowd], B: [e_dark]}
    assert cq.open_camera_alerts(store.pool, [B, C]) == {B: [e_dark]}
    assert cq.open_camera_alerts(store.pool, []) == {}
    assert not e_crowd.resolved and e_offline.resolved

    assert cq.camera_alerts(store.pool, A) == [e_intrusion, e_crowd, e_offline]  # the 48 h old one is gone
    assert cq.camera_alerts(store.pool, A, limit=1) == [e_intrusion]
    assert cq.camera_alerts(store.pool, A, recent=timedelta(days=3))[-1].title == "Old fault"
    assert cq.camera_alerts(store.pool, C) == []
