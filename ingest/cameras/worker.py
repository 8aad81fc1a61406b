"""Drive one camera: frames in, detections and frame statistics out on the bus, key frames to disk.

For every sampled frame (``analysed_fps``) :class:`CameraWorker`:

1. measures frame statistics (brightness, sharpness, change) and motion (MOG2);
2. runs the camera's object detector when the motion gate lets it (motion above
   ``motion_threshold``, or ``max_gated_seconds`` since the last run; always without gating);
3. publishes one :class:`~ioc.feeds.cameras.records.CameraDetection` per object (key = camera id; ``zone`` =
   the first configured zone holding the box's bottom centre), then one
   :class:`~ioc.feeds.cameras.records.CameraFrameStats`;
4. every ``keyframe_every_s`` writes a JPEG with boxes and publishes a
   :class:`~ioc.feeds.cameras.records.CameraKeyFrame` naming it;
5. with counting lines or lanes configured, feeds the frame to the camera's
   :class:`~ingest.cameras.traffic.TrafficMeter` and publishes each finished minute's
   ``camera.traffic_count`` and ``camera.lane_occupancy`` records (the store keeps them, the
   lane congestion rule judges them).

Gated frames publish no detections (only their stats). Frames never go on the bus. While the
camera is down, a ``connected=false`` stats record goes out every ``heartbeat_s``, so the
fault rules see the outage in event time. Per-interval counts per class and zone are not
published: the store computes them from the detections (``camera_counts_1m``). Nothing a
camera, a detector or the bus does stops the worker: it is counted in :attr:`health`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingest.cameras.analysis import FrameStatsMeter, MotionGate
from ingest.cameras.backends import Detection, ObjectDetector, build_detector
from ingest.cameras.capture import CameraCapture, CapturedFrame, utc_now
from ingest.cameras.http_mjpeg import shown_url
from ingest.cameras.keyframes import KeyframeWriter, caption_time, draw, fit
from ingest.cameras.traffic import TrafficMeter
from ingest.publishing import PendingPublisher
from ioc.bus.base import Publisher
from ioc.camera_settings import CameraSettings, VisionSettings
from ioc.events import Event
from ioc.feeds.cameras.records import Box, CameraDetection, CameraFrameStats, CameraKeyFrame
from ioc.health import FeedHealth, feed_state
from ioc.topics import DEAD_LETTERS, TOPIC_BY_KIND

log = logging.getLogger(__name__)

FRAME_STATS_TOPIC = TOPIC_BY_KIND["camera.frame_stats"]
KEYFRAMES_TOPIC = TOPIC_BY_KIND["camera.keyframe"]
TRAFFIC_COUNTS_TOPIC = TOPIC_BY_KIND["camera.traffic_count"]
LANE_OCCUPANCY_TOPIC = TOPIC_BY_KIND["camera.lane_occupancy"]

MAX_PENDING = 50_000
DETECTIONS_TOPIC = TOPIC_BY_KIND["camera.detection"]
Outgoing = tuple[str, str | None, bytes]


def camera_dead_letter(camera_id: str, reason: str, payload: str, now: datetime) -> bytes:
    """A dead-letter value in the shape every ingest worker uses (stage, feed, reason, payload, time)."""
    return json.dumps(
        {"stage": "ingest", "feed": f"camera:{camera_id}", "reason": reason[:1024],
         "payload": payload[:65536], "time": now.astimezone(UTC).isoformat()},
        ensure_ascii=False,
    ).encode()


@dataclass
class FrameResult:
    """What one frame became: the records to publish and what was seen."""

    detections: list[Detection] = field(default_factory=list)
    records: list[Event] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (reason, payload)
    analysed: bool = False
    keyframe: str | None = None


class CameraWorker:
    """Analyses one camera's frames and publishes what it sees; keeps a health record; never raises."""

    def __init__(
        self,
        camera: CameraSettings,
        publisher: Publisher,
        *,
        vision: VisionSettings | None = None,
        samples_dir: Path | None = None,
        detector: ObjectDetector | None = None,
        capture: CameraCapture | None = None,
        clock: Callable[[], datetime] = utc_now,
        timezone: str = "UTC",
    ) -> None:
        self.camera = camera
        self.timezone = timezone  # the city's: key frames carry its local time, as the pages show
        self.publisher = publisher
        self.vision = vision or VisionSettings()
        self.clock = clock
        self.detector = detector if detector is not None else build_detector(camera, vision=self.vision)
        self.capture = capture or CameraCapture(
            camera.id,
            camera.resolved_url(samples_dir),
            analysed_fps=camera.analysed_fps,
            is_file=camera.is_file(),
            loop=camera.loop,
            realtime=camera.realtime,
            backoff_initial=self.vision.backoff_initial,
            backoff_max=self.vision.backoff_max,
            open_timeout_s=self.vision.open_timeout_s,
            read_timeout_s=self.vision.read_timeout_s,
            max_frame_bytes=self.vision.max_frame_bytes,
            max_frame_pixels=self.vision.max_frame_pixels,
            clock=clock,
        )
        self.meter = FrameStatsMeter(self.vision.stats_width)
        self.gate = MotionGate(
            threshold=camera.motion_threshold,
            max_gated_seconds=camera.max_gated_seconds if camera.motion_gating else 0.0,
            width=self.vision.stats_width,
        )
        self.keyframes = KeyframeWriter(
            self.vision.keyframes_dir, camera.id, every_s=camera.keyframe_every_s,
            keep=camera.keyframes_keep, quality=camera.keyframe_quality,
            max_dim=camera.keyframe_max_dim, max_bytes=int(camera.keyframes_max_mb * 1_000_000),
        )
        self.traffic = TrafficMeter(camera)
        self.out = PendingPublisher(publisher, f"camera {camera.id}", max_pending=MAX_PENDING)
        self._reconnects_seen = 0
        self._last_heartbeat: datetime | None = None
        self.health: dict[str, Any] = {
            **self.capture.health,
            "detector": getattr(self.detector, "name", type(self.detector).__name__),
            "frames_gated": 0,
            "frames_detected": 0,
            "detections": 0,
            "detect_ms": None,
            "detect_warmup_ms": None,
            "detector_errors": 0,
            "keyframes": 0,
            "published": 0,
            "publish_errors": 0,
            "dead_letters": 0,
            "pending": 0,
            "dropped": 0,
        }
        """Live counters: the capture's (``connected``, ``fps_in``, ``fps_analysed``,
        ``last_frame_time``, ``reconnects``, ``errors``, ...) plus ``frames_gated`` (skipped by
        the motion gate), ``frames_detected``, ``detections``, ``detect_ms`` (moving average from
        the second run on), ``detect_warmup_ms`` (the first run: model warm-up, lazy loading),
        ``detector_errors``, ``keyframes``, ``published``, ``publish_errors``, ``pending``."""

    # -- one frame -------------------------------------------------------------------------
    def process(self, frame: CapturedFrame) -> FrameResult:
        """Analyse one frame: statistics, motion gate, detector, zones, key frame. No publishing."""
        result = FrameResult()
        image, when = frame.image, frame.time
        if image.ndim < 2 or image.size == 0:  # nothing to measure: counted, never a crash
            self.capture.bad_frame(f"empty frame {image.shape}")
            self.health.update(self.capture.health)
            return result
        height, width = image.shape[:2]
        stats = self.meter.measure(image)
        run = self.gate.should_detect(image, when)  # always True without gating (max_gated_seconds 0)
        if run:
            started = time.perf_counter()
            try:
                result.detections = self.detector.detect(image)
                result.analysed = True
            except Exception as exc:  # one bad frame or a backend hiccup must not stop the camera
                self.health["detector_errors"] += 1
                self.health["last_error"] = f"detector failed: {type(exc).__name__}: {exc}"
                log.exception("camera %s: detector failed", self.camera.id)
            elapsed = (time.perf_counter() - started) * 1000
            if self.health["frames_detected"] == 0:  # the first run pays for the model's warm-up
                self.health["detect_warmup_ms"] = round(elapsed, 2)
            else:
                prev = self.health["detect_ms"]
                self.health["detect_ms"] = round(elapsed if prev is None else 0.8 * prev + 0.2 * elapsed, 2)
            self.health["frames_detected"] += 1
        else:
            self.health["frames_gated"] += 1
        for det in result.detections:
            record = self._detection_record(det, when, width, height)
            if isinstance(record, str):
                result.rejects.append((record, repr(det)))
            else:
                result.records.append(record)
        result.records.append(
            CameraFrameStats(
                time=when, source_id=self.camera.id, connected=True,
                brightness=stats.brightness, sharpness=stats.sharpness, change=stats.change,
                motion=min(1.0, self.gate.last_ratio), analysed=result.analysed,
                detections=len(result.detections), fps_in=frame.fps_in,
                frame_width=width, frame_height=height, shake=stats.shake,
            )
        )
        detections = [r for r in result.records if isinstance(r, CameraDetection)]
        result.records.extend(self.traffic.frame(when, detections, result.analysed))
        if self.keyframes.due(when):
            try:
                caption = f"{self.camera.name or self.camera.id}  {caption_time(when, self.timezone)}"
                small, scale = fit(image, self.keyframes.max_dim)  # draw at the size that is kept
                drawn = draw(small, result.detections, self.camera.areas(), caption, scale=scale)
                path, size = self.keyframes.write(drawn, when)
                result.keyframe = path
                self.health["keyframes"] += 1
                result.records.append(
                    CameraKeyFrame(time=when, source_id=self.camera.id, path=path, width=drawn.shape[1],
                                   height=drawn.shape[0], detections=len(result.detections),
                                   size_bytes=size)
                )
            except OSError as exc:
                self.health["errors"] += 1
                self.health["last_error"] = f"key frame not written: {exc}"
                log.warning("camera %s: key frame not written: %s", self.camera.id, exc)
        self.health["detections"] += len(result.detections)
        return result

    def _detection_record(
        self, det: Detection, when: datetime, width: int, height: int
    ) -> CameraDetection | str:
        """The bus record of one detection, or the reason it is unusable."""
        x1, y1, x2, y2 = det.box
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2, det.score)):
            return "detection with a non-finite box or score"
        fx, fy = (x1 + x2) / 2 / width, y2 / height
        zone = self.camera.zone_of(min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0))
        try:
            return CameraDetection(
                time=when, source_id=self.camera.id, label=det.label,
                score=min(1.0, max(0.0, det.score)), box=Box(x1=x1, y1=y1, x2=x2, y2=y2),
                track_id=det.track_id, zone=zone, frame_width=width, frame_height=height,
            )
        except ValidationError as exc:
            return f"invalid detection: {exc.errors()[0]['msg']}"

    # -- the loop --------------------------------------------------------------------------
    def step(self, stop: threading.Event | None = None) -> int:
        """Take the next sampled frame (waiting up to ``heartbeat_s``), analyse and publish it.

        Returns the number of detections published (0 for a gated frame or no frame).
        """
        frame = self.capture.next_frame(stop, timeout=self.camera.heartbeat_s)
        self.health.update(self.capture.health)
        if self.capture.health["reconnects"] != self._reconnects_seen:
            self._reconnects_seen = self.capture.health["reconnects"]
            self.meter.reset()
        batch: list[Outgoing] = []
        published = 0
        if frame is None:
            now = self.clock()
            if not self.capture.connected and (
                self._last_heartbeat is None
                or (now - self._last_heartbeat).total_seconds() >= self.camera.heartbeat_s
            ):
                self._last_heartbeat = now
                beat = CameraFrameStats(time=now, source_id=self.camera.id, connected=False)
                batch.append((FRAME_STATS_TOPIC, self.camera.id, beat.to_wire()))
        else:
            result = self.process(frame)
            for record in result.records:
                batch.append((self._topic(record), self.camera.id, record.to_wire()))
            for reason, payload in result.rejects:
                batch.append((DEAD_LETTERS, f"camera:{self.camera.id}",
                              camera_dead_letter(self.camera.id, reason, payload, frame.time)))
            published = sum(1 for r in result.records if isinstance(r, CameraDetection))
        self._publish(batch)
        return published

    @staticmethod
    def _topic(record: Event) -> str:
        return TOPIC_BY_KIND[record.kind]  # type: ignore[attr-defined]

    def finish(self) -> None:
        """Publish the minutes still open (the end of a file that does not loop)."""
        records = self.traffic.flush()
        self._publish([(self._topic(r), self.camera.id, r.to_wire()) for r in records])

    def _publish(self, batch: list[Outgoing]) -> None:
        """Queue ``batch`` behind the records kept from a failed try and publish them all (every step
        tries again: the capture paces the camera); kept up to the cap, the oldest dropped, counted."""
        for record in batch:
            self.out.add(*record)
        if not self.out.pending:
            return
        if not self.out.flush(force=True):
            self.health["last_error"] = self.out.last_error
        self.health.update(published=sum(self.out.published.values()), publish_errors=self.out.publish_errors,
                           pending=len(self.out.pending), dropped=self.out.dropped,
                           dead_letters=self.out.count(dead_letters=True))

    def feed_health(self) -> FeedHealth:
        """The typed health record of this camera (see :mod:`ioc.health`)."""
        h = self.health
        typed = {"published", "pending", "dropped", "dead_letters", "last_error", "last_frame_time"}
        return FeedHealth(
            feed=f"camera:{self.camera.id}", worker="camera",
            state=feed_state(live=True, connected=bool(h.get("connected")), failing=self.out.failing),
            last_data_time=h.get("last_frame_time"), received=int(h.get("frames_in", 0)),
            published=self.out.count(), dead_lettered=self.out.count(dead_letters=True),
            pending=len(self.out.pending), dropped=self.out.dropped,
            errors=int(h.get("errors", 0)) + h["detector_errors"] + self.out.publish_errors,
            last_error=h.get("last_error"), details={k: v for k, v in h.items() if k not in typed},
        )

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set, then release the camera."""
        log.info("camera %s: worker started (%s, %s)", self.camera.id, shown_url(self.camera.url),
                 self.health["detector"])
        try:
            while not stop.is_set():
                try:
                    self.step(stop)
                except Exception:  # pragma: no cover - step does not raise; belt and braces
                    log.exception("camera %s: step failed", self.camera.id)
                    stop.wait(1.0)
                if self.capture.finished:
                    log.info("camera %s: end of %s (loop = false)", self.camera.id,
                             shown_url(self.camera.url))
                    self.finish()
                    break
        finally:
            self.capture.close()
            self.health.update(self.capture.health)
            log.info("camera %s: worker stopped", self.camera.id)
