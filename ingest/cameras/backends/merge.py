"""One object, one detection: boxes of related labels that overlap almost fully are merged.

A detector's NMS runs per class, so one van can come out as ``truck`` 0.50 and ``car`` 0.46 on
the same box (IoU 0.98), each with its own track id, and be counted twice. :func:`merge_overlaps`
keeps, of boxes whose labels are the same or in one group (``[["car", "truck", "bus"], ...]``)
and whose IoU is at least ``min_iou``, the one with the highest score. Unrelated labels (a
person on a motorcycle) are never merged.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.cameras.backends.tracking import Box, iou

Candidate = tuple[str, float, Box]  # label, score, box


def related(a: str, b: str, groups: Sequence[Sequence[str]]) -> bool:
    """Whether two labels may name one object: the same label, or both in one group."""
    return a == b or any(a in group and b in group for group in groups)


def merge_overlaps(candidates: Sequence[Candidate], groups: Sequence[Sequence[str]],
                   min_iou: float = 0.7) -> list[int]:
    """Indices of the candidates to keep (in their order): the best of each group of one object."""
    order = sorted(range(len(candidates)), key=lambda i: candidates[i][1], reverse=True)
    kept: list[int] = []
    for i in order:
        label, _, box = candidates[i]
        if all(not related(label, candidates[k][0], groups) or iou(box, candidates[k][2]) < min_iou
               for k in kept):
            kept.append(i)
    return sorted(kept)
