"""Traffic measures from recorded yolo11n tracks are stored once per minute (camera migration 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards.cameras.traffic import traffic_block
from dashboards.formats import Formats
from ingest.cameras.traffic import LaneMeter, LineCounter
from ioc.camera_settings import CountingLine, Lane
from ioc.events import decode
from ioc.feeds.cameras.records import LaneOccupancy, TrafficCount
from ioc.feeds.cameras.traffic_queries import latest_traffic
from ioc.store.database import Store
from ioc.store.writer import StoreWriter
from tests.test_camera_counting import CAM, recorded


def rows(store: Store, sql: str) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchall()


def test_line_counts_and_lane_occupancy_are_stored_once(store: Store) -> None:
    counter = LineCounter(CAM, [CountingLine(name="bridge", a=(0.6, 0.0), b=(0.6, 1.0))])
    meter = LaneMeter(CAM, [Lane(name="south", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])])
    records: list = []
    for e in recorded():
        records += counter.add(e) + meter.add(e)
    records += counter.flush() + meter.flush()
    assert {r.kind for r in records} == {"camera.traffic_count", "camera.lane_occupancy"}
    records = [decode(r.model_dump_json().encode()) for r in records]  # as they come off the bus
    writer = StoreWriter(store.pool, store.caps)
    assert writer.storable("camera.traffic_count") and writer.storable("camera.lane_occupancy")
    first = writer.write(records)
    again = writer.write(records)
    counts = [r for r in records if r.kind == "camera.traffic_count"]
    lanes = [r for r in records if r.kind == "camera.lane_occupancy"]
    assert first.inserted["camera.traffic_count"] == len(counts)
    assert again.inserted.get("camera.traffic_count", 0) == 0
    stored = rows(store, "SELECT time, camera_id, line, direction, label, count FROM camera_traffic_counts "
                         "ORDER BY time, direction, label")
    assert stored == sorted(((r.time, CAM, r.line, r.direction, r.label, r.count) for r in counts),
                            key=lambda x: (x[0], x[3], x[4]))
    occ = rows(store, "SELECT time, lane, frames, queue_max FROM camera_lane_occupancy ORDER BY time")
    assert occ == [(r.time, r.lane, r.frames, r.queue_max) for r in sorted(lanes, key=lambda r: r.time)]


def test_the_newest_minute_of_a_cameras_traffic_is_read_back_for_its_page(store: Store) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old, new = now - timedelta(minutes=3), now - timedelta(minutes=1)
    rows = [TrafficCount(time=t, source_id=CAM, line="bridge", direction=d, label=lbl, count=n)
            for t in (old, new) for d, lbl, n in (("east", "car", 4), ("west", "motorcycle", 9))]
    rows += [LaneOccupancy(time=t, source_id=CAM, lane="south", frames=120, occupancy=occ, queue_max=5,
                           queue_mean=2.25, speed_px_s=None if t == new else 40.0)
             for t, occ in ((old, 0.5), (new, 0.875))]
    rows.append(TrafficCount(time=now, source_id="another-camera", line="x", direction="y", label="car",
                             count=1))
    StoreWriter(store.pool, store.caps).write(rows)
    got = latest_traffic(store.pool, CAM)
    assert got.counts_minute == new and got.lanes_minute == new
    assert [(r.direction, r.label, r.count) for r in got.counts] == [("east", "car", 4),
                                                                     ("west", "motorcycle", 9)]
    assert [(r.lane, r.occupancy, r.queue_max, r.speed_px_s) for r in got.lanes] == [
        ("south", 0.875, 5, None)]
    assert latest_traffic(store.pool, CAM, within=timedelta(seconds=30)).counts == []
    assert latest_traffic(store.pool, "nobody").lanes_minute is None
    vi = str(traffic_block(got, Formats("vi", "Asia/Ho_Chi_Minh")))
    en = str(traffic_block(got, Formats("en", "Asia/Ho_Chi_Minh")))
    assert "Xe máy" in vi and "chiếm 88%" in vi and "Motorbikes" in en and "88% occupied" in en
    assert "bridge → west" in en
    empty = str(traffic_block(latest_traffic(store.pool, "nobody"), Formats("vi", "UTC")))
    assert "15 phút" in empty
