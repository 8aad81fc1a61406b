"""Charts for reports as SVG images: self-contained, crisp in a PDF, no plotting engine needed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#ef8f00", "info": "#1565c0"}


def bar_chart(rows: Sequence[tuple[str, float]], title: str, width: int = 640, bar: int = 18) -> str:
    """A horizontal bar chart: one labelled bar per ``(label, value)`` row."""
    label_w, pad = 200, 8
    height = pad * 2 + 22 + len(rows) * (bar + 6)
    top = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f'<text x="{pad}" y="{pad + 12}" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(rows):
        y = pad + 22 + i * (bar + 6)
        w = (width - label_w - 60) * value / top
        parts.append(f'<text x="{pad}" y="{y + bar - 5}">{escape(label[:32])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="#455a64"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 5}">{value:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_severity_chart(rows: dict[str, dict[str, int]], title: str, width: int = 640) -> str:
    """One bar per key, split by severity (critical, warning, info)."""
    label_w, pad, bar = 200, 8, 18
    height = pad * 2 + 22 + len(rows) * (bar + 6) + 20
    top = max((sum(v.values()) for v in rows.values()), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f'<text x="{pad}" y="{pad + 12}" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (key, by_severity) in enumerate(rows.items()):
        y, x = pad + 22 + i * (bar + 6), float(label_w)
        parts.append(f'<text x="{pad}" y="{y + bar - 5}">{escape(key[:32])}</text>')
        for severity in ("critical", "warning", "info"):
            n = by_severity.get(severity, 0)
            w = (width - label_w - 60) * n / top
            if n:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                             f'fill="{SEVERITY_COLOURS[severity]}"><title>{severity}: {n}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + bar - 5}">{sum(by_severity.values())}</text>')
    parts.append("</svg>")
    return "".join(parts)


TRACK_COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef8f00", "#00838f")


def track_map(tracks: dict[int, list[tuple[float, float]]], title: str, width: int = 640,
              height: int = 360) -> str:
    """Vessel tracks ``mmsi -> [(lon, lat), ...]`` drawn to scale (longitude shrunk by the cosine of
    the latitude), each from a hollow start to a filled end, labelled with its MMSI; corners in degrees."""
    points = [p for track in tracks.values() for p in track]
    pad, top_pad = 10, 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eef4f8"/>',
             f'<text x="{pad}" y="18" font-weight="bold" font-size="12">{escape(title)}</text>']
    if not points:
        parts.append("</svg>")
        return "".join(parts)
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    squash = math.cos(math.radians((south + north) / 2))
    span_x, span_y = max((east - west) * squash, 1e-3), max(north - south, 1e-3)
    scale = min((width - 2 * pad) / span_x, (height - top_pad - pad - 14) / span_y)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return pad + (lon - west) * squash * scale, top_pad + (north - lat) * scale

    for i, (mmsi, track) in enumerate(sorted(tracks.items())):
        colour = TRACK_COLOURS[i % len(TRACK_COLOURS)]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in track))
        (x0, y0), (x1, y1) = xy(*track[0]), xy(*track[-1])
        parts += [f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>',
                  f'<circle cx="{x0:.1f}" cy="{y0:.1f}" r="4" fill="#fff" stroke="{colour}" '
                  'stroke-width="2"/>',
                  f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="4" fill="{colour}"/>',
                  f'<text x="{x1 + 6:.1f}" y="{y1 + 4:.1f}" fill="{colour}">{mmsi}</text>']
    parts.append(f'<text x="{pad}" y="{height - 4}" fill="#455a64">{south:.3f}°N {west:.3f}°E – '
                 f'{north:.3f}°N {east:.3f}°E</text>')
    parts.append("</svg>")
    return "".join(parts)
