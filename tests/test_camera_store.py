"""Camera tables on a real PostgreSQL, plain and with TimescaleDB: idempotent writes, counts rollup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.events import decode
from ioc.feeds.cameras.records import Box, CameraDetection, CameraFrameStats, CameraKeyFrame
from ioc.feeds.cameras.schema import RAW_CAMERA_TABLES, camera_spec, object_key
from ioc.store.database import Store
from ioc.store.writer import TABLES, StoreWriter

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CAM = "hue-cam-ngomon"


def det(
    t: float, track: int | None, zone: str | None, label: str = "person", cam: str = CAM, x: float = 100.0
) -> CameraDetection:
    return CameraDetection(
        time=T0 + timedelta(seconds=t),
        source_id=cam,
        label=label,
        score=0.7,
        box=Box(x1=x, y1=50, x2=x + 30, y2=150),
        track_id=track,
        zone=zone,
        frame_width=640,
        frame_height=480,
    )


def rows(store: Store, sql: str, *args: object) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(sql, args or None).fetchall()


def test_camera_tables_exist_at_each_capability_level(store: Store) -> None:
    hyper = rows(store, "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL")[0][0]
    assert hyper == store.caps.timescaledb
    if store.caps.timescaledb:
        names = {r[0] for r in rows(store, "SELECT hypertable_name FROM timescaledb_information.hypertables")}
        assert set(RAW_CAMERA_TABLES) <= names
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'camera_%brin'"
        brin = {r[0] for r in rows(store, sql)}
        traffic = ("camera_traffic_counts", "camera_lane_occupancy")
        assert brin == {f"{t}_time_brin" for t in (*RAW_CAMERA_TABLES, *traffic)}
    assert rows(store, "SELECT to_regclass('camera_counts_1m') IS NOT NULL")[0][0]


def test_detections_are_stored_once_and_counted_per_zone(store: Store) -> None:
    writer = StoreWriter(store.pool, store.caps)
    assert writer.storable("camera.detection")
    batch = []
    for i in range(6):  # 6 frames, 2 fps, three people: two in "gate", one in no zone
        t = i * 0.5
        batch += [det(t, 1, "gate"), det(t, 2, "gate", x=200), det(t, 3, None, x=400)]
    batch += [det(61, 4, "gate"), det(61, None, "gate", label="car", x=300)]  # next minute
    first = writer.write(batch)
    again = writer.write(batch)  # redelivered batch
    assert first.inserted["camera.detection"] == len(batch)
    assert again.inserted["camera.detection"] == 0 and again.duplicates["camera.detection"] == len(batch)
    assert rows(store, "SELECT count(*) FROM camera_detections")[0][0] == len(batch)
    keys = {r[0] for r in rows(store, "SELECT object_key FROM camera_detections")}
    assert {"t1", "t2", "t3", "b300,50,330,150"} <= keys

    counts = rows(
        store,
        "SELECT bucket, zone, label, frames, detections, max_count, avg_count, objects "
        "FROM camera_counts_1m ORDER BY bucket, zone, label",
    )
    assert counts == [
        (T0, "", "person", 6, 6, 1, 1.0, 1),
        (T0, "*", "person", 6, 18, 3, 3.0, 3),
        (T0, "gate", "person", 6, 12, 2, 2.0, 2),
        (T0 + timedelta(minutes=1), "*", "car", 1, 1, 1, 1.0, 0),
        (T0 + timedelta(minutes=1), "*", "person", 1, 1, 1, 1.0, 1),
        (T0 + timedelta(minutes=1), "gate", "car", 1, 1, 1, 1.0, 0),
        (T0 + timedelta(minutes=1), "gate", "person", 1, 1, 1, 1.0, 1),
    ]


def test_counts_are_exact_when_a_minute_arrives_in_several_batches_out_of_order(store: Store) -> None:
    writer = StoreWriter(store.pool, store.caps)
    late = [det(10, 7, "gate"), det(10, 8, "gate", x=300)]
    early = [det(1, 7, "gate")]
    writer.write(late)
    writer.write(early)
    writer.write(late)
    assert rows(
        store, "SELECT frames, detections, max_count, objects FROM camera_counts_1m WHERE zone = 'gate'"
    ) == [(2, 3, 2, 2)]


@pytest.fixture
def all_camera_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the frame-stats and key-frame specs as ioc/events + topics registration will."""
    for kind in ("camera.frame_stats", "camera.keyframe"):
        monkeypatch.setitem(TABLES, kind, camera_spec(kind))


def test_frame_stats_status_and_keyframes(store: Store, all_camera_tables: None) -> None:
    writer = StoreWriter(store.pool, store.caps)
    stats = [
        CameraFrameStats(
            time=T0 + timedelta(seconds=i),
            source_id=CAM,
            brightness=110 + i,
            sharpness=1800,
            change=1.2,
            motion=0.01,
            analysed=i % 2 == 0,
            detections=3,
            fps_in=10.0,
            frame_width=640,
            frame_height=480,
        )
        for i in range(4)
    ]
    beat = CameraFrameStats(time=T0 + timedelta(seconds=9), source_id=CAM, connected=False)
    keyframe = CameraKeyFrame(
        time=T0,
        source_id=CAM,
        path=f"{CAM}/20261125T080000.000Z.jpg",
        width=640,
        height=480,
        detections=3,
        size_bytes=51234,
    )
    result = writer.write([*stats, beat, keyframe])
    assert result.inserted == {"camera.frame_stats": 5, "camera.keyframe": 1}
    assert writer.write([*stats, beat, keyframe]).total_inserted == 0
    status = rows(store, "SELECT time, connected, brightness, last_frame FROM camera_status")
    assert status == [(T0 + timedelta(seconds=9), False, 113.0, T0 + timedelta(seconds=3))]
    writer.write([CameraFrameStats(time=T0 + timedelta(seconds=5), source_id=CAM, brightness=50)])  # older
    assert rows(store, "SELECT connected FROM camera_status")[0][0] is False
    assert rows(store, "SELECT path, size_bytes FROM camera_keyframes") == [(keyframe.path, 51234)]


def test_object_key_tells_tracked_and_untracked_objects_apart() -> None:
    assert object_key(det(0, 5, None)) == "t5"
    assert object_key(det(0, None, None, x=10.4)) == "b10,50,40,150"


def test_frame_stats_keep_the_shake_and_old_records_still_decode(
    store: Store, all_camera_tables: None
) -> None:
    writer = StoreWriter(store.pool, store.caps)
    shaking = CameraFrameStats(time=T0, source_id=CAM, brightness=110, sharpness=900, change=9.0, shake=0.9)
    old_wire = CameraFrameStats(time=T0 + timedelta(seconds=1), source_id=CAM, brightness=110).to_wire()
    old_wire = old_wire.replace(b',"shake":null', b"")  # a record from a worker without the field
    assert b"shake" not in old_wire
    old = decode(old_wire)
    assert isinstance(old, CameraFrameStats) and old.shake is None
    writer.write([shaking, old])
    stored = rows(store, "SELECT shake FROM camera_frame_stats ORDER BY time")
    assert stored == [(pytest.approx(0.9),), (None,)]
