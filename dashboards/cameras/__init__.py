"""The camera wall: every camera's latest annotated key frame, its health and counts, one screen.

A Dash app of its own on the wall's Flask server, under ``/cameras/`` (see
:func:`create_camera_page`). One 1920x1080 screen without scrolling, dark like the wall:

- a header (city, page, how many cameras are live, offline, faulty, with open alerts; data
  time; a clock that says when updates stop; a link back to the wall),
- a grid of tiles, one per camera (the configured ones, then any other that reports): the
  newest key frame (boxes and zones already drawn by the worker), name and area, health
  (live or offline, frames per second in, age of the last frame), the worst open alert,
  and the counts of the newest counted minute per class, whole frame and per zone. A camera
  that is offline, or has an open camera-fault alert, or whose newest frame statistics look
  dark, frozen or blurred, gets a red border and a label saying which,
- a click on a tile (or Enter, or its number key) opens the camera large: the bigger key
  frame, its counts per minute over the last hour per class and zone (with the levels of the
  crowd and congestion rules that watch it), its health figures, its open and recent
  alerts. Esc or the close button goes back.

Everything is read from the store (:mod:`ioc.store.camera_queries`); key frame files are
served by :func:`install_frame_route` from ``vision.keyframes_dir`` only, never outside it.
A tile's image URL carries the key frame's time, so the browser fetches a new frame when
there is one and revalidates (``no-cache``) otherwise. The tiles refresh every
``web.refresh_ms`` (2 s) by replacing their children in place; no page reload.
"""

from __future__ import annotations

from dashboards.cameras.callbacks import (
    register_callbacks,
)
from dashboards.cameras.figures import (
    STATE_LABELS,
    alert_rows,
    count_figure,
    health_facts,
)
from dashboards.cameras.health import (
    FaultLimits,
    Health,
    HealthState,
    camera_health,
    fault_limits,
)
from dashboards.cameras.layout import (
    layout,
)
from dashboards.cameras.model import (
    CHART_MINUTES,
    DETAIL_ALERTS,
    FAULT_NAMES,
    FRAME_PREFIX,
    GRAPH_CONFIG,
    LABEL_COLOURS,
    LABEL_NAMES,
    OTHER_COLOUR,
    PREFIX,
    RULE_COLOUR,
    STALE_COUNTS,
    ZONE_DASHES,
    CameraCounts,
    CameraInfo,
    CameraView,
    counts_by_camera,
    frame_url,
    grid_shape,
    label_colour,
    label_name,
    label_sort_key,
    safe_frame_path,
)
from dashboards.cameras.routes import (
    attach,
    create_camera_page,
    install_frame_route,
)
from dashboards.cameras.tiles import (
    TILE_PARTS,
    TileUpdate,
    alert_strip,
    counts_block,
    frame_caption,
    tile_class,
    tile_update,
)

__all__ = [
    "CHART_MINUTES",
    "CameraCounts",
    "CameraInfo",
    "CameraView",
    "DETAIL_ALERTS",
    "FAULT_NAMES",
    "FRAME_PREFIX",
    "FaultLimits",
    "GRAPH_CONFIG",
    "Health",
    "HealthState",
    "LABEL_COLOURS",
    "LABEL_NAMES",
    "OTHER_COLOUR",
    "PREFIX",
    "RULE_COLOUR",
    "STALE_COUNTS",
    "STATE_LABELS",
    "TILE_PARTS",
    "TileUpdate",
    "ZONE_DASHES",
    "alert_rows",
    "alert_strip",
    "attach",
    "camera_health",
    "count_figure",
    "counts_block",
    "counts_by_camera",
    "create_camera_page",
    "fault_limits",
    "frame_caption",
    "frame_url",
    "grid_shape",
    "health_facts",
    "install_frame_route",
    "label_colour",
    "label_name",
    "label_sort_key",
    "layout",
    "register_callbacks",
    "safe_frame_path",
    "tile_class",
    "tile_update",
]
