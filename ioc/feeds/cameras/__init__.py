"""The camera feed: detections, frame statistics and key frames of traffic and urban cameras."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.cameras.records import (
    CameraDetection,
    CameraFrameStats,
    CameraKeyFrame,
    LaneOccupancy,
    TrafficCount,
)
from ioc.feeds.cameras.schema import CAMERA_SPECS, RAW_CAMERA_TABLES, apply_camera_shake, apply_cameras
from ioc.feeds.cameras.settings import CameraRules
from ioc.feeds.cameras.traffic_schema import LANE_OCCUPANCY, TRAFFIC_COUNTS, apply_traffic_tables
from ioc.store.tables import Migration

SPEC = FeedSpec(
    name="cameras",
    rule_titles={
        "intrusion": "Intrusion",
        "crowd": "Crowd",
        "congestion": "Congestion",
        "camera_fault": "Camera fault",
        "camera": "Camera rule",
        "wrong_way": "Wrong-way movement",
        "no_stopping": "Stopped in a no-stopping zone",
        "lane_congestion": "Lane congestion",
    },
    title="Cameras",
    events=(CameraDetection, CameraFrameStats, CameraKeyFrame, TrafficCount, LaneOccupancy),
    topics={
        "camera.detection": "ioc.cameras.detections",
        "camera.frame_stats": "ioc.cameras.frame_stats",
        "camera.keyframe": "ioc.cameras.keyframes",
        "camera.traffic_count": "ioc.cameras.traffic_counts",
        "camera.lane_occupancy": "ioc.cameras.lane_occupancy",
    },
    tables=(*CAMERA_SPECS, TRAFFIC_COUNTS, LANE_OCCUPANCY),
    migrations=(
        Migration(1, "camera detections, counts, key frames and health", apply_cameras),
        Migration(2, "camera frame statistics keep the shake", apply_camera_shake),
        Migration(3, "traffic counts across lines and lane occupancy per minute", apply_traffic_tables),
    ),
    raw_tables=RAW_CAMERA_TABLES,
    rules=CameraRules,
)
