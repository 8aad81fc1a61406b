"""One detection model for every camera, run on frames batched across cameras.

Camera workers run in their own threads and call their detector's ``detect`` once per analysed
frame (after the motion gate: a gated frame never reaches the model). :class:`BatchRunner`
collects the frames that arrive within ``max_wait_s`` of the first (at most ``max_batch``),
runs the one shared model on them in one ``predict`` call, and hands each camera its own
result; labels, merging and ByteTrack stay per camera (:meth:`UltralyticsDetector.from_result`).
One batched call uses the cores better than N calls of one frame (one pre/post-processing
pass, larger matrix products), and only one thread runs the model at a time.

:class:`BatchedDetector` wraps a camera's :class:`~ingest.cameras.backends.yolo.UltralyticsDetector`
so the worker sees an ordinary ``ObjectDetector``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.cameras.backends import Detection
from ingest.cameras.backends.yolo import UltralyticsDetector


@dataclass
class _Job:
    detector: UltralyticsDetector
    frame: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Detection] | None = None
    error: BaseException | None = None


class BatchRunner:
    """Runs one shared model on frames from many cameras, a batch at a time."""

    def __init__(self, model: Any, *, imgsz: int = 640, confidence: float = 0.35, iou: float = 0.5,
                 device: str = "cpu", max_batch: int = 8, max_wait_s: float = 0.05) -> None:
        self.model = model
        self.imgsz, self.confidence, self.iou, self.device = imgsz, confidence, iou, device
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False
        self.batches: list[int] = []  # size of each batch run (for benchmarks and health)

    def detect(self, detector: UltralyticsDetector, frame: np.ndarray) -> list[Detection]:
        """``detector``'s detections on ``frame``, the model run in a batch with other cameras' frames."""
        job = _Job(detector, frame)
        with self._cond:
            self._queue.append(job)
            self._cond.notify_all()
        self._drive(job)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _drive(self, job: _Job) -> None:
        """The first waiting thread becomes the leader and runs batches until its own job is done."""
        while not job.done.is_set():
            with self._cond:
                if self._busy:
                    self._cond.wait(timeout=0.5)
                    continue
                self._busy = True
                deadline = time.monotonic() + self.max_wait_s
                while len(self._queue) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(timeout=left)
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _run(self, batch: list[_Job]) -> None:
        if not batch:
            return
        try:
            results = self.model.predict([j.frame for j in batch], conf=self.confidence, iou=self.iou,
                                         imgsz=self.imgsz, device=self.device, verbose=False)
        except Exception as exc:  # every camera of the batch learns why
            for j in batch:
                j.error = exc
                j.done.set()
            return
        self.batches.append(len(batch))
        for j, result in zip(batch, results, strict=True):
            try:
                j.result = j.detector.from_result(result, j.frame)
            except Exception as exc:
                j.error = exc
            j.done.set()


class BatchedDetector:
    """A camera's YOLO detector whose model runs through a shared :class:`BatchRunner`."""

    name = "ultralytics"

    def __init__(self, inner: UltralyticsDetector, runner: BatchRunner) -> None:
        self.inner = inner
        self.runner = runner

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return self.runner.detect(self.inner, frame)
