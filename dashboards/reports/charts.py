"""Charts for reports as SVG images: self-contained, crisp in a PDF, no plotting engine needed."""

from __future__ import annotations

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
