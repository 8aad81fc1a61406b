"""Traffic cameras on yolo11n: 8 cameras x 2 analysed fps, .pt (torch) vs ONNX Runtime, image sizes.

Run: .venv/bin/python bench/traffic_cameras.py [--cameras 8] [--rounds 3] [--sizes 640,480,320]

For each backend (``.pt`` on torch; ``.onnx`` on onnxruntime, exported at the start of the run
with a dynamic batch axis) and image size, on frames of the two sample clips (cameras alternate
``bikes.mp4`` / ``vtest.mp4``, each at 2 fps of its clip):

* **per frame**: one ``predict`` per frame (what each camera alone would do); the baseline;
* **batched**: one ``predict`` on the N cameras' frames at once (what ``ingest.cameras.batch``
  does); a frame's latency is its whole batch's.

Figures: frames/s the machine analyses, the ratio to the per-frame ``.pt`` 640 baseline of the
same run, whether N x 2 fps is held, p95 latency per frame, and recall against ``.pt`` 640 (share
of its detections found again at that size, same label, IoU >= 0.5). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_VERBOSE", "false")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_streams" / "cameras"
MODEL = Path(sys.prefix) / "share" / "ioc-models" / "yolo11n.pt"
CLASSES = {"person", "bicycle", "car", "motorcycle", "bus", "truck"}


def clip_frames(name: str, fps: float = 2.0) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SAMPLES / name))
    step = max(1, round((cap.get(cv2.CAP_PROP_FPS) or 25) / fps))
    out, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            return out
        if i % step == 0:
            out.append(frame)
        i += 1


def boxes(result) -> list[tuple[str, np.ndarray]]:
    names = result.names
    b = result.boxes.cpu().numpy()
    return [(names[int(c)], xy) for c, xy in zip(b.cls, b.xyxy, strict=True) if names[int(c)] in CLASSES]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def recall(ref: list, got: list) -> tuple[int, int]:
    found = 0
    for r, g in zip(ref, got, strict=True):
        used: set[int] = set()
        for label, box in r:
            for k, (gl, gb) in enumerate(g):
                if k not in used and gl == label and iou(box, gb) >= 0.5:
                    used.add(k)
                    found += 1
                    break
    return found, sum(len(r) for r in ref)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="640,480,320")
    args = parser.parse_args()
    from ultralytics import YOLO

    sizes = [int(s) for s in args.sizes.split(",")]
    clips = [clip_frames("bikes.mp4"), clip_frames("vtest.mp4")]
    # round r, camera c: frame r*3 + c of its clip (cameras on one clip see different moments)
    rounds = [[clips[c % 2][(r * 3 + c) % len(clips[c % 2])] for c in range(args.cameras)]
              for r in range(args.rounds)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-traffic-"))
    (tmp / "yolo11n.pt").write_bytes(MODEL.read_bytes())
    onnx = YOLO(str(tmp / "yolo11n.pt")).export(format="onnx", imgsz=max(sizes), dynamic=True, simplify=False)
    models = {"pt": YOLO(str(MODEL), task="detect"), "onnx": YOLO(str(onnx), task="detect")}
    flat = [f for r in rounds for f in r]
    ref = [boxes(models["pt"].predict(f, imgsz=640, conf=0.35, verbose=False)[0]) for f in flat]
    rows = []
    base = None
    for backend, model in models.items():
        for size in sizes:
            model.predict(flat[0], imgsz=size, verbose=False)  # warm up
            lat, out = [], []
            t0 = time.perf_counter()
            for f in flat:
                s = time.perf_counter()
                out.append(boxes(model.predict(f, imgsz=size, conf=0.35, verbose=False)[0]))
                lat.append(time.perf_counter() - s)
            seq_fps = len(flat) / (time.perf_counter() - t0)
            base = base or seq_fps
            blat = []
            t0 = time.perf_counter()
            for r in rounds:
                s = time.perf_counter()
                model.predict(r, imgsz=size, conf=0.35, verbose=False)
                blat += [time.perf_counter() - s] * len(r)
            bat_fps = len(flat) / (time.perf_counter() - t0)
            found, total = recall(ref, out)
            for mode, fps, ls in (("per frame", seq_fps, lat), ("batched", bat_fps, blat)):
                rows.append((backend, size, mode, fps, fps / base, fps >= 2 * args.cameras,
                             1000 * float(np.percentile(ls, 95)), found / total if total else 1.0))
    print(f"{args.cameras} cameras, {args.rounds} rounds, {len(flat)} frames; reference: .pt 640, "
          f"{sum(len(r) for r in ref)} objects; baseline: .pt 640 per frame = {base:.2f} frames/s\n")
    print("| model | imgsz | mode | frames/s | x baseline | holds 8x2 fps | p95 ms/frame | recall vs 640 |")
    print("|---|---|---|---|---|---|---|---|")
    for backend, size, mode, fps, ratio, holds, p95, rec in rows:
        print(f"| {backend} | {size} | {mode} | {fps:.1f} | {ratio:.2f} | {'yes' if holds else 'no'} "
              f"| {p95:.0f} | {rec:.2f} |")


if __name__ == "__main__":
    main()
