"""Where a report belongs: inside the city, in which ward, to which department and team, due when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely
from shapely.geometry import Polygon

from ioc.feeds.reports.settings import ReportsFeed


@dataclass(frozen=True)
class Route:
    ward: str
    department: str
    assignee_group: str
    ack_due: datetime
    resolve_due: datetime


class Router:
    """Routing from ``[feeds.reports]``: category -> department, ward-dependent team, deadlines."""

    def __init__(self, cfg: ReportsFeed) -> None:
        self.cfg = cfg
        self._city = Polygon(cfg.city_polygon)
        self._wards = [(w.name, Polygon(w.polygon)) for w in cfg.wards]
        shapely.prepare([self._city, *(p for _, p in self._wards)])

    # a point intersects a polygon exactly when the polygon covers it (its edge counts as inside);
    # the *_xy tests take coordinates, no Point object built per report
    def inside_city(self, lat: float, lon: float) -> bool:
        return bool(shapely.intersects_xy(self._city, lon, lat))

    def ward(self, lat: float, lon: float) -> str:
        for name, poly in self._wards:
            if shapely.intersects_xy(poly, lon, lat):
                return name
        return ""

    def route(self, service_code: str, lat: float, lon: float, received: datetime) -> Route:
        cat = self.cfg.categories[service_code]
        ward = self.ward(lat, lon)
        group = cat.assignee_by_ward.get(ward, cat.assignee_group)
        return Route(ward, cat.department, group, received + timedelta(minutes=cat.ack_minutes),
                     received + timedelta(minutes=cat.resolve_minutes))
