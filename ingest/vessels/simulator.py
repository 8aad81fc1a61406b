"""A SIMULATED fishing fleet off Thừa Thiên Huế that speaks real AIS (NMEA 0183 via pyais).

Everything it makes is simulated and says so: MMSIs in the invalid range ``999100001`` and up
(``999`` is no country's MID), names ``SIM TA-01``, ``SIM TH-02``, ``SIM CM-03`` (after their
home port), call signs ``SIM...``, a tag-block source ``s:SIMFLEET``, and the worker that reads
it sets ``simulated=True`` on every record.

Boats leave and return to three ports (approximate real positions): Thuận An, Tư Hiền and
Chân Mây. A normal trip: moored in port (position every ``moored_report_seconds``), out
through the harbour mouth at 6-9 kn to a fishing ground 11-20 km offshore, trawling there at
2.8-4.5 kn for 3-6 h, and back (position every ``report_seconds`` at sea). Statics (type 5)
every ``static_seconds``. The scenario (first six boats, :attr:`FleetSimulator.scenario`)
adds one of each event the vessel rules look for:

* ``loiterer`` drifts at 0.3-1 kn for 3 h about 17 km off Thuận An (loitering);
* ``pair`` (a Thuận An and a Tư Hiền boat) meet about 20 km offshore and drift within
  ~150 m of each other for 2.5 h (encounter; both also loiter while they do);
* ``dark`` switches its transponder off for 100 min while trawling (AIS gap);
* ``protected`` trawls 45 min inside the Hải Vân–Sơn Chà marine protected area (zone dwell);
* ``storm`` trawls in the offshore storm-ban area while the scenario's storm warning
  (:meth:`FleetSimulator.storm_warnings`, zone ``storm-ban-offshore``) is in force.

Deterministic: the same ``start``, ``seed`` and options give the same sentences. Time is
whatever the caller asks for (:meth:`FleetSimulator.sentences` up to ``until``): no wall clock
is read here, except by :class:`SimulatedFleetSource`, which paces the fleet with an injected
clock for a live demo.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import xor
from typing import Any

from pyais.encode import encode_dict

from ingest.vessels.fleet_plans import KNOT, PORTS, Boat, Planner, Waypoint, distance, move
from ingest.vessels.sources import Batch, Line

MMSI_BASE = 999_100_000
STATION = "SIMFLEET"
SCENARIO_HOURS = 14.0
STORM_ZONE_ID = "storm-ban-offshore"


@dataclass(frozen=True)
class Scenario:
    """Which boats play which part, and the storm warning (times absolute)."""

    loiterer: int
    pair: tuple[int, int]
    dark: int
    protected: int
    storm: int
    dark_window: tuple[datetime, datetime]
    storm_warning: dict[str, Any]
    end: datetime


class FleetSimulator:
    """``vessels`` simulated boats (at least 6 for the full scenario) from ``start`` on."""

    def __init__(
        self,
        start: datetime,
        *,
        vessels: int = 40,
        seed: int = 1,
        report_seconds: int = 60,
        moored_report_seconds: int = 180,
        static_seconds: int = 360,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if vessels < 6:
            raise ValueError("the scenario needs at least 6 vessels")
        if min(report_seconds, moored_report_seconds, static_seconds) < 1:
            raise ValueError("report intervals must be at least 1 s")
        self.vessels = vessels
        self.start = start.astimezone(UTC).replace(microsecond=0)
        self.seed = seed
        self.report_seconds = report_seconds
        self.moored_report_seconds = moored_report_seconds
        self.static_seconds = static_seconds
        rng = random.Random(f"ioc-fleet-{seed}")
        planner = Planner(rng)
        self.boats: list[Boat] = []
        counts: dict[str, int] = {}
        home = [PORTS[0], PORTS[0], PORTS[1], PORTS[1], PORTS[2], PORTS[0]]  # the scenario's six
        for i in range(vessels):
            port = home[i] if i < len(home) else PORTS[i % len(PORTS)]
            counts[port.code] = counts.get(port.code, 0) + 1
            self.boats.append(
                Boat(
                    index=i,
                    mmsi=MMSI_BASE + i + 1,
                    name=f"SIM {port.code}-{counts[port.code]:02d}",
                    callsign=f"SIM{i + 1:03d}",
                    port=port,
                    length_m=rng.randint(12, 24),
                    beam_m=rng.randint(4, 7),
                )
            )
        self._plan(planner)
        self._phase = [rng.randrange(0, report_seconds) for _ in self.boats]
        self._static_phase = [rng.randrange(0, static_seconds) for _ in self.boats]

    def shifted(self, delta: timedelta) -> FleetSimulator:
        """The same fleet and scenario (same seed and options) starting ``delta`` later."""
        return FleetSimulator(
            self.start + delta,
            vessels=self.vessels,
            seed=self.seed,
            report_seconds=self.report_seconds,
            moored_report_seconds=self.moored_report_seconds,
            static_seconds=self.static_seconds,
        )

    # -- the plan -------------------------------------------------------------------------
    def _plan(self, planner: Planner) -> None:
        rng = planner.rng
        h = 3600.0
        loiterer, pair_a, pair_b, dark, protected, storm = self.boats[:6]
        for boat, role in zip(
            self.boats[:6], ("loiterer", "pair", "pair", "dark", "protected", "storm"), strict=True
        ):
            boat.role = role
        # Loiterer: out at T+1 h, drifts 3 h about 17 km off Thuận An, trawls 1 h, back.
        spot = (107.780, 16.680)
        plan = [Waypoint(1 * h, *loiterer.port.mooring, 5)]
        planner.leg(plan, loiterer.port.mouth, 5.0, 0)
        planner.leg(plan, spot, 7.5, 0)
        planner.wander(plan, spot, 400.0, 3.0, (0.3, 1.0), 7)
        planner.wander(plan, (107.80, 16.70), 3000.0, 1.0, (3.0, 4.0), 7)
        planner.leg(plan, loiterer.port.mouth, 7.5, 0)
        planner.leg(plan, loiterer.port.mooring, 5.0, 5)
        loiterer.plan = plan
        # Pair: both reach the meeting point at T+2.5 h, drift together 2.5 h, go home.
        meet, arrive = (107.860, 16.520), 2.5 * h
        for boat in (pair_a, pair_b):
            port = boat.port
            knots = 7.0
            seconds = distance(port.mooring, port.mouth) / (5.0 * KNOT) + distance(port.mouth, meet) / (
                knots * KNOT
            )
            plan = [Waypoint(arrive - seconds, *port.mooring, 5)]
            planner.leg(plan, port.mouth, 5.0, 0)
            planner.leg(plan, meet, knots, 0)
            planner.wander(plan, meet, 150.0, 2.5, (0.4, 1.0), 7)
            planner.leg(plan, port.mouth, knots, 0)
            planner.leg(plan, port.mooring, 5.0, 5)
            boat.plan = plan
        # Dark: a normal Tư Hiền trip; transponder off for 100 min from T+3 h.
        planner.trip(dark, 0.5 * h, (107.960, 16.420), 5.0)
        dark.dark = [(3.0 * h, 3.0 * h + 100 * 60)]
        # Protected: from Chân Mây into the Hải Vân–Sơn Chà MPA for 45 min, and back.
        planner.trip(protected, 1.0 * h, (108.160, 16.228), 0.75, radius_m=1200.0, via=[(108.090, 16.320)])
        # Storm: far offshore into the storm-ban area, trawls 4 h there.
        planner.trip(storm, 0.5 * h, (108.050, 16.720), 4.0, knots=(3.0, 4.2), radius_m=3500.0)
        # Everyone else: a normal trip from home.
        for boat in self.boats[6:]:
            planner.trip(boat, rng.uniform(0.0, 2.5 * h), planner.ground(boat.port), rng.uniform(3.0, 6.0))
        arrive_storm = storm.plan[2].t  # mooring, mouth, ground, then trawling
        self._storm_window = (arrive_storm + 1.0 * h, arrive_storm + 3.0 * h)

    @property
    def scenario(self) -> Scenario:
        """The scenario's boats (MMSIs) and its storm warning."""
        b = self.boats
        start, end = b[3].dark[0]
        return Scenario(
            loiterer=b[0].mmsi,
            pair=(b[1].mmsi, b[2].mmsi),
            dark=b[3].mmsi,
            protected=b[4].mmsi,
            storm=b[5].mmsi,
            dark_window=(self._at(start), self._at(end)),
            storm_warning=self.storm_warnings()[0],
            end=self._at(SCENARIO_HOURS * 3600),
        )

    def storm_warnings(self) -> list[dict[str, Any]]:
        """The scenario's storm warning(s), as ``StormWarning`` fields (a simulated issuer)."""
        valid_from, valid_to = self._storm_window
        return [
            {
                "time": self._at(valid_from - 3600).isoformat(),
                "source_id": "sim-weather",
                "warning_id": "sim-storm-1",
                "title": "SIMULATED storm warning: offshore storm-ban area closed",
                "zone_id": STORM_ZONE_ID,
                "valid_from": self._at(valid_from).isoformat(),
                "valid_to": self._at(valid_to).isoformat(),
                "severity": "critical",
            }
        ]

    def _at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=round(seconds))

    # -- messages -------------------------------------------------------------------------
    def _boat_messages(self, boat: Boat, until: float) -> Iterator[tuple[int, int, int, dict[str, Any]]]:
        """(second, boat index, order, AIS fields) of one boat, in time order, up to ``until``."""
        rng = random.Random(f"ioc-fleet-{self.seed}-boat-{boat.index}")
        t = self._phase[boat.index]
        next_static = self._static_phase[boat.index]
        while min(t, next_static) <= until:
            if next_static <= t:
                if boat.transmitting(next_static):
                    yield next_static, boat.index, 0, self._static(boat)
                next_static += self.static_seconds
                continue
            if boat.transmitting(t):
                yield t, boat.index, 1, self._position(boat, t, rng)
            else:
                rng.random()  # keep the noise sequence independent of dark windows
            t += self.moored_report_seconds if boat.moored(t) else self.report_seconds

    def _position(self, boat: Boat, t: float, rng: random.Random) -> dict[str, Any]:
        lon, lat, speed, course, status = boat.at(t)
        noise = rng.random()
        moored = boat.moored(t)
        if not moored:
            lon, lat = move(lon, lat, noise * 360, 4.0)
            speed = max(0.0, speed + (noise - 0.5) * 0.3)
            course = (course + (noise - 0.5) * 4) % 360
        return {
            "type": 1,
            "mmsi": boat.mmsi,
            "status": 5 if moored else status,
            "speed": round(0.0 if moored else speed, 1),
            "accuracy": 1,
            "lon": round(lon, 6),
            "lat": round(lat, 6),
            "course": round(course, 1),
            "heading": int(round(course)) % 360 if not moored else 511,
            "second": int(t) % 60,
        }

    @staticmethod
    def _static(boat: Boat) -> dict[str, Any]:
        bow = boat.length_m * 2 // 3
        port_side = boat.beam_m // 2
        return {
            "type": 5,
            "mmsi": boat.mmsi,
            "ais_version": 0,
            "imo": 0,
            "callsign": boat.callsign,
            "shipname": boat.name,
            "ship_type": 30,  # fishing
            "to_bow": bow,
            "to_stern": boat.length_m - bow,
            "to_port": port_side,
            "to_starboard": boat.beam_m - port_side,
            "epfd": 1,
            "draught": 1.8,
            "destination": boat.port.destination,
        }

    def messages(
        self, until: datetime, since: datetime | None = None
    ) -> Iterator[tuple[datetime, dict[str, Any]]]:
        """AIS message fields of the whole fleet in time order, ``since`` < time <= ``until``."""
        end = (until - self.start).total_seconds()
        begin = None if since is None else (since - self.start).total_seconds()
        streams = [self._boat_messages(boat, end) for boat in self.boats]
        for t, _, _, fields in heapq.merge(*streams, key=lambda m: (m[0], m[1], m[2])):
            if begin is None or t > begin:
                yield self._at(t), fields

    def sentences(self, until: datetime, since: datetime | None = None) -> Iterator[tuple[datetime, str]]:
        """NMEA lines (tag block with ``c:`` time, then ``!AIVDM``) in time order, as (time, line)."""
        for when, fields in self.messages(until, since):
            second = int(when.timestamp())
            channel = "AB"[(fields["mmsi"] + second) % 2]  # both AIS channels, alternating
            if fields["type"] == 5:
                lines = encode_dict(
                    fields, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=second % 10
                )
            else:
                lines = encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel=channel)
            block = f"s:{STATION},c:{second}"
            tag = f"\\{block}*{reduce(xor, block.encode(), 0):02X}\\"
            for line in lines:
                yield when, tag + line

    def write(self, path: str, until: datetime) -> int:
        """Write the sentences up to ``until`` to a file; how many lines."""
        count = 0
        with open(path, "w", encoding="ascii", newline="\n") as handle:
            for _, line in self.sentences(until):
                handle.write(line + "\n")
                count += 1
        return count


