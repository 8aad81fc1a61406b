"""The vessel rules on constructed tracks, on recorded AIS and on the simulated fleet.

Every rule must give the same signals for in-order input, input out of order by up to its
``settle``, input with duplicates, input cut into any batches, and after a snapshot restore.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import Point, box

from detectors.base import Detector
from detectors.vessels.ais_gap import AisGapDetector
from detectors.vessels.common import Fix, ReorderBuffer
from detectors.vessels.encounter import EncounterDetector
from detectors.vessels.loitering import LoiteringDetector
from detectors.vessels.storm_ban import StormBanDetector, StormWarning
from detectors.vessels.zone_dwell import ZoneDwellDetector
from detectors.vessels.zones import Zone, ZoneError, ZoneIndex, load_zones, zones_from_geojson
from ingest.vessels.nmea import AisDecoder
from ingest.vessels.simulator import FleetSimulator
from ioc.events import AlertSignal, Event
from ioc.feeds.vessels.records import VesselPosition

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
HUE_ZONES = SAMPLES / "hue-zones.geojson"
T0 = datetime(2025, 9, 1, tzinfo=UTC)

DetectorFactory = Callable[[], Any]


# -- helpers --------------------------------------------------------------------------------


def pos(mmsi: int, t: datetime, lat: float, lon: float, sog: float | None = 0.5) -> VesselPosition:
    return VesselPosition(time=t, source_id=str(mmsi), mmsi=mmsi, lat=lat, lon=lon, sog=sog, msg_type=1)


def move(lon: float, lat: float, bearing: float, meters: float) -> tuple[float, float]:
    b = math.radians(bearing)
    return (
        lon + meters * math.sin(b) / (111_195 * math.cos(math.radians(lat))),
        lat + meters * math.cos(b) / 111_195,
    )


def track(
    mmsi: int,
    start: datetime,
    lon: float,
    lat: float,
    legs: Sequence[tuple[float, float, float]],
    every_s: int = 60,
) -> list[VesselPosition]:
    """Positions every ``every_s`` along legs of (minutes, knots, bearing)."""
    out = [pos(mmsi, start, lat, lon, legs[0][1] if legs else 0.0)]
    t = start
    for minutes_, knots, bearing in legs:
        for _ in range(int(minutes_ * 60 // every_s)):
            lon, lat = move(lon, lat, bearing, knots * 1852 / 3600 * every_s)
            t += timedelta(seconds=every_s)
            out.append(pos(mmsi, t, lat, lon, knots))
    return out


def run(
    detector: Any,
    events: Iterable[Event],
    final: datetime | None = None,
    advance_every: int = 0,
    rng: random.Random | None = None,
) -> list[AlertSignal]:
    """Feed events; advance to the largest event time every ``advance_every`` events (random
    intervals with ``rng``), and to ``final`` at the end."""
    out: list[AlertSignal] = []
    latest: datetime | None = None
    countdown = advance_every
    for event in events:
        out += detector.observe(event)
        latest = event.time if latest is None or event.time > latest else latest
        if advance_every:
            countdown -= 1
            if countdown <= 0:
                out += detector.advance(latest)
                countdown = rng.randint(1, 2 * advance_every) if rng else advance_every
    if final is not None:
        out += detector.advance(final)
    return out


def key(signals: Iterable[AlertSignal]) -> list[str]:
    """Signals in a canonical order, as comparable text."""
    return sorted(s.model_dump_json() for s in signals)


def jitter(events: Sequence[Event], settle: timedelta, seed: int, duplicates: float = 0.1) -> list[Event]:
    """Each event delayed by less than ``settle`` (so out of order by less than that), some twice."""
    rng = random.Random(seed)
    span = settle.total_seconds()
    tagged = []
    for event in events:
        tagged.append((event.time + timedelta(seconds=rng.random() * span * 0.999), rng.random(), event))
        if rng.random() < duplicates:
            tagged.append((event.time + timedelta(seconds=rng.random() * span * 0.999), rng.random(), event))
    tagged.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in tagged]


def square_zone(zone_id: str, kind: str, lon: float, lat: float, half_m: float) -> Zone:
    dlat = half_m / 111_195
    dlon = half_m / (111_195 * math.cos(math.radians(lat)))
    return Zone(
        zone_id, zone_id.replace("-", " ").title(), kind, box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    )


@pytest.fixture(scope="module")
def hue() -> ZoneIndex:
    return load_zones(HUE_ZONES)


# -- zones ----------------------------------------------------------------------------------


def test_sample_zones_load_and_answer_like_shapely(hue: ZoneIndex) -> None:
    assert {z.kind for z in hue.zones} == {"port", "protected", "no_fishing", "storm_ban", "sea_boundary"}
    assert [z.id for z in hue.of_kind("port")] == ["port-chan-may", "port-thuan-an", "port-tu-hien"]
    rng = random.Random(3)
    for _ in range(5000):
        lon, lat = rng.uniform(107.2, 108.5), rng.uniform(16.0, 17.1)
        expected = sorted(z.id for z in hue.zones if z.geometry.intersects(Point(lon, lat)))
        assert [z.id for z in hue.zones_at(lon, lat)] == expected
    assert [z.id for z in hue.zones_at(107.636, 16.562, kinds={"port"})] == ["port-thuan-an"]
    assert [z.id for z in hue.zones_at(108.2, 16.2, kinds={"no_fishing"})] == ["no-fishing-son-cha-core"]


def test_buffered_zones_are_the_distance_in_metres(hue: ZoneIndex) -> None:
    near = hue.buffered(["port"], 5000)
    port = hue.get("port-tu-hien")
    assert port is not None
    edge = shapely.get_coordinates(port.geometry.exterior)[:-1]
    top = max(edge, key=lambda c: c[1])  # northernmost corner: go due north from it
    for meters, inside in ((4900, True), (5100, False)):
        lon, lat = move(top[0], top[1], 0, meters)
        assert near.contains(lon, lat) is inside
        assert [z.id for z in near.zones_at(lon, lat)] == (["port-tu-hien"] if inside else [])


@pytest.mark.parametrize(
    ("feature", "error"),
    [
        ({"properties": {"id": "a", "kind": "beach"}}, "kind 'beach'"),
        ({"properties": {"kind": "port"}}, "'id' must be text"),
        (
            {"properties": {"id": "a", "kind": "port"}, "geometry": {"type": "Point", "coordinates": [1, 2]}},
            "Polygon",
        ),
        (
            {
                "properties": {"id": "bow", "kind": "port"},
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            },
            "invalid geometry: Self-intersection",
        ),
        (  # RFC 7946 3.1.6: a ring's last position repeats its first (shapely would close it silently)
            {
                "properties": {"id": "open", "kind": "port"},
                "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 1]]]]},
            },
            "a ring is not closed",
        ),
    ],
)
def test_bad_zone_files_are_refused_with_a_reason(feature: dict[str, Any], error: str) -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    data = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": square, **feature}]}
    with pytest.raises(ZoneError, match=error):
        zones_from_geojson(data)
    with pytest.raises(ZoneError, match="duplicate zone id"):
        ZoneIndex([square_zone("a", "port", 0, 0, 10), square_zone("a", "port", 1, 1, 10)])


def test_reorder_buffer_orders_dedupes_and_drops_late() -> None:
    lane = ReorderBuffer()
    fixes = [Fix(t, 1, 0.0, 0.0, -1.0, -1.0, -1) for t in (5, 3, 9, 3, 20)]
    assert [lane.push(f) for f in fixes] == [0, 0, 2, -1, 3] and lane.duplicates == 1
    assert [f.t for f in lane.release(10)] == [3, 5, 9]
    assert lane.push(Fix(9, 1, 1.0, 0.0, -1.0, -1.0, -1)) == -1 and lane.late == 1
    assert lane.push(Fix(10, 1, 0.0, 0.0, -1.0, -1.0, -1)) == 0  # at the frontier: still in time
    assert lane.push(Fix(12, 1, 0.0, 0.0, -1.0, -1.0, -1), floor=15) == -1 and lane.late == 2
    assert [f.t for f in lane.release(20)] == [10, 20] and lane.newest == 20


# -- zone dwell -----------------------------------------------------------------------------


def test_zone_dwell_confirmed_entry_and_exit(hue: ZoneIndex) -> None:
    detector = ZoneDwellDetector(hue, {"settle_minutes": 0, "min_dwell_minutes": 10, "min_exit_minutes": 5})
    assert isinstance(detector, Detector)
    # Along 108.15 E, across the northern edge (16.245 N) of the Hải Vân–Sơn Chà MPA, one
    # position a minute: 6 min inside (too short), out, 30 min in, out 3 min (too short), in,
    # and out for good.
    outside, inside = 16.250, 16.240
    plan = [(6, outside), (6, inside), (6, outside), (30, inside), (3, outside), (10, inside), (20, outside)]
    events, minute = [], 0
    for count, lat in plan:
        for _ in range(count):
            events.append(pos(111, T0 + timedelta(minutes=minute), lat, 108.15, 1.0))
            minute += 1
    signals = run(detector, events)
    assert [s.status for s in signals] == ["firing", "resolved"]
    firing, resolved = signals
    assert firing.fingerprint == "zone_dwell:protected-hai-van-son-cha:111"
    assert firing.severity == "critical" and firing.area and "Sơn Chà" in firing.area
    assert (firing.started_at, firing.time) == (T0 + timedelta(minutes=18), T0 + timedelta(minutes=28))
    assert resolved.started_at == firing.started_at
    assert resolved.details["exited"]["time"] == (T0 + timedelta(minutes=61)).isoformat()
    assert resolved.time == T0 + timedelta(minutes=66)
    assert resolved.details["dwell_minutes"] == 43.0


def test_zone_dwell_on_a_recorded_harbour(gpsd_positions: list[VesselPosition]) -> None:
    harbour = Zone(
        "lemmer-test", "Lemmer harbour (test zone)", "protected", box(5.700, 52.838, 5.7125, 52.8405)
    )
    detector = ZoneDwellDetector(ZoneIndex([harbour]), {"settle_minutes": 0.5, "min_dwell_minutes": 1})
    signals = run(detector, gpsd_positions, final=gpsd_positions[-1].time + timedelta(minutes=1))
    # Oracle: a vessel whose positions stay inside for a minute or more fires once, at the
    # first inside position at least 60 s after its first inside position.
    expected = {}
    by_vessel: dict[int, list[VesselPosition]] = {}
    for p in sorted(gpsd_positions, key=lambda p: p.time):
        by_vessel.setdefault(p.mmsi, []).append(p)
    for mmsi, ps in by_vessel.items():
        first = None
        for p in ps:
            if harbour.contains(p.lon, p.lat):
                first = first or p.time
                if p.time - first >= timedelta(minutes=1):
                    expected[mmsi] = p.time
                    break
            else:
                first = None
    assert len(expected) >= 5
    assert {int(s.source_id): s.time for s in signals} == expected
    assert all(s.status == "firing" for s in signals)


# -- AIS gap --------------------------------------------------------------------------------


def test_ais_gap_fires_on_advance_and_resolves_with_the_gap(hue: ZoneIndex) -> None:
    exact = {"settle_minutes": 0, "allowed_lateness_minutes": 0, "gap_minutes": 60}
    detector = AisGapDetector(hue, exact)
    sea = (107.80, 16.60)
    before = track(222, T0, *sea, [(30, 4, 45)])
    last = before[-1]
    after = track(
        222, last.time + timedelta(minutes=95), *move(last.lon, last.lat, 45, 9000)[::-1][::-1], [(10, 4, 45)]
    )
    signals = run(detector, before)
    assert signals == []
    assert detector.advance(last.time + timedelta(minutes=60)) == []  # exactly 60 min: not a gap yet
    [firing] = detector.advance(last.time + timedelta(minutes=61))
    assert firing.status == "firing" and firing.fingerprint == "ais_gap:222"
    assert firing.time == last.time + timedelta(minutes=60) and firing.started_at == last.time
    assert detector.advance(last.time + timedelta(minutes=80)) == []  # fires once
    [resolved, *rest] = run(detector, after)
    assert rest == [] and resolved.status == "resolved"
    assert resolved.details["duration_minutes"] == 95.0
    assert (
        resolved.details["gap_start"]["lat"] == last.lat
        and resolved.details["gap_end"]["lat"] == after[0].lat
    )
    assert resolved.details["distance_km"] == pytest.approx(9.0, abs=0.05)
    # The same stream without any advance in the gap gives the same two signals.
    replay = run(AisGapDetector(hue, exact), before + after)
    assert key(replay) == key([firing, resolved])


def test_ais_gap_ignores_vessels_in_port_and_forgets_long_silence(hue: ZoneIndex) -> None:
    detector = AisGapDetector(
        hue, {"settle_minutes": 0, "allowed_lateness_minutes": 0, "gap_minutes": 60, "forget_after_hours": 5}
    )
    moored = [pos(333, T0 + timedelta(minutes=m), 16.562, 107.636, 0.0) for m in range(0, 30, 3)]
    at_sea = [pos(444, T0 + timedelta(minutes=m), 16.70, 107.80, 3.0) for m in range(0, 30, 3)]
    signals = run(detector, moored + at_sea, final=T0 + timedelta(hours=4))
    assert [(s.source_id, s.status) for s in signals] == [("444", "firing")]
    [stopped] = detector.advance(T0 + timedelta(hours=6))
    assert stopped.status == "resolved" and stopped.details["reason"] == "tracking stopped"
    assert detector.state()["rule"]["last"] == {}  # both forgotten


def test_ais_gap_on_recorded_positions(gpsd_positions: list[VesselPosition]) -> None:
    detector = AisGapDetector(
        ZoneIndex([]), {"settle_minutes": 0, "allowed_lateness_minutes": 0, "gap_minutes": 0.5}
    )
    final = max(p.time for p in gpsd_positions)
    signals = run(detector, gpsd_positions, final=final)
    # Oracle: every gap over 30 s between a vessel's successive positions is a firing and a
    # resolution; a vessel silent for over 30 s at the end is firing.
    expected = []
    by_vessel: dict[int, list[datetime]] = {}
    for p in gpsd_positions:
        by_vessel.setdefault(p.mmsi, []).append(p.time)
    for mmsi, times in by_vessel.items():
        times = sorted(set(times))
        for a, b in zip(times, times[1:], strict=False):
            if b - a > timedelta(seconds=30):
                expected += [(mmsi, "firing", a + timedelta(seconds=30)), (mmsi, "resolved", b)]
        if final - times[-1] > timedelta(seconds=30):
            expected.append((mmsi, "firing", times[-1] + timedelta(seconds=30)))
    got = sorted((int(s.source_id), s.status, s.time) for s in signals)
    assert got == sorted(expected) and len(expected) > 10


# -- loitering ------------------------------------------------------------------------------


def test_loitering_fires_after_two_hours_slow_and_resolves_when_moving(hue: ZoneIndex) -> None:
    detector = LoiteringDetector(hue, {"settle_minutes": 0})
    legs = [(60, 8, 45), (180, 0.8, 90), (90, 8, 225)]
    events = track(555, T0, 107.75, 16.62, legs)
    signals = run(detector, events)
    assert [s.status for s in signals] == ["firing", "resolved"]
    firing, resolved = signals
    assert firing.fingerprint == "loitering:555"
    # The 2-h window's mean drops under 2 kn once at most (2 - 0.8) / (8 - 0.8) of it is transit.
    slow_start = T0 + timedelta(minutes=60)
    assert slow_start + timedelta(minutes=95) <= firing.time <= slow_start + timedelta(minutes=110)
    assert firing.details["mean_speed_kn"] < 2.0
    assert firing.details["nearest_port_km"] > 10
    assert resolved.details["reason"] == "moving"
    assert slow_start + timedelta(minutes=195) < resolved.time <= slow_start + timedelta(minutes=205)


def test_loitering_not_near_port_nor_when_fast(hue: ZoneIndex) -> None:
    detector = LoiteringDetector(hue, {"settle_minutes": 0})
    near_port = track(556, T0, 107.650, 16.600, [(240, 0.5, 45)])  # ~2 km from Thuận An
    fast = track(557, T0, 107.90, 16.70, [(240, 3.0, 90)])
    assert run(detector, near_port + fast) == []


# -- encounter ------------------------------------------------------------------------------


def test_encounter_pair_among_two_thousand_vessels(hue: ZoneIndex) -> None:
    rng = random.Random(11)
    meet = (107.86, 16.52)
    a = track(1001, T0, *meet, [(180, 0.6, 90)], every_s=120)
    b = track(1002, T0, *move(*meet, 0, 250), [(180, 0.6, 90)], every_s=120)
    far = track(1003, T0, *move(*meet, 0, 900), [(180, 0.6, 90)], every_s=120)  # slow but 900 m off
    crowd: list[VesselPosition] = []
    for i in range(2000):  # a busy sea: moving vessels criss-crossing the pair's area
        lon, lat = move(*meet, rng.uniform(0, 360), rng.uniform(0, 30000))
        crowd += track(2000 + i, T0, lon, lat, [(180, rng.uniform(3, 12), rng.uniform(0, 360))], every_s=600)
    events = sorted(a + b + far + crowd, key=lambda e: (e.time, e.mmsi))
    detector = EncounterDetector(hue, {"settle_minutes": 0})
    signals = run(detector, events, final=T0 + timedelta(hours=5))
    assert [(s.fingerprint, s.status) for s in signals] == [
        ("encounter:1001:1002", "firing"),
        ("encounter:1001:1002", "resolved"),
    ]
    firing = signals[0]
    assert firing.time == firing.started_at + timedelta(hours=2)  # type: ignore[operator]
    assert firing.details["mean_distance_m"] == pytest.approx(250, abs=5)
    assert firing.source_id == "1001" and firing.details["mmsis"] == [1001, 1002]


def test_encounter_needs_low_speed_and_open_sea(hue: ZoneIndex) -> None:
    in_port = track(3001, T0, 107.636, 16.562, [(180, 0.0, 0)]) + track(
        3002, T0, 107.637, 16.563, [(180, 0.0, 0)]
    )
    fast = track(3003, T0, 107.9, 16.7, [(180, 3.0, 90)]) + track(3004, T0, 107.9, 16.701, [(180, 3.0, 90)])
    events = sorted(in_port + fast, key=lambda e: (e.time, e.mmsi))
    assert run(EncounterDetector(hue, {"settle_minutes": 0}), events, final=T0 + timedelta(hours=4)) == []


# -- storm ban ------------------------------------------------------------------------------


def test_storm_ban_by_zone_and_by_area(hue: ZoneIndex) -> None:
    detector = StormBanDetector(hue, {"settle_minutes": 0})
    detector.warn(
        StormWarning(
            time=T0,
            source_id="nchmf",
            warning_id="storm-1",
            zone_id="storm-ban-offshore",
            valid_from=T0 + timedelta(hours=1),
            valid_to=T0 + timedelta(hours=3),
        )
    )
    area = shapely.geometry.mapping(box(107.70, 16.62, 107.75, 16.66))
    detector.warn(
        {
            "time": T0.isoformat(),
            "source_id": "border-guard",
            "warning_id": "storm-2",
            "title": "Closed: Thuận An approaches",
            "area": area,
            "valid_from": T0.isoformat(),
            "valid_to": (T0 + timedelta(hours=1)).isoformat(),
        }
    )
    offshore = track(601, T0, 108.05, 16.72, [(240, 3.0, 90)], every_s=300)
    leaving = track(602, T0 + timedelta(minutes=70), 108.00, 16.65, [(60, 8.0, 225)], every_s=300)
    near = track(603, T0, 107.72, 16.64, [(120, 1.0, 0)], every_s=300)
    events = sorted(offshore + leaving + near, key=lambda e: (e.time, e.mmsi))
    signals = run(detector, events, final=T0 + timedelta(hours=5))
    got = [(s.source_id, s.status, s.details.get("reason"), s.time - T0) for s in signals]
    assert ("601", "firing", None, timedelta(hours=1)) in got
    assert ("601", "resolved", "warning_ended", timedelta(hours=3)) in got
    assert ("602", "firing", None, timedelta(minutes=70)) in got
    assert any(g[:3] == ("602", "resolved", "left_area") for g in got)
    assert ("603", "firing", None, timedelta(0)) in got
    assert ("603", "resolved", "warning_ended", timedelta(hours=1)) in got
    assert len(got) == 6
    assert {s.fingerprint for s in signals} == {
        "storm_ban:storm-1:601",
        "storm_ban:storm-1:602",
        "storm_ban:storm-2:603",
    }


def test_storm_warning_validation(hue: ZoneIndex) -> None:
    detector = StormBanDetector(hue)
    base = {
        "time": T0,
        "source_id": "x",
        "warning_id": "w",
        "valid_from": T0,
        "valid_to": T0 + timedelta(hours=1),
    }
    with pytest.raises(ValueError, match="exactly one of zone_id or area"):
        StormWarning(**base)
    with pytest.raises(ValueError, match="valid_to must be after"):
        StormWarning(**{**base, "zone_id": "z", "valid_to": T0})
    with pytest.raises(ValueError, match="unknown zone"):
        detector.warn(StormWarning(**base, zone_id="atlantis"))


# -- recorded and simulated streams: order, duplicates, batches, snapshots --------------------


@pytest.fixture(scope="module")
def gpsd_positions() -> list[VesselPosition]:
    """The positions of gpsd's real log, received at the times of the log's own $GPRMC fixes."""
    decoder = AisDecoder()
    received = datetime(2020, 4, 7, 21, 39, 49, tzinfo=UTC)
    out: list[VesselPosition] = []
    for line in (SAMPLES / "ais-nmea.log").read_bytes().splitlines():
        if line.startswith(b"$GPRMC"):
            f = line.split(b",")
            hh, dd = f[1].decode(), f[9].decode()
            received = datetime(
                2000 + int(dd[4:6]),
                int(dd[2:4]),
                int(dd[:2]),
                int(hh[:2]),
                int(hh[2:4]),
                int(hh[4:6]),
                tzinfo=UTC,
            )
        out += [r for r in decoder.feed(line, received) if isinstance(r, VesselPosition)]
    assert len(out) == 141
    return out


@pytest.fixture(scope="module")
def fleet() -> tuple[FleetSimulator, list[VesselPosition]]:
    """A small simulated fleet (the six scenario boats and two more), 14 h, decoded."""
    sim = FleetSimulator(T0, vessels=8, seed=5)
    decoder = AisDecoder(simulated=True)
    out: list[VesselPosition] = []
    for when, line in sim.sentences(T0 + timedelta(hours=14)):
        out += [r for r in decoder.feed(line, when) if isinstance(r, VesselPosition)]
    return sim, out


def all_rules(zones: ZoneIndex, sim: FleetSimulator, settle: float) -> list[Any]:
    storm = StormBanDetector(zones, {"settle_minutes": settle})
    storm.warn(sim.storm_warnings()[0])
    return [
        ZoneDwellDetector(zones, {"settle_minutes": settle}),
        AisGapDetector(zones, {"settle_minutes": settle}),
        LoiteringDetector(zones, {"settle_minutes": settle}),
        EncounterDetector(zones, {"settle_minutes": settle}),
        storm,
    ]


def test_shuffled_and_duplicated_positions_give_identical_signals(
    hue: ZoneIndex, fleet: tuple[FleetSimulator, list[VesselPosition]]
) -> None:
    sim, positions = fleet
    end = positions[-1].time + timedelta(days=1)  # all boats are back in port by then
    reference = [key(run(d, positions, final=end)) for d in all_rules(hue, sim, settle=5)]
    assert all(reference)  # every rule fires on the scenario
    for seed in (1, 2):
        shaken = jitter(positions, timedelta(minutes=5), seed)
        assert len(shaken) > len(positions)
        rng = random.Random(seed)
        got = [
            key(run(d, shaken, final=end, advance_every=50, rng=rng)) for d in all_rules(hue, sim, settle=5)
        ]
        assert got == reference
    # Fully shuffled, with a settle longer than the whole recording: still the same signals.
    shuffled = list(positions)
    random.Random(9).shuffle(shuffled)
    got = [key(run(d, shuffled + shuffled[:500], final=end)) for d in all_rules(hue, sim, settle=24 * 60)]
    assert got == reference


def bus_order(events: Sequence[Event], window: timedelta, partitions: int = 4) -> list[Event]:
    """The order a runner polling a partitioned bus sees live events keyed by MMSI: for each
    ``window`` of event time, partition 0's events, then partition 1's... (each vessel in
    order, vessels of different partitions up to ``window`` apart)."""
    out: list[Event] = []
    batch: list[list[Event]] = [[] for _ in range(partitions)]
    start = events[0].time
    for event in [*events, None]:
        if event is None or event.time - start >= window:
            for queue in batch:
                out += queue
                queue.clear()
            if event is None:
                break
            start = event.time
        batch[zlib.crc32(event.source_id.encode()) % partitions].append(event)
    return out


def test_partition_skew_within_allowed_lateness_gives_identical_signals(
    hue: ZoneIndex, fleet: tuple[FleetSimulator, list[VesselPosition]]
) -> None:
    sim, positions = fleet
    end = positions[-1].time + timedelta(days=1)
    reference = [key(run(d, positions, final=end)) for d in all_rules(hue, sim, settle=2)]
    skewed = bus_order(positions, timedelta(minutes=20))
    newest, lag = skewed[0].time, timedelta(0)
    for event in skewed:
        lag = max(lag, newest - event.time)
        newest = max(newest, event.time)
    assert timedelta(minutes=15) < lag < timedelta(minutes=20)  # really skewed, within the default
    got = [key(run(d, skewed, final=end, advance_every=40)) for d in all_rules(hue, sim, settle=2)]
    assert got == reference
    # Without the allowance the lagging vessels' positions come too late and are dropped.
    strict = LoiteringDetector(hue, {"settle_minutes": 2, "allowed_lateness_minutes": 0})
    assert key(run(strict, skewed, final=end)) != reference[2]
    assert strict.counters["late"] > 1000


def test_snapshot_restore_midway_gives_identical_signals(
    hue: ZoneIndex, fleet: tuple[FleetSimulator, list[VesselPosition]]
) -> None:
    sim, positions = fleet
    end = positions[-1].time + timedelta(minutes=5)
    shaken = jitter(positions, timedelta(minutes=5), seed=4)
    reference = [key(run(d, shaken, final=end)) for d in all_rules(hue, sim, settle=5)]
    for cut in (len(shaken) // 3, 2 * len(shaken) // 3):
        got = []
        for first, second in zip(all_rules(hue, sim, 5), all_rules(hue, sim, 5), strict=True):
            signals = run(first, shaken[:cut])
            snapshot = json.loads(json.dumps(first.state()))
            second.restore(snapshot)
            signals += run(second, shaken[cut:], final=end)
            got.append(key(signals))
        assert got == reference
    with pytest.raises(ValueError, match="not a 'loitering' v1 snapshot"):
        LoiteringDetector(hue).restore(AisGapDetector(hue).state())


def test_real_global_minute_through_every_rule(hue: ZoneIndex) -> None:
    """aisdb's real minute of worldwide AIS (799 vessels): no rule fires on one minute of data,
    shuffling changes nothing, and nothing is dropped or buffered at the end."""
    decoder = AisDecoder()
    received = datetime(2021, 11, 1, 2, 0, tzinfo=UTC)
    positions = [
        r
        for line in (SAMPLES / "test_data_20211101.nm4").read_bytes().splitlines()
        for r in decoder.feed(line, received)
        if isinstance(r, VesselPosition)
    ]
    sim = FleetSimulator(T0, vessels=6)
    end = max(p.time for p in positions) + timedelta(hours=1)
    for settle in (5, 0):
        for detector in all_rules(hue, sim, settle):
            ordered = sorted(positions, key=lambda p: Fix.of(p))  # the rules' own total order
            assert (
                run(
                    detector,
                    ordered if settle == 0 else jitter(positions, timedelta(minutes=1), 3),
                    final=end,
                )
                == []
            )
            assert detector.counters["held"] == 0
            assert detector.counters["late"] == 0
