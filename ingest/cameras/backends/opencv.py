"""The ``opencv`` backend: motion blobs (MOG2), people confirmed by HOG; no weights to load.

1. MOG2 background subtraction on a copy ``work_width`` pixels wide; opening then closing
   joins a walker's fragments; each outer contour larger than ``min_blob_area`` (fraction of
   the frame) is a moving blob.
2. With ``hog`` on, each blob's neighbourhood is cut out and scaled so a person in it is about
   HOG's window height (OpenCV's default people detector, a 64x128 window), and HOG runs on
   that crop only: far cheaper than HOG on the whole frame, and it finds people smaller than
   the window. People found become ``person`` detections (score: the SVM margin mapped to
   0..1, ``0.5 + margin / 4``, clipped); a blob that holds no person becomes ``motion``
   (score: the fraction of its box that is foreground).
3. An :class:`~ingest.cameras.backends.tracking.IouTracker` gives track ids.

Whole-frame motion is not objects: when the picture itself moved since the previous frame
(:func:`~ingest.cameras.analysis.global_shift` above ``max_shift`` % of the width: a shaking
or panning camera), or more than ``max_foreground`` of the pixels are foreground (the camera
moved, the light jumped), the frame yields no blobs (:attr:`OpenCVDetector.rejected` counts
them); the worker reports the shaking as a frame statistic, for the camera fault rules.

Needs ``opencv-python-headless`` 4.x: 5.x has no ``HOGDescriptor``.
"""

from __future__ import annotations

import cv2
import numpy as np

from ingest.cameras.analysis import global_shift
from ingest.cameras.backends import BackendError, Detection, relabel
from ingest.cameras.backends.tracking import IouTracker, iou
from ioc.camera_settings import CameraSettings, VisionSettings

HOG_WINDOW_H = 128
HOG_TARGET_H = 112.0  # a person's height in the window of OpenCV's default people detector


def _nms(dets: list[Detection], threshold: float = 0.4) -> list[Detection]:
    kept: list[Detection] = []
    for det in sorted(dets, key=lambda d: d.score, reverse=True):
        if all(iou(det.box, k.box) < threshold for k in kept):
            kept.append(det)
    return kept


