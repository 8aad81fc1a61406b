"""Where a web map starts: the centre and zoom that show a box of the earth in a map of a given size."""

from __future__ import annotations

import math


def fit_view(bounds: tuple[float, float, float, float], size_px: tuple[int, int],
             pad: float = 0.06) -> tuple[dict[str, float], float]:
    """Centre and zoom (web Mercator, 512 px tiles) that show ``bounds`` (west, south, east, north)."""
    west, south, east, north = bounds

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(max(-85.0, min(85.0, lat))) / 2))

    width, height = size_px
    dx = max(east - west, 1e-6) / 360 * (1 + 2 * pad)
    dy = max(merc(north) - merc(south), 1e-6) / (2 * math.pi) * (1 + 2 * pad)
    zoom = math.log2(min(width / 512 / dx, height / 512 / dy))
    mid = (merc(north) + merc(south)) / 2
    lat = math.degrees(2 * math.atan(math.exp(mid)) - math.pi / 2)
    return {"lon": round((west + east) / 2, 5), "lat": round(lat, 5)}, round(max(0.0, min(zoom, 16.0)), 2)
