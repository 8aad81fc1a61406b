"""The vessel icons of the offline map style: arrows and dots by state, ringed by alert, one sprite."""

from __future__ import annotations

import math
import struct
import zlib
from functools import cache

import numpy as np

from dashboards import components as c
from dashboards.sea.style import SELECTED, STATE_COLOURS, STATES

ICON_PX = 48  # one icon's box at pixel ratio 1; ``marker.size`` 10 draws it at that size
RINGS: tuple[str | None, ...] = (None, "critical", "warning", "info")


ICON_STATES = {"moving": "mov", "slow": "slow", "port": "port", "stale": "lost"}
ICON_RINGS = {"critical": "crit", "warning": "warn", "info": "info"}


def icon_name(state: str, directional: bool, severity: str | None = None) -> str:
    """The sprite icon of a vessel: ``a-mov`` (an arrow), ``d-port-crit`` (a dot in a red ring)...

    Short: the name travels once per vessel on every refresh.
    """
    name = ("a-" if directional else "d-") + ICON_STATES[state]
    return name + ("-" + ICON_RINGS.get(severity, "crit") if severity else "")


def _rgba(colour: str) -> tuple[float, float, float]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _over(dst: np.ndarray, alpha: np.ndarray, colour: str, opacity: float = 1.0) -> None:
    """Paint ``colour`` with coverage ``alpha`` over ``dst`` (straight RGBA floats), in place."""
    a = np.clip(alpha, 0.0, 1.0) * opacity
    out_a = a + dst[..., 3] * (1 - a)
    rgb = np.array(_rgba(colour))
    safe = np.where(out_a > 0, out_a, 1.0)
    for ch in range(3):
        dst[..., ch] = (rgb[ch] * a + dst[..., ch] * dst[..., 3] * (1 - a)) / safe
    dst[..., 3] = out_a


def _coverage(sd: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased coverage from a signed distance (icon units, negative inside)."""
    return np.clip(0.5 - sd * scale, 0.0, 1.0)


def _triangle_sd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance (approximately, exact near the edges) to the vessel arrow, pointing up."""
    pts = [(24.0, 9.0), (31.5, 32.0), (16.5, 32.0)]  # apex, starboard stern, port stern: centred on 24,24
    sd = np.full(x.shape, -np.inf)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
        nx, ny = y1 - y0, -(x1 - x0)  # outward normal of a clockwise polygon (y down)
        norm = math.hypot(nx, ny)
        sd = np.maximum(sd, ((x - x0) * nx + (y - y0) * ny) / norm)
    return sd


def _icon(state: str, directional: bool, ring: str | None, scale: int, select: bool = False) -> np.ndarray:
    size = ICON_PX * scale
    grid = (np.arange(size) + 0.5) / scale
    x, y = np.meshgrid(grid, grid)
    img = np.zeros((size, size, 4))
    r = np.hypot(x - 24, y - 24)
    if select:
        _over(img, _coverage(np.abs(r - 22.2) - 1.7, scale), "#0a0e14", 0.9)
        _over(img, _coverage(np.abs(r - 22.2) - 1.0, scale), SELECTED)
        return img
    if ring:
        _over(img, _coverage(r - 19.0, scale), c.SEVERITY_COLOURS.get(ring, "#ff5a5f"), 0.22)
        _over(img, _coverage(np.abs(r - 19.0) - 2.1, scale), c.SEVERITY_COLOURS.get(ring, "#ff5a5f"))
    sd = _triangle_sd(x, y) if directional else r - 6.5
    _over(img, _coverage(sd - 1.6, scale), "#05080c", 0.95)  # a dark outline: visible on any background
    _over(img, _coverage(sd, scale), STATE_COLOURS[state])
    return img


def _png(rgba: np.ndarray) -> bytes:
    """A straight-alpha RGBA image (floats 0..1) as PNG bytes (stdlib only)."""
    pixels = np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8)
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@cache
def sprite(scale: int = 1) -> tuple[dict[str, dict[str, int]], bytes]:
    """The map style's sprite at a pixel ratio: (index JSON, PNG bytes); drawn once per process."""
    icons: list[tuple[str, np.ndarray]] = [("select", _icon("moving", False, None, scale, select=True))]
    for state in STATES:
        for directional in (True, False):
            for ring in RINGS:
                icons.append((icon_name(state, directional, ring), _icon(state, directional, ring, scale)))
    cols = 8
    size = ICON_PX * scale
    rows = -(-len(icons) // cols)
    sheet = np.zeros((rows * size, cols * size, 4))
    index: dict[str, dict[str, int]] = {}
    for i, (name, img) in enumerate(icons):
        row, col = divmod(i, cols)
        sheet[row * size:(row + 1) * size, col * size:(col + 1) * size] = img
        index[name] = {"x": col * size, "y": row * size, "width": size, "height": size, "pixelRatio": scale}
    return index, _png(sheet)
