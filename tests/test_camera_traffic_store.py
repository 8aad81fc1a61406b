"""Traffic measures from recorded yolo11n tracks are stored once per minute (camera migration 3)."""

from __future__ import annotations

from ingest.cameras.traffic import LaneMeter, LineCounter
from ioc.camera_settings import CountingLine, Lane
from ioc.events import decode
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
