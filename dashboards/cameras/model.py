"""What the camera page's parts share: labels, colours, the grid, key frame paths, counts, the view."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg

from dashboards.i18n import t
from ioc.config import Settings
from ioc.store import camera_queries as cq

log = logging.getLogger(__name__)


PREFIX = "/cameras/"
FRAME_PREFIX = f"{PREFIX}frame/"
CHART_MINUTES = 60
DETAIL_ALERTS = 12
STALE_COUNTS = timedelta(minutes=2)  # counts whose newest minute is older are shown as old

# what a tile calls a detector label, in the order tiles list them (others after, alphabetically)
LABEL_NAMES: dict[str, str] = {
    "person": "People", "vehicle": "Vehicles", "car": "Cars", "motorcycle": "Motorbikes",
    "bicycle": "Bicycles", "bus": "Buses", "truck": "Trucks", "motion": "Motion",
}
# the colours the camera workers draw boxes in (ingest/cameras/keyframes.py, there in BGR), so a
# count's swatch matches its boxes on the frame; other labels are drawn light grey
LABEL_COLOURS: dict[str, str] = {
    "person": "#3cc83c", "motion": "#ffa000", "car": "#008cff", "truck": "#005aff", "bus": "#3c3cff",
    "motorcycle": "#c800c8", "bicycle": "#00c8c8",
}
OTHER_COLOUR = "#dcdcdc"
RULE_COLOUR = "#ff5a5f"  # the level of a crowd or congestion rule on the count chart
ZONE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
FAULT_NAMES = {"offline": "offline", "dark": "dark", "frozen": "frozen", "blurred": "blurred"}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True, "scrollZoom": False, "showTips": False,
                "doubleClick": False}


def label_name(label: str, lang: str = "en") -> str:
    """``person`` -> ``People`` (in ``lang``); unknown labels capitalised."""
    return t(LABEL_NAMES[label], lang) if label in LABEL_NAMES else label.replace("_", " ").capitalize()


def label_colour(label: str) -> str:
    """The colour of a label's boxes on the key frames."""
    return LABEL_COLOURS.get(label, OTHER_COLOUR)


def label_sort_key(label: str) -> tuple[int, str]:
    """People first, then vehicles, ..., motion last; unknown labels before motion, alphabetically."""
    order = list(LABEL_NAMES)
    if label in order:
        rank = order.index(label)
        return (rank if label != "motion" else len(order) + 1), label
    return len(order), label


def grid_shape(n: int) -> tuple[int, int]:
    """Columns and rows of the tile grid for ``n`` cameras on a 16:9 screen (up to 12 fit well)."""
    n = max(n, 1)
    if n <= 3:
        return n, 1
    if n == 4:
        return 2, 2
    if n <= 6:
        return 3, 2
    if n <= 8:
        return 4, 2
    if n == 9:
        return 3, 3
    if n <= 12:
        return 4, 3
    cols = math.ceil(math.sqrt(n * 16 / 9))
    return cols, math.ceil(n / cols)


def frame_url(keyframe: cq.KeyFrameRow | None) -> str | None:
    """The URL of a key frame, with its time as a query string so a new frame is fetched anew."""
    if keyframe is None:
        return None
    stamp = int(keyframe.time.timestamp() * 1000)
    return f"{FRAME_PREFIX}{quote(keyframe.path, safe='/')}?t={stamp}"


def safe_frame_path(root: Path | str, camera_id: str, name: str) -> Path | None:
    """The file ``<root>/<camera_id>/<name>`` if it is a JPEG inside ``root``, else None.

    The path is resolved (``..`` and symbolic links followed) before the check, so neither a
    ``..`` in the URL nor a link inside the folder can reach a file outside ``root``.
    """
    if not camera_id or camera_id in {".", ".."} or not name.lower().endswith((".jpg", ".jpeg")):
        return None
    try:
        base = Path(root).resolve()
        path = (base / camera_id / name).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if not path.is_relative_to(base) or path == base:
        return None
    return path


@dataclass(frozen=True)
class CameraCounts:
    """The newest counted minute of one camera: peak objects per frame by label, whole frame and zones."""

    bucket: datetime | None = None
    whole: dict[str, int] = field(default_factory=dict)
    zones: dict[str, dict[str, int]] = field(default_factory=dict)


def counts_by_camera(rows: Sequence[cq.CountRow]) -> dict[str, CameraCounts]:
    """Group :func:`~ioc.store.camera_queries.latest_counts` rows per camera (no-zone rows left out)."""
    out: dict[str, CameraCounts] = {}
    for r in rows:
        cur = out.setdefault(r.camera_id, CameraCounts(bucket=r.bucket))
        if r.zone == "*":
            cur.whole[r.label] = r.max_count
        elif r.zone:
            cur.zones.setdefault(r.zone, {})[r.label] = r.max_count
    return out


@dataclass(frozen=True)
class CameraInfo:
    """A camera as the page lists it: from the settings, or only seen in the store."""

    id: str
    name: str
    area: str = ""
    zones: tuple[str, ...] = ()
    restricted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CameraView:
    """What the page's layout, callbacks and frame route share."""

    pool: Any
    settings: Settings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def keyframes_dir(self) -> Path:
        return Path(self.settings.vision.keyframes_dir)

    def configured(self) -> list[CameraInfo]:
        """The enabled cameras of the settings, in their order."""
        return [
            CameraInfo(cam.id, cam.name or cam.id, cam.area, tuple(z.name for z in cam.zones),
                       frozenset(z.name for z in cam.zones if z.restricted))
            for cam in self.settings.cameras if cam.enabled
        ]

    def cameras(self, snapshot: cq.CameraStatuses | None = None) -> list[CameraInfo]:
        """Configured cameras first, then any camera that reports without being configured."""
        cams = self.configured()
        known = {cam.id for cam in cams} | {cam.id for cam in self.settings.cameras}
        if snapshot is None:
            try:
                snapshot = cq.camera_statuses(self.pool)
            except psycopg.Error as exc:
                log.warning("cameras: could not list reporting cameras: %s", exc)
                return cams
        seen = [CameraInfo(s.camera_id, s.camera_id) for s in snapshot.cameras if s.camera_id not in known]
        return cams + seen

    def info(self, camera_id: str) -> CameraInfo:
        """The camera as configured, or only its id when it is not."""
        found = (cam for cam in self.configured() if cam.id == camera_id)
        return next(found, CameraInfo(camera_id, camera_id))

    def rule_levels(self, camera_id: str) -> list[tuple[str, str, float]]:
        """``(rule kind, zone or '*', level)`` of the crowd and congestion rules watching this camera."""
        out = []
        for kind in ("crowd", "congestion"):
            for rule in getattr(self.settings.rules, kind):
                if (rule.cameras and camera_id not in rule.cameras) or rule.above is None:
                    continue
                out.append((kind, str(rule.zone or "*"), float(rule.above)))
        return out
