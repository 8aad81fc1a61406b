"""Record real tracked detections from a sample clip, as a test fixture for the traffic rules.

Runs the COCO YOLO11n model (installed by ``scripts/setup_vision``) with ByteTrack over a clip
sampled at ``--fps`` and writes one JSON row per detection: seconds from the clip's start, label,
score, box in pixels, track id, frame size. The traffic rule tests replay these rows as
``CameraDetection`` events, so the tracks they check are what the model really saw.

    PYTHONPATH=$PWD .venv/bin/python sample_streams/cameras/record_tracks.py \\
        sample_streams/cameras/bikes.mp4 tests/fixtures/bikes_tracks.json --fps 5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from ingest.cameras.backends.yolo import UltralyticsDetector


def main() -> None:
    """Parse arguments, run the model over the clip, write the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--model", default=str(Path(sys.prefix) / "share/ioc-models/yolo11n.pt"))
    parser.add_argument("--imgsz", type=int, default=640)
    args = parser.parse_args()
    detector = UltralyticsDetector(args.model, imgsz=args.imgsz, share_model=False)
    cap = cv2.VideoCapture(str(args.clip))
    clip_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(clip_fps / args.fps))
    rows = []
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % step == 0:
            h, w = frame.shape[:2]
            for det in detector.detect(frame):
                rows.append({"t": round(index / clip_fps, 3), "label": det.label,
                             "score": round(det.score, 3), "box": [round(v, 1) for v in det.box],
                             "track_id": det.track_id,
                             "width": w, "height": h})
        index += 1
    meta = {"clip": args.clip.name, "model": Path(args.model).name, "imgsz": args.imgsz, "fps": args.fps,
            "rows": rows}
    args.out.write_text(json.dumps(meta, indent=0) + "\n")
    print(f"{len(rows)} detections from {index} frames -> {args.out}")


if __name__ == "__main__":
    main()