class OpenCVDetector:
    """Motion blobs and HOG people on CPU, with track ids."""

    name = "opencv"

    def __init__(
        self,
        *,
        min_blob_area: float = 0.0015,
        hog: bool = True,
        work_width: int = 320,
        hog_min_margin: float = 0.25,
        labels: dict[str, str] | None = None,
        classes: list[str] | None = None,
        history: int = 300,
        var_threshold: float = 25.0,
        max_shift: float = 0.3,
        max_foreground: float = 0.3,
        settle_frames: int = 2,
    ) -> None:
        if not hasattr(cv2, "HOGDescriptor"):
            raise BackendError(
                f"cv2 {cv2.__version__} has no HOGDescriptor: install opencv-python-headless<5 "
                "(scripts/setup_vision)"
            )
        self.min_blob_area = min_blob_area
        self.work_width = work_width
        self.hog_min_margin = hog_min_margin
        self.labels = dict(labels or {})
        self.classes = list(classes or [])
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=var_threshold, detectShadows=False
        )
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        self._hog: cv2.HOGDescriptor | None = None
        if hog:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._tracker = IouTracker(min_iou=0.25, max_missed=3)
        self.max_shift = max_shift
        self.max_foreground = max_foreground
        self.settle_frames = settle_frames
        self._prev_gray: np.ndarray | None = None
        self._unsettled = 0  # frames still to reject after the picture moved
        self.rejected = 0
        """Frames whose blobs were dropped as whole-frame motion."""
        self.last_shift: float | None = None
        """How far the picture moved before the last frame, % of its width (``None``: unknown)."""

    @classmethod
    def from_settings(cls, camera: CameraSettings, vision: VisionSettings | None = None) -> OpenCVDetector:
        """The backend for one camera's settings."""
        return cls(min_blob_area=camera.min_blob_area, hog=camera.hog, labels=camera.label_map(vision),
                   classes=camera.classes, max_shift=camera.max_global_shift,
                   max_foreground=camera.max_foreground)

    def blobs(self, frame: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """Moving blobs of this frame: ``(box in frame pixels, foreground fill 0..1)``."""
        h, w = frame.shape[:2]
        scale = self.work_width / w if w > self.work_width else 1.0
        small = cv2.resize(frame, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA) \
            if scale != 1.0 else frame
        mask = self._mog.apply(small)
        if self._camera_moved(small, mask):
            return []
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_area = self.min_blob_area * mask.shape[0] * mask.shape[1]
        out = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            if bw * bh < min_area or bw * bh > 0.5 * mask.size:  # a lighting jump is not an object
                continue
            fill = float(np.count_nonzero(mask[y:y + bh, x:x + bw])) / (bw * bh)
            out.append(((x / scale, y / scale, (x + bw) / scale, (y + bh) / scale), fill))
        return out

    def _camera_moved(self, small: np.ndarray, mask: np.ndarray) -> bool:
        """Whether this frame's foreground is whole-frame motion (shake, pan, light) and not objects.

        A frame after a move is rejected too for ``settle_frames``: the background model still
        holds the picture at its old place.
        """
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        first, prev, self._prev_gray = self._prev_gray is None, self._prev_gray, gray
        if first or prev is None:  # MOG2 calls the whole first frame foreground: nothing to judge
            self.last_shift = None
            return False
        shift = global_shift(prev, gray)
        self.last_shift = None if shift is None else 100.0 * float(np.hypot(*shift)) / gray.shape[1]
        moved = self.last_shift is not None and self.last_shift > self.max_shift
        flooded = float(np.count_nonzero(mask)) / mask.size > self.max_foreground
        if moved or flooded:
            self._unsettled = self.settle_frames + 1
        if self._unsettled > 0:
            self._unsettled -= 1
            self.rejected += 1
            return True
        return False

    def _people_in(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> list[Detection]:
        assert self._hog is not None
        fh, fw = frame.shape[:2]
        x1, y1, x2, y2 = box
        bh = max(y2 - y1, 8.0)
        cx = (x1 + x2) / 2
        half_w = max(x2 - x1, 0.5 * bh) * 0.7
        rx1, rx2 = int(max(0, cx - half_w)), int(min(fw, cx + half_w))
        ry1, ry2 = int(max(0, y1 - 0.25 * bh)), int(min(fh, y2 + 0.25 * bh))
        if rx2 - rx1 < 8 or ry2 - ry1 < 8:
            return []
        crop = frame[ry1:ry2, rx1:rx2]
        scale = HOG_TARGET_H / bh  # the blob is (mostly) one person tall
        scale = min(max(scale, 0.25), 4.0)
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        ch, cw = crop.shape[:2]
        pad_y, pad_x = max(0, HOG_WINDOW_H + 16 - ch), max(0, 64 + 16 - cw)
        if pad_x or pad_y:
            crop = cv2.copyMakeBorder(crop, pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2,
                                      cv2.BORDER_REPLICATE)
        rects, weights = self._hog.detectMultiScale(crop, winStride=(4, 4), padding=(8, 8), scale=1.1)
        people = []
        for (x, y, w, h), margin in zip(rects, np.ravel(weights), strict=False):
            if margin < self.hog_min_margin:
                continue
            x -= pad_x // 2
            y -= pad_y // 2
            # HOG's window has a margin around the person: keep the central part of it.
            bx1 = rx1 + (x + 0.15 * w) / scale
            bx2 = rx1 + (x + 0.85 * w) / scale
            by1 = ry1 + (y + 0.06 * h) / scale
            by2 = ry1 + (y + 0.94 * h) / scale
            people.append(Detection("person", float(min(1.0, 0.5 + margin / 4.0)),
                                    (max(0.0, bx1), max(0.0, by1), min(fw, bx2), min(fh, by2))))
        return people

    def detect(self, frame: np.ndarray) -> list[Detection]:
        raw: list[Detection] = []
        for box, fill in self.blobs(frame):
            people = self._people_in(frame, box) if self._hog is not None else []
            if people:
                raw.extend(people)
            else:
                raw.append(Detection("motion", round(min(1.0, fill), 3), box))
        people = _nms([d for d in raw if d.label == "person"])
        motion = [d for d in raw if d.label == "motion" and all(iou(d.box, p.box) < 0.3 for p in people)]
        kept: list[Detection] = []
        for det in people + motion:
            label = relabel(det.label, self.labels, self.classes)
            if label is not None:
                kept.append(Detection(label, det.score, det.box))
        ids = self._tracker.update([(d.label, d.box) for d in kept])
        return [Detection(d.label, d.score, d.box, tid) for d, tid in zip(kept, ids, strict=True)]
