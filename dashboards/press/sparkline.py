"""Sparklines for the press page: a tiny line of counts per hour, no axes, as an SVG image
(``data:`` URI in an ``<img>``): drawn by the browser at once, nothing to run, crisp on a wall
screen, and no plotting engine redrawn on every refresh."""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Sequence

from dash import html

ACCENT = "#5cc8ff"  # theme.css --accent (an image does not see the page's CSS variables)
WARN = "#ffb020"  # --warn


def svg(values: Sequence[int], width: int = 160, height: int = 32, color: str = ACCENT) -> str:
    """The SVG text: the counts as a line over a faint area, the last one marked by a dot."""
    top = max(max(values, default=0), 1)
    pad = 3.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def y(v: int) -> float:
        return round(height - pad - (height - 2 * pad) * v / top, 1)

    points = [(round(pad + i * step, 1), y(v)) for i, v in enumerate(values)] or [(pad, y(0))]
    line = " ".join(f"{x},{yy}" for x, yy in points)
    base = height - pad
    area = f"{points[0][0]},{base} {line} {points[-1][0]},{base}"
    lx, ly = points[-1]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">'
            f'<polygon points="{area}" fill="{color}" fill-opacity="0.18"/>'
            f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-linejoin="round" stroke-linecap="round"/>'
            f'<circle cx="{lx}" cy="{ly}" r="3" fill="{color}"/></svg>')


def sparkline(values: Sequence[int], label: str, *, width: int = 160, height: int = 32,
              color: str = ACCENT) -> html.Img:
    """An ``<img class="sparkline">`` of ``values`` (oldest first); ``label`` says what they are
    (its title and alternative text, with the counts)."""
    text = f"{label}: {', '.join(str(v) for v in values)}"
    uri = "data:image/svg+xml;base64," + b64encode(svg(values, width, height, color).encode()).decode()
    return html.Img(src=uri, alt=text, title=text, width=width, height=height, className="sparkline")
