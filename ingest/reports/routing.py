"""Where a report belongs: inside the city, in which ward, to which department and team, due when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry import Point, Polygon
from shapely.prepared import prep

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
        self._city = prep(Polygon(cfg.city_polygon))
        self._wards = [(w.name, prep(Polygon(w.polygon))) for w in cfg.wards]

    def inside_city(self, lat: float, lon: float) -> bool:
        return bool(self._city.covers(Point(lon, lat)))

    def ward(self, lat: float, lon: float) -> str:
        pt = Point(lon, lat)
        for name, poly in self._wards:
            if poly.covers(pt):
                return name
        return ""

    def route(self, service_code: str, lat: float, lon: float, received: datetime) -> Route:
        cat = self.cfg.categories[service_code]
        ward = self.ward(lat, lon)
        group = cat.assignee_by_ward.get(ward, cat.assignee_group)
        return Route(ward, cat.department, group, received + timedelta(minutes=cat.ack_minutes),
                     received + timedelta(minutes=cat.resolve_minutes))
