"""The simulated fleet's boats and how their trips are planned: ports, waypoints, legs, fishing grounds.

Flat-earth geometry (fine below 50 km) and one seeded generator for every random draw, so the
same seed plans the same trips (see :mod:`ingest.vessels.simulator`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

EARTH_RADIUS_M = 6_371_008.8
KNOT = 1852 / 3600  # m/s


@dataclass(frozen=True, slots=True)
class Port:
    """A home port: where boats moor, and the harbour mouth they leave by."""

    code: str
    name: str
    destination: str  # AIS text (6-bit: upper case, no diacritics)
    mooring: tuple[float, float]  # lon, lat
    mouth: tuple[float, float]
    sector: tuple[float, float]  # bearings (deg) towards open sea from the mouth


PORTS: tuple[Port, ...] = (
    Port("TA", "Thuận An", "THUAN AN", (107.636, 16.560), (107.652, 16.586), (10.0, 80.0)),
    Port("TH", "Tư Hiền", "TU HIEN", (107.905, 16.289), (107.910, 16.312), (345.0, 385.0)),
    Port("CM", "Chân Mây", "CHAN MAY", (108.013, 16.334), (108.015, 16.362), (340.0, 410.0)),
)


def move(lon: float, lat: float, bearing_deg: float, meters: float) -> tuple[float, float]:
    """The point ``meters`` from (lon, lat) on ``bearing_deg`` (flat-earth; fine below 50 km)."""
    b = math.radians(bearing_deg)
    dlat = meters * math.cos(b) / (math.pi * EARTH_RADIUS_M / 180)
    dlon = meters * math.sin(b) / (math.pi * EARTH_RADIUS_M / 180 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    dp, dl = p2 - p1, math.radians(b[0] - a[0])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    dl = math.radians(b[0] - a[0])
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360


@dataclass(frozen=True, slots=True)
class Waypoint:
    """Where a boat is at a time (seconds since the simulation start), and its nav status."""

    t: float
    lon: float
    lat: float
    status: int  # AIS navigational status of the leg that ends here


@dataclass(slots=True)
class Boat:
    """One simulated boat: identity, plan (waypoints), and when its transponder is off."""

    index: int
    mmsi: int
    name: str
    callsign: str
    port: Port
    length_m: int
    beam_m: int
    role: str = "normal"
    plan: list[Waypoint] = field(default_factory=list)
    dark: list[tuple[float, float]] = field(default_factory=list)  # (from, to) seconds

    def at(self, t: float) -> tuple[float, float, float, float, int]:
        """(lon, lat, speed kn, course deg, nav status) at ``t`` seconds (linear between waypoints)."""
        plan = self.plan
        if t <= plan[0].t:
            return plan[0].lon, plan[0].lat, 0.0, 0.0, 5
        if t >= plan[-1].t:
            return plan[-1].lon, plan[-1].lat, 0.0, 0.0, 5
        lo, hi = 0, len(plan) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if plan[mid].t <= t:
                lo = mid
            else:
                hi = mid
        a, b = plan[lo], plan[hi]
        f = (t - a.t) / (b.t - a.t)
        lon, lat = a.lon + (b.lon - a.lon) * f, a.lat + (b.lat - a.lat) * f
        meters = distance((a.lon, a.lat), (b.lon, b.lat))
        speed = meters / (b.t - a.t) / KNOT
        course = bearing((a.lon, a.lat), (b.lon, b.lat)) if meters > 0 else 0.0
        return lon, lat, speed, course, b.status

    def transmitting(self, t: float) -> bool:
        """Whether the transponder is on at ``t``."""
        return not any(start <= t < end for start, end in self.dark)

    def moored(self, t: float) -> bool:
        """In port (before the first or after the last waypoint)."""
        return t <= self.plan[0].t or t >= self.plan[-1].t


class Planner:
    """Builds the boats' plans; every random draw comes from one seeded generator, in order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def leg(self, plan: list[Waypoint], to: tuple[float, float], knots: float, status: int) -> None:
        last = plan[-1]
        seconds = distance((last.lon, last.lat), to) / (knots * KNOT)
        plan.append(Waypoint(last.t + max(1.0, seconds), to[0], to[1], status))

    def wander(
        self,
        plan: list[Waypoint],
        centre: tuple[float, float],
        radius_m: float,
        hours: float,
        knots: tuple[float, float],
        status: int,
    ) -> None:
        """Short legs at random within ``radius_m`` of ``centre`` for ``hours``."""
        end = plan[-1].t + hours * 3600
        while plan[-1].t < end:
            bearing = self.rng.uniform(0, 360)
            dist = radius_m * math.sqrt(self.rng.random())
            target = move(centre[0], centre[1], bearing, dist)
            self.leg(plan, target, self.rng.uniform(*knots), status)
        last = plan[-1]
        if last.t > end:  # cut the last leg at the end time
            prev = plan[-2]
            f = (end - prev.t) / (last.t - prev.t)
            plan[-1] = Waypoint(
                end, prev.lon + (last.lon - prev.lon) * f, prev.lat + (last.lat - prev.lat) * f, status
            )

    def trip(
        self,
        boat: Boat,
        depart: float,
        ground: tuple[float, float],
        hours: float,
        knots: tuple[float, float] = (2.8, 4.5),
        radius_m: float = 4000.0,
        via: list[tuple[float, float]] | None = None,
    ) -> None:
        port = boat.port
        plan = [Waypoint(depart, port.mooring[0], port.mooring[1], 5)]
        transit = self.rng.uniform(6.0, 9.0)
        self.leg(plan, port.mouth, 5.0, 0)
        for point in via or []:
            self.leg(plan, point, transit, 0)
        self.leg(plan, ground, transit, 0)
        self.wander(plan, ground, radius_m, hours, knots, 7)
        for point in reversed(via or []):
            self.leg(plan, point, transit, 0)
        self.leg(plan, port.mouth, transit, 0)
        self.leg(plan, port.mooring, 5.0, 5)
        boat.plan = plan

    def ground(self, port: Port) -> tuple[float, float]:
        bearing = self.rng.uniform(*port.sector) % 360
        return move(port.mouth[0], port.mouth[1], bearing, self.rng.uniform(11000, 20000))
