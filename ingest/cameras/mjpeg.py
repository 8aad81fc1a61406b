"""A small HTTP MJPEG server: a stand-in IP camera that streams a video file (or any frames).

It speaks what IP cameras speak (``multipart/x-mixed-replace`` of JPEG parts), so the camera
worker reads it through OpenCV's FFmpeg backend exactly as it would read a real camera. It
binds to 127.0.0.1 by default; tests stop and restart it to make a stream drop and come back.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

BOUNDARY = "ioc-mjpeg-frame"
FrameSource = Callable[[int], np.ndarray | None]
PartFilter = Callable[[int, bytes], bytes]
"""``(part index, JPEG bytes) -> bytes sent``: how a test makes a camera send damaged parts."""


def file_frames(path: str | Path, loop: bool = True) -> FrameSource:
    """Frames of a video file, decoded once into memory (small samples only), looping."""
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise ValueError(f"no frames in {path}")

    def frame_at(index: int) -> np.ndarray | None:
        if index >= len(frames) and not loop:
            return None
        return frames[index % len(frames)]

    return frame_at


class MjpegServer:
    """Serves ``frames(index)`` as MJPEG at ``http://host:port/stream.mjpg``, ``fps`` parts a second."""

    def __init__(self, frames: FrameSource, fps: float = 10.0, host: str = "127.0.0.1",
                 port: int = 0, quality: int = 80, parts: PartFilter | None = None) -> None:
        self.frames = frames
        self.parts = parts
        self.fps = fps
        self.host = host
        self.port = port
        self.quality = quality
        self.clients_served = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/stream.mjpg"

    def start(self) -> MjpegServer:
        """Listen (on the same port again after :meth:`stop`) and serve in a daemon thread."""
        owner = self
        self._stopping.clear()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
                log.debug("mjpeg: " + format, *args)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if self.path.split("?")[0] != "/stream.mjpg":
                    self.send_error(404)
                    return
                owner.clients_served += 1
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                owner._stream(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="mjpeg-server", daemon=True)
        self._thread.start()
        return self

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        index = 0
        start = time.monotonic()
        params = [cv2.IMWRITE_JPEG_QUALITY, self.quality]
        try:
            while not self._stopping.is_set():
                frame = self.frames(index)
                if frame is None:
                    return
                ok, jpeg = cv2.imencode(".jpg", frame, params)
                if ok:
                    data = jpeg.tobytes()
                    if self.parts is not None:
                        data = self.parts(index, data)
                    handler.wfile.write(
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                        .encode()
                    )
                    handler.wfile.write(data)
                    handler.wfile.write(b"\r\n")
                    handler.wfile.flush()
                index += 1
                delay = start + index / self.fps - time.monotonic()
                if delay > 0:
                    self._stopping.wait(delay)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, OSError):
            return
        finally:
            if self._stopping.is_set():
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """Stop listening and cut every open stream (a camera going off the network)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
