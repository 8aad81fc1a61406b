"""Key frames: a JPEG per camera at a configured rate, boxes and zones drawn, kept for replay.

Files go under ``<keyframes_dir>/<camera id>/``: ``latest.jpg`` (replaced atomically, what a
wall tile shows) and ``<UTC time>.jpg`` (e.g. ``20260101T120000.250Z.jpg``), of which the
newest ``keep`` are kept, and no more than ``max_bytes`` on disk per camera (``latest.jpg``
included; the oldest go first, the newest is always kept). A frame larger than ``max_dim``
pixels on its longer side is scaled down before boxes are drawn on it (an 8K frame at
quality 80 is 1.5-2.6 MB; at 1280 pixels it is about 0.1-0.2 MB). This is file output of the
ingest worker; the bus carries only a :class:`~ioc.feeds.cameras.records.CameraKeyFrame` naming the file
(its ``width`` and ``height`` are the JPEG's).
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from ingest.cameras.backends import Detection
from ioc.camera_settings import CameraZone

log = logging.getLogger(__name__)

COLOURS: dict[str, tuple[int, int, int]] = {  # BGR
    "person": (60, 200, 60),
    "motion": (0, 160, 255),
    "car": (255, 140, 0),
    "truck": (255, 90, 0),
    "bus": (255, 60, 60),
    "motorcycle": (200, 0, 200),
    "bicycle": (200, 200, 0),
}
STAMP_FORMAT = "%Y%m%dT%H%M%S"


def ascii_caption(text: str) -> str:
    """Text OpenCV's Hershey fonts can draw: Vietnamese letters without their marks (Huế -> Hue)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return plain.encode("ascii", "replace").decode("ascii")


def keyframe_name(when: datetime) -> str:
    """File name of a key frame taken at ``when`` (UTC, millisecond precision, sorts by time)."""
    return f"{when.strftime(STAMP_FORMAT)}.{when.microsecond // 1000:03d}Z.jpg"


def caption_time(when: datetime, tz: str) -> str:
    """A key frame's time as burnt into the image: the city's local time with its offset
    (``2026-12-05 13:00:00 +07:00``), as the pages show it; UTC only when no zone is known."""
    local = when.astimezone(ZoneInfo(tz))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}" if offset else f"{local:%Y-%m-%d %H:%M:%S}"


def fit(image: np.ndarray, max_dim: int) -> tuple[np.ndarray, float]:
    """``image`` scaled down (area-averaged) so its longer side is at most ``max_dim``; and the scale."""
    h, w = image.shape[:2]
    longest = max(h, w)
    if max_dim <= 0 or longest <= max_dim:
        return image, 1.0
    scale = max_dim / longest
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def draw(image: np.ndarray, detections: Sequence[Detection], zones: Sequence[CameraZone] = (),
         caption: str = "", scale: float = 1.0) -> np.ndarray:
    """A copy of ``image`` with zones and lanes (restricted and no-stopping ones red), boxes, labels
    and track ids drawn.

    ``scale``: the image is the frame scaled by this much (boxes are in frame pixels).
    """
    out = image.copy()
    h, w = out.shape[:2]
    for zone in zones:
        pts = np.array([[int(x * w), int(y * h)] for x, y in zone.polygon], np.int32)
        red = zone.restricted or getattr(zone, "no_stopping", False)
        colour = (40, 40, 230) if red else (230, 200, 40)
        cv2.polylines(out, [pts], True, colour, 1, cv2.LINE_AA)
        origin = (int(pts[0][0]) + 3, int(pts[0][1]) + 14)
        cv2.putText(out, ascii_caption(zone.name), origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                    cv2.LINE_AA)
    for det in detections:
        x1, y1, x2, y2 = (int(round(v * scale)) for v in det.box)
        colour = COLOURS.get(det.label, (220, 220, 220))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        label = ascii_caption(det.label)
        text = label if det.track_id is None else f"{label} #{det.track_id}"
        text = f"{text} {det.score:.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        ty = max(th + 2, y1 - 2)
        cv2.rectangle(out, (x1, ty - th - 2), (x1 + tw + 2, ty + 2), colour, -1)
        cv2.putText(out, text, (x1 + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    if caption:
        caption = ascii_caption(caption)
        cv2.putText(out, caption, (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(out, caption, (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class KeyframeWriter:
    """Writes one camera's key frames, at most one every ``every_s`` seconds of frame time."""

    def __init__(self, root: str | Path, camera_id: str, every_s: float = 5.0, keep: int = 120,
                 quality: int = 80, max_dim: int = 1280, max_bytes: int = 50_000_000) -> None:
        if camera_id in {".", ".."} or "/" in camera_id:
            raise ValueError(f"camera id not usable as a folder name: {camera_id!r}")
        self.root = Path(root)
        self.camera_id = camera_id
        self.folder = self.root / camera_id
        self.every_s = every_s
        self.keep = keep
        self.quality = quality
        self.max_dim = max_dim
        self.max_bytes = max_bytes
        self._last: datetime | None = None
        self._files: deque[tuple[Path, int]] | None = None  # timestamped files, oldest first, with sizes
        self._latest_size = 0
        self.written = 0
        self.pruned = 0

    def due(self, when: datetime) -> bool:
        """True when a key frame taken at ``when`` should be written."""
        if self.every_s <= 0:
            return False
        return self._last is None or (when - self._last).total_seconds() >= self.every_s or when < self._last

    def _existing(self) -> deque[tuple[Path, int]]:
        if self._files is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            found = []
            for path in sorted(self.folder.glob("*Z.jpg")):
                try:
                    found.append((path, path.stat().st_size))
                except FileNotFoundError:
                    continue
            self._files = deque(found)
        return self._files

    def disk_bytes(self) -> int:
        """Bytes this camera's key frames take now (``latest.jpg`` included)."""
        return self._latest_size + sum(size for _, size in self._existing())

    def encode(self, image: np.ndarray) -> tuple[bytes, int, int]:
        """``image`` as a JPEG no larger than ``max_dim``: ``(bytes, width, height)``."""
        image, _ = fit(image, self.max_dim)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise OSError("JPEG encoding failed")
        return jpeg.tobytes(), image.shape[1], image.shape[0]

    def write(self, image: np.ndarray, when: datetime) -> tuple[str, int]:
        """Write ``image`` (already drawn) as the key frame of ``when``; ``(relative path, bytes)``.

        The image is scaled down to ``max_dim`` first if it is larger; then the oldest files go
        until at most ``keep`` remain and the camera's files fit in ``max_bytes``.
        """
        data, _, _ = self.encode(image)
        files = self._existing()
        latest_tmp = self.folder / ".latest.jpg.tmp"
        latest_tmp.write_bytes(data)
        os.replace(latest_tmp, self.folder / "latest.jpg")
        self._latest_size = len(data)
        name = "latest.jpg"
        if self.keep > 0:
            name = keyframe_name(when)
            path = self.folder / name
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path)
            if files and files[-1][0] == path:
                files.pop()
            files.append((path, len(data)))
        total = self.disk_bytes()
        while files and (len(files) > self.keep or (total > self.max_bytes and len(files) > 1)):
            old, size = files.popleft()
            total -= size
            self.pruned += 1
            try:
                old.unlink()
            except FileNotFoundError:
                pass
        self._last = when
        self.written += 1
        return f"{self.camera_id}/{name}", len(data)