class SimulatedFleetSource:
    """A :class:`~ingest.vessels.sources.LineSource` that plays the fleet live for a demo.

    Simulated time runs ``speed`` times faster than the injected monotonic clock from the
    moment :meth:`read` starts, from the simulator's ``start``; every ``tick_seconds`` it
    yields the sentences that became due, received at their own simulated time. After
    ``hours`` of simulated time it stops, or with ``loop`` plays the scenario again from
    where it ended (:meth:`FleetSimulator.shifted`). With ``head_start`` the first read
    plays that much simulated history at once (a simulator started ``head_start`` before now
    at ``speed`` 1 then runs in step with the clock).
    """

    def __init__(
        self,
        simulator: FleetSimulator,
        *,
        speed: float = 1.0,
        tick_seconds: float = 1.0,
        hours: float = SCENARIO_HOURS,
        loop: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "simulated-fleet",
        head_start: timedelta = timedelta(0),
    ) -> None:
        if speed <= 0 or tick_seconds <= 0 or hours <= 0:
            raise ValueError("speed, tick_seconds and hours must be positive")
        self.simulator = simulator
        self.speed = speed
        self.tick_seconds = tick_seconds
        self.hours = hours
        self.loop = loop
        self.monotonic = monotonic
        self.name = name
        self.head_start = head_start  # simulated time already played at once when reading starts
        self.connected = False
        self.live = False  # True once the head start is played and the fleet runs with the clock
        self.rounds = 0

    def take_errors(self) -> list[str]:
        return []

    def _stream(self) -> Iterator[tuple[datetime, str]]:
        sim = self.simulator
        while True:
            yield from sim.sentences(sim.start + timedelta(hours=self.hours) - timedelta(seconds=1))
            self.rounds += 1
            if not self.loop:
                return
            sim = sim.shifted(timedelta(hours=self.hours))

    def read(self, stop: threading.Event) -> Iterator[Batch]:
        start = self.simulator.start
        stream = self._stream()
        wall0 = self.monotonic()
        pending: tuple[datetime, str] | None = next(stream, None)
        self.connected = True
        while pending is not None and not stop.is_set():
            now_sim = start + self.head_start + timedelta(seconds=(self.monotonic() - wall0) * self.speed)
            lines: list[Line] = []
            received = now_sim
            while pending is not None and pending[0] <= now_sim:
                received = pending[0]
                lines.append(pending[1].encode("ascii"))
                pending = next(stream, None)
                if len(lines) >= 1000:
                    yield lines, received
                    lines = []
            yield lines, received
            if pending is not None:
                self.live = True
                stop.wait(self.tick_seconds)
        self.connected = False
