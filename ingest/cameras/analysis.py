"""Cheap per-frame measurements: frame statistics for camera faults, and the motion gate.

Both work on a small grey copy of the frame (``width`` pixels wide, 160 by default), so their
numbers do not depend on the camera's resolution and cost well under a millisecond.

* :class:`FrameStatsMeter`: ``brightness`` (mean grey, 0..255: a covered or dead camera is
  near 0), ``sharpness`` (variance of the Laplacian: a blurred, fogged or defocused view is
  low), ``change`` (mean absolute grey difference to the previous frame: a frozen image is ~0).
  Seen on the samples at width 160: vtest sharpness ~1,800, blurred (Gaussian sigma 6) ~32;
  change 0.8-3.5 on live footage, exactly 0 for a repeated frame. ``shake``: the picture moving
  back and forth (see :func:`global_shift` and :class:`ShakeMeter`), in % of the frame width.
* :class:`MotionGate`: MOG2 background subtraction; the foreground fraction after a 3x3
  opening. The heavy detector runs only when it is above ``threshold``, and at least every
  ``max_gated_seconds`` so stationary objects are refreshed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np


def small_gray(image: np.ndarray, width: int) -> np.ndarray:
    """A grey copy ``width`` pixels wide (aspect kept), area-averaged; ``ValueError`` on an empty frame."""
    if image.ndim < 2 or image.size == 0:
        raise ValueError(f"empty frame (shape {image.shape})")
    h, w = image.shape[:2]
    height = max(1, int(round(h * width / w)))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA) if w != width else image
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small


def global_shift(prev: np.ndarray, gray: np.ndarray) -> tuple[float, float] | None:
    """How far the whole picture moved from ``prev`` to ``gray`` (grey, same size): ``(dx, dy)`` pixels.

    Corners of ``prev`` are followed into ``gray`` (pyramidal Lucas-Kanade), and one translation
    (with a little rotation and scale) is fitted to them with RANSAC, so people and vehicles
    moving in the scene are outliers and a still camera gives ~0 however busy the scene. ``None``
    when there is too little texture to tell, or no single motion explains most points (a cut).
    """
    if prev.shape != gray.shape or min(gray.shape[:2]) < 16:
        return None
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=200, qualityLevel=0.01, minDistance=4)
    if pts is None or len(pts) < 8:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, winSize=(15, 15), maxLevel=2)
    ok = status.ravel() == 1
    if int(ok.sum()) < 8:
        return None
    model, inliers = cv2.estimateAffinePartial2D(pts[ok], moved[ok], method=cv2.RANSAC,
                                                 ransacReprojThreshold=1.0)
    if model is None or inliers is None or float(inliers.mean()) < 0.3:
        return None
    return float(model[0, 2]), float(model[1, 2])


class ShakeMeter:
    """Back-and-forth motion of the picture over the last ``window`` frames.

    ``shake = (path - net) / n``: the distance the picture travelled frame to frame minus how
    far it got, per frame. A camera at rest gives 0, a pan (steady motion one way) ~0, a camera
    jittered by a few pixels every frame about the jitter. On vtest (640 wide, 2 fps) at the
    stats width: at rest 0.0; jittered by +-6 px 0.3-2.1 (x4 in frame pixels).
    """

    def __init__(self, window: int = 4) -> None:
        self._moves: deque[tuple[float, float]] = deque(maxlen=window)

    def add(self, shift: tuple[float, float] | None) -> float:
        """Record one frame's shift (``None``: unknown, taken as still); the shake in pixels."""
        self._moves.append(shift or (0.0, 0.0))
        path = sum(float(np.hypot(dx, dy)) for dx, dy in self._moves)
        net = float(np.hypot(sum(dx for dx, _ in self._moves), sum(dy for _, dy in self._moves)))
        return max(0.0, path - net) / len(self._moves)

    def reset(self) -> None:
        self._moves.clear()


@dataclass(frozen=True, slots=True)
class FrameStats:
    """What :class:`FrameStatsMeter` measured on one frame."""

    brightness: float
    sharpness: float
    change: float | None
    shake: float | None = None
    """Back-and-forth motion of the whole picture, % of the frame width per frame."""


class FrameStatsMeter:
    """Brightness, sharpness and change of consecutive frames of one camera."""

    def __init__(self, width: int = 160) -> None:
        self.width = width
        self._prev: np.ndarray | None = None
        self._shake = ShakeMeter()

    def measure(self, image: np.ndarray) -> FrameStats:
        """Measure one frame (and remember it for the next ``change``)."""
        gray = small_gray(image, self.width)
        brightness = float(gray.mean())
        sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
        change = shake = None
        if self._prev is not None and self._prev.shape == gray.shape:
            change = float(cv2.absdiff(gray, self._prev).mean())
            pixels = self._shake.add(global_shift(self._prev, gray))
            shake = 100.0 * pixels / gray.shape[1]
        self._prev = gray
        return FrameStats(brightness=min(255.0, brightness), sharpness=sharpness, change=change, shake=shake)

    def reset(self) -> None:
        """Forget the previous frame (after a reconnect the first change is unknown)."""
        self._prev = None
        self._shake.reset()


class MotionGate:
    """Decides whether a frame has motion worth running the object detector on."""

    def __init__(self, threshold: float = 0.002, max_gated_seconds: float = 5.0, width: int = 160,
                 history: int = 200, var_threshold: float = 16.0) -> None:
        self.threshold = threshold
        self.max_gated_seconds = max_gated_seconds
        self.width = width
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=var_threshold, detectShadows=False
        )
        self._kernel = np.ones((3, 3), np.uint8)
        self._frames = 0
        self._last_run: datetime | None = None
        self.last_ratio = 0.0

    def foreground(self, image: np.ndarray) -> float:
        """Update the background model with one frame; the fraction of pixels that moved."""
        mask = self._mog.apply(small_gray(image, self.width))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        self._frames += 1
        self.last_ratio = float(np.count_nonzero(mask)) / mask.size
        return self.last_ratio

    def should_detect(self, image: np.ndarray, when: datetime) -> bool:
        """Measure motion on ``image``; True when the detector should run on it.

        The first frame always runs (MOG2 calls everything foreground then), so does a frame
        ``max_gated_seconds`` after the last run, and any frame with motion above the threshold.
        """
        ratio = self.foreground(image)
        due = (
            self._frames == 1
            or self._last_run is None
            or (when - self._last_run).total_seconds() >= self.max_gated_seconds
        )
        if ratio > self.threshold or due:
            self._last_run = when
            return True
        return False
