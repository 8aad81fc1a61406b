"""Traffic measures (counting line, lane occupancy) on tracks yolo11n really produced on bikes.mp4.

The fixture ``tests/fixtures/bikes_tracks.json`` is recorded by
``sample_streams/cameras/record_tracks.py`` (yolo11n + ByteTrack, 5 frames a second of the clip).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.cameras.traffic import LaneMeter, LineCounter, crossing
from ioc.camera_settings import CountingLine, Lane
from ioc.feeds.cameras.records import Box, CameraDetection, LaneOccupancy, TrafficCount

FIXTURE = Path(__file__).parent / "fixtures" / "bikes_tracks.json"
T0 = datetime(2026, 5, 1, 7, 59, 55, tzinfo=UTC)  # the clip straddles a minute boundary
CAM = "hue-cam-truongtien"


def recorded() -> list[CameraDetection]:
    rows = json.loads(FIXTURE.read_text())["rows"]
    return [CameraDetection(time=T0 + timedelta(seconds=r["t"]), source_id=CAM, label=r["label"],
                            score=r["score"], box=Box(x1=r["box"][0], y1=r["box"][1], x2=r["box"][2],
                                                      y2=r["box"][3]),
                            track_id=r["track_id"], frame_width=r["width"], frame_height=r["height"])
            for r in rows]


def test_the_fixture_is_real_traffic() -> None:
    labels = Counter(e.label for e in recorded())
    assert labels["car"] >= 20 and labels["motorcycle"] >= 1 and labels["bicycle"] >= 5
    assert len({e.track_id for e in recorded() if e.track_id is not None}) >= 5


def test_crossing_direction_and_misses() -> None:
    a, b = (0.5, 0.0), (0.5, 1.0)  # a vertical line, drawn downwards
    assert crossing(a, b, (0.4, 0.5), (0.6, 0.5)) == -1  # left to right of the picture: a->b's left
    assert crossing(a, b, (0.6, 0.5), (0.4, 0.5)) == 1
    assert crossing(a, b, (0.4, 0.5), (0.45, 0.5)) == 0
    assert crossing(a, b, (0.4, 1.5), (0.6, 1.5)) == 0  # beside the segment
    assert crossing(a, b, (0.4, 0.5), (0.5, 0.5)) == 0  # reaching the line is not crossing it


def test_each_tracked_object_is_counted_once_per_direction_and_minute() -> None:
    x = 0.6
    line = CountingLine(name="bridge", a=(x, 0.0), b=(x, 1.0), directions=("west", "east"))
    counter = LineCounter(CAM, [line])
    out: list[TrafficCount] = []
    events = recorded()
    for e in events:
        out += counter.add(e)
    out += counter.flush()
    # Independent oracle: a track's first pair of sightings on either side of x (foot points).
    last: dict[int, float] = {}
    want: Counter[tuple[datetime, str, str]] = Counter()
    done: set[int] = set()
    for e in events:
        if e.track_id is None:
            continue
        fx = (e.box.x1 + e.box.x2) / 2 / (e.frame_width or 1)
        prev = last.get(e.track_id)
        last[e.track_id] = fx
        if prev is not None and e.track_id not in done and (prev - x) * (fx - x) < 0 or (
                prev is not None and e.track_id not in done and prev == x and fx != x):
            done.add(e.track_id)
            want[(e.time.replace(second=0, microsecond=0), "east" if fx > x else "west", e.label)] += 1
    got = Counter({(r.time, r.direction, r.label): r.count for r in out})
    assert got == want
    assert sum(got.values()) >= 2  # a car going east before the minute, one going west after
    assert {r.direction for r in out} == {"east", "west"}
    assert len({r.time for r in out}) == 2  # counts on both sides of the minute boundary
    # a track that goes back over the line is not counted again
    assert sum(got.values()) == len(done)


def test_counts_of_a_minute_come_when_the_camera_is_past_it() -> None:
    line = CountingLine(name="bridge", a=(0.6, 0.0), b=(0.6, 1.0))
    counter = LineCounter(CAM, [line], lateness=2.0)
    events = recorded()
    early = []
    for e in events:
        for r in counter.add(e):
            early.append((e.time, r))
    assert early and all(t >= r.time + timedelta(minutes=1, seconds=2) for t, r in early)


def test_lane_occupancy_and_queue_per_minute() -> None:
    lane_poly = [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
    lane = Lane(name="south", polygon=lane_poly)
    meter = LaneMeter(CAM, [lane])
    events = recorded()
    out: list[LaneOccupancy] = []
    for e in events:
        out += meter.add(e)
    out += meter.flush()
    per_frame: dict[datetime, int] = defaultdict(int)
    for e in events:
        per_frame.setdefault(e.time, 0)
        foot_y = e.box.y2 / (e.frame_height or 1)
        if e.label in {"car", "truck", "bus", "motorcycle", "bicycle"} and foot_y > 0.5:
            per_frame[e.time] += 1
    assert sum(r.frames for r in out) == len(per_frame)
    for r in out:
        counts = [n for t, n in per_frame.items() if t.replace(second=0, microsecond=0) == r.time]
        assert r.frames == len(counts)
        assert r.queue_max == max(counts)
        assert r.occupancy == pytest.approx(sum(1 for n in counts if n) / len(counts), abs=1e-4)
    assert any(r.speed_px_s is not None and r.speed_px_s > 0 for r in out)
    assert max(r.occupancy for r in out) > 0.3  # vehicles stand on the lower half of the clip


def test_an_object_jittering_on_the_line_is_counted_once() -> None:
    line = CountingLine(name="bridge", a=(0.5, 0.0), b=(0.5, 1.0))
    counter = LineCounter(CAM, [line])
    out = []
    for i, x in enumerate([300, 330, 310, 340, 300, 350]):  # a 640-wide frame: x=320 is the line
        out += counter.add(CameraDetection(time=T0 + timedelta(seconds=i), source_id=CAM, label="motorcycle",
                                           score=0.8, box=Box(x1=x - 10, y1=100, x2=x + 10, y2=150),
                                           track_id=7, frame_width=640, frame_height=272))
    out += counter.flush()
    assert [(r.line, r.label, r.count) for r in out] == [("bridge", "motorcycle", 1)]
