"""A small IoU tracker: keeps an id on a box that overlaps its box of the previous frames.

Used by the ``opencv`` backend (ultralytics brings ByteTrack). Greedy matching by IoU within
a label; a track not matched for ``max_missed`` frames is dropped; ids start at 1 and never
repeat for one tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(slots=True)
class _Track:
    track_id: int
    label: str
    box: Box
    missed: int = 0


class IouTracker:
    """Assigns track ids to per-frame boxes."""

    def __init__(self, min_iou: float = 0.3, max_missed: int = 3) -> None:
        self.min_iou = min_iou
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, boxes: list[tuple[str, Box]]) -> list[int]:
        """Track ids for ``boxes`` (label, box) of one frame, in the same order."""
        pairs = sorted(
            (
                (iou(box, track.box), bi, ti)
                for bi, (label, box) in enumerate(boxes)
                for ti, track in enumerate(self._tracks)
                if track.label == label
            ),
            reverse=True,
        )
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for score, bi, ti in pairs:
            if score < self.min_iou:
                break
            if ids[bi] is not None or ti in used:
                continue
            track = self._tracks[ti]
            track.box, track.missed = boxes[bi][1], 0
            ids[bi] = track.track_id
            used.add(ti)
        for ti, track in enumerate(self._tracks):
            if ti not in used:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        out: list[int] = []
        for bi, (label, box) in enumerate(boxes):
            tid = ids[bi]
            if tid is None:
                tid = self._next_id
                self._next_id += 1
                self._tracks.append(_Track(tid, label, box))
            out.append(tid)
        return out
