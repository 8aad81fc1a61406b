"""Where each tracked object has been: the short history the rules that judge movement share."""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta
from typing import Any

from detectors.base import dump_time, load_time
from ioc.feeds.cameras.records import CameraDetection

Observation = tuple[datetime, float, float]  # time, box centre x, box centre y (pixels)


class TrackHistory:
    """Per (rule, camera), per track id, the box centres seen, sorted by time, kept for a while."""

    def __init__(self) -> None:
        self.tracks: dict[tuple[str, str], dict[int, list[Observation]]] = {}

    def remember(self, rule: str, event: CameraDetection, keep: timedelta) -> None:
        """Record the event's box centre and drop what is older than ``keep`` before it."""
        assert event.track_id is not None
        cx, cy = (event.box.x1 + event.box.x2) / 2, (event.box.y1 + event.box.y2) / 2
        tracks = self.tracks.setdefault((rule, event.source_id), {})
        seen = tracks.setdefault(event.track_id, [])
        if not any(t == event.time for t, _, _ in seen):
            insort(seen, (event.time, cx, cy))
        for tid in list(tracks):
            tracks[tid] = [o for o in tracks[tid] if o[0] >= event.time - keep]
            if not tracks[tid]:
                del tracks[tid]

    def of(self, rule: str, camera: str, track_id: int, until: datetime) -> list[Observation]:
        """The track's observations up to ``until``."""
        return [o for o in self.tracks.get((rule, camera), {}).get(track_id, []) if o[0] <= until]

    def dump(self) -> list[Any]:
        return [[rule, camera, tid, [[dump_time(t), x, y] for t, x, y in obs]]
                for (rule, camera), tracks in sorted(self.tracks.items())
                for tid, obs in sorted(tracks.items())]

    def load(self, raw: list[Any], rules: Any) -> None:
        """Restore from :meth:`dump` (tracks of rules no longer configured are left out)."""
        self.tracks = {}
        for rule, camera, tid, obs in raw:
            if rule in rules:
                loaded = [(load_time(t), float(x), float(y)) for t, x, y in obs]
                self.tracks.setdefault((rule, camera), {})[int(tid)] = sorted(
                    o for o in loaded if o[0] is not None)  # type: ignore[misc]
