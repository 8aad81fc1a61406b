"""What an incident looked like: a track map for a maritime incident, key frames for a camera one.

Read for the incidents a report lists: the vessels its alerts name (MMSIs in their source and
fingerprint) tracked from an hour before to a quarter of an hour after it, drawn as an SVG map; the
key frames its cameras wrote around it, embedded in the report (so the HTML and its PDF stand alone).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.links import DETECTOR_FEEDS
from dashboards.reports.charts import track_map
from ioc.store import replay_queries as rq

MMSI = re.compile(r"(?<!\d)\d{9}(?!\d)")
BEFORE, AFTER = timedelta(hours=1), timedelta(minutes=15)
FRAME_MARGIN = timedelta(minutes=5)
MAX_FRAME_BYTES = 2_000_000


@dataclass
class Frame:
    camera_id: str
    time: datetime
    src: str  # a data: URI of the JPEG


@dataclass
class IncidentMedia:
    track: str | None = None  # SVG
    frames: list[Frame] = field(default_factory=list)


def _frame_src(folder: Path, relative: str) -> str | None:
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() not in (".jpg", ".jpeg") or not path.is_file():
        return None
    data = path.read_bytes()
    if len(data) > MAX_FRAME_BYTES:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def incident_media(pool: Any, incidents: list[dict[str, Any]], keyframes_dir: Path | None, title: str,
                   frames_per_incident: int = 4) -> dict[int, IncidentMedia]:
    """Incident id -> its track map and key frames (only incidents that have one or the other)."""
    ids = [i["id"] for i in incidents]
    if not ids:
        return {}
    with pool.connection() as conn:
        rows = conn.execute("SELECT incident_id, detector, source_id, fingerprint FROM alerts "
                            "WHERE incident_id = ANY(%s)", (ids,)).fetchall()
    out: dict[int, IncidentMedia] = {}
    for incident in incidents:
        mine = [r for r in rows if r[0] == incident["id"]]
        media = IncidentMedia()
        feeds = [(DETECTOR_FEEDS.get(detector), source, fp) for _, detector, source, fp in mine]
        mmsis = sorted({int(m) for feed, source, fp in feeds if feed == "vessels"
                        for m in MMSI.findall(f"{source} {fp}")})
        if mmsis:
            tracks = rq.tracks_until(pool, incident["last_at"] + AFTER, since=incident["first_at"] - BEFORE,
                                     mmsis=mmsis)
            if tracks:
                lines = {m: [(p.lon, p.lat) for p in pts] for m, pts in tracks.items()}
                media.track = track_map(lines, title)
        cameras = sorted({source for feed, source, _ in feeds if feed == "cameras"})
        if cameras and keyframes_dir is not None:
            for f in rq.keyframes_between(pool, incident["first_at"] - FRAME_MARGIN,
                                          incident["last_at"] + FRAME_MARGIN, cameras, frames_per_incident):
                src = _frame_src(Path(keyframes_dir), f.path)
                if src is not None:
                    media.frames.append(Frame(f.camera_id, f.time, src))
        if media.track or media.frames:
            out[incident["id"]] = media
    return out
