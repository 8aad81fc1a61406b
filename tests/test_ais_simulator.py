"""The simulated fleet: real, decodable NMEA; labelled simulated; its scenario triggers each rule."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape

from detectors.runner import DetectorRunner
from detectors.vessels.ais_gap import AisGapDetector
from detectors.vessels.encounter import EncounterDetector
from detectors.vessels.loitering import LoiteringDetector
from detectors.vessels.storm_ban import StormBanDetector, StormWarning
from detectors.vessels.zone_dwell import ZoneDwellDetector
from detectors.vessels.zones import ZoneIndex, load_zones
from ingest.vessels.nmea import AisDecoder, nmea_checksum
from ingest.vessels.simulator import MMSI_BASE, SCENARIO_HOURS, FleetSimulator, SimulatedFleetSource
from ingest.vessels.worker import VesselWorker
from ioc.bus.memory import MemoryBus
from ioc.cells import CellRouter
from ioc.events import AlertSignal, decode
from ioc.feeds.vessels import CELL_POSITIONS
from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.topics import ALERT_SIGNALS, topic_for

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
T0 = datetime(2025, 9, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def zones() -> ZoneIndex:
    return load_zones(SAMPLES / "hue-zones.geojson")


@pytest.fixture(scope="module")
def stream() -> tuple[FleetSimulator, list[tuple[datetime, str]]]:
    sim = FleetSimulator(T0)
    return sim, list(sim.sentences(T0 + timedelta(hours=SCENARIO_HOURS)))


@pytest.fixture(scope="module")
def records(stream: tuple[FleetSimulator, list[tuple[datetime, str]]]) -> list[VesselPosition | VesselStatic]:
    _, lines = stream
    decoder = AisDecoder(simulated=True)
    out: list[VesselPosition | VesselStatic] = []
    for when, line in lines:
        out += decoder.feed(line, when)
    decoder.flush(T0 + timedelta(hours=SCENARIO_HOURS))
    assert decoder.stats.lines == len(lines) == decoder.stats.lines_decoded  # every line decoded
    assert decoder.take_dead_letters() == []
    return out


def test_sentences_are_real_checksummed_nmea_and_deterministic(
    stream: tuple[FleetSimulator, list[tuple[datetime, str]]],
) -> None:
    sim, lines = stream
    assert len(lines) > 20_000
    for when, line in lines[:2000]:
        block, sentence = line[1:].split("\\", 1)
        body, check = block.rsplit("*", 1)
        assert nmea_checksum(body.encode()) == int(check, 16)
        assert f"c:{int(when.timestamp())}" in body and "s:SIMFLEET" in body
        assert sentence.startswith("!AIVDM,")
        assert nmea_checksum(sentence[1:-3].encode()) == int(sentence[-2:], 16)
    assert [w for w, _ in lines] == sorted(w for w, _ in lines)
    again = FleetSimulator(T0)
    assert list(again.sentences(T0 + timedelta(hours=2))) == [
        x for x in lines if x[0] <= T0 + timedelta(hours=2)
    ]
    other = FleetSimulator(T0, seed=2)
    assert list(other.sentences(T0 + timedelta(hours=2))) != list(again.sentences(T0 + timedelta(hours=2)))
    later = list(sim.sentences(T0 + timedelta(hours=3), since=T0 + timedelta(hours=2)))
    assert later == [x for x in lines if T0 + timedelta(hours=2) < x[0] <= T0 + timedelta(hours=3)]


def test_records_are_labelled_simulated(records: list[VesselPosition | VesselStatic]) -> None:
    statics = [r for r in records if isinstance(r, VesselStatic)]
    positions = [r for r in records if isinstance(r, VesselPosition)]
    assert {r.mmsi for r in records} == set(range(MMSI_BASE + 1, MMSI_BASE + 41))
    assert all(r.simulated for r in records)
    names = {s.name for s in statics}
    assert len(names) == 40 and all(n and n.startswith("SIM ") for n in names)
    assert {"SIM TA-01", "SIM TH-01", "SIM CM-01"} <= names
    assert {s.ship_type for s in statics} == {30}  # fishing
    assert {s.destination for s in statics} == {"THUAN AN", "TU HIEN", "CHAN MAY"}
    assert {p.msg_type for p in positions} == {1}
    speeds = [p.sog for p in positions if p.nav_status == 0 and p.sog is not None]
    assert 5.5 < sum(speeds) / len(speeds) < 9.5  # transit at 6-9 kn


def test_boats_stay_at_sea_or_in_port(records: list[VesselPosition | VesselStatic], zones: ZoneIndex) -> None:
    coast = json.loads((SAMPLES / "hue-coastline.geojson").read_text(encoding="utf-8"))
    land = shape(next(f for f in coast["features"] if f["properties"]["id"] == "land")["geometry"])
    shapely.prepare(land)
    ports = zones.subset(["port"])
    on_land = Counter(
        p.mmsi
        for p in records
        if isinstance(p, VesselPosition)
        and land.contains(shapely.Point(p.lon, p.lat))
        and not ports.contains(p.lon, p.lat)
    )
    assert on_land == Counter()
    inside = [p for p in records if isinstance(p, VesselPosition) and zones.contains(p.lon, p.lat)]
    assert len(inside) == len(
        [r for r in records if isinstance(r, VesselPosition)]
    )  # all in provincial waters


def rules(zones: ZoneIndex, sim: FleetSimulator) -> list:  # noqa: ANN001
    storm = StormBanDetector(zones)
    storm.warn(StormWarning.model_validate(sim.storm_warnings()[0]))
    return [
        ZoneDwellDetector(zones),
        AisGapDetector(zones),
        LoiteringDetector(zones),
        EncounterDetector(zones),
        storm,
    ]


def check_scenario(signals: list[AlertSignal], sim: FleetSimulator) -> None:
    scenario = sim.scenario
    a, b = scenario.pair
    by_fingerprint: dict[str, list[str]] = defaultdict(list)
    for s in sorted(signals, key=lambda s: s.time):
        by_fingerprint[s.fingerprint].append(s.status)
    assert dict(by_fingerprint) == {
        f"zone_dwell:protected-hai-van-son-cha:{scenario.protected}": ["firing", "resolved"],
        f"ais_gap:{scenario.dark}": ["firing", "resolved"],
        f"loitering:{scenario.loiterer}": ["firing", "resolved"],
        f"loitering:{a}": ["firing", "resolved"],  # the meeting pair drift slowly too
        f"loitering:{b}": ["firing", "resolved"],
        f"encounter:{a}:{b}": ["firing", "resolved"],
        f"storm_ban:sim-storm-1:{scenario.storm}": ["firing", "resolved"],
    }
    gap = next(s for s in signals if s.detector == "ais_gap" and s.status == "resolved")
    start, end = scenario.dark_window
    assert start - timedelta(minutes=2) < datetime.fromisoformat(gap.details["gap_start"]["time"]) < start
    assert end <= datetime.fromisoformat(gap.details["gap_end"]["time"]) < end + timedelta(minutes=2)
    storm = [s for s in signals if s.detector == "storm_ban"]
    assert storm[1].details["reason"] == "warning_ended"
    assert storm[1].time == datetime.fromisoformat(scenario.storm_warning["valid_to"])


def test_scenario_triggers_each_rule_once(
    stream: tuple[FleetSimulator, list[tuple[datetime, str]]],
    records: list[VesselPosition | VesselStatic],
    zones: ZoneIndex,
) -> None:
    sim, _ = stream
    detectors = rules(zones, sim)
    signals: list[AlertSignal] = []
    for record in records:
        for detector in detectors:
            signals += detector.observe(record)
    for detector in detectors:
        signals += detector.advance(sim.scenario.end + timedelta(hours=1))
    check_scenario(signals, sim)


def test_scenario_through_the_bus_and_the_detector_runner(
    stream: tuple[FleetSimulator, list[tuple[datetime, str]]],
    records: list[VesselPosition | VesselStatic],
    zones: ZoneIndex,
) -> None:
    """The records go on a real (in-process) bus keyed by MMSI, the detector runner reads them
    in partition batches and publishes the signals: the same signals as a direct fold."""
    sim, _ = stream
    bus = MemoryBus(partitions=4)
    runner = DetectorRunner(bus, rules(zones, sim), group="vessel-rules")
    publisher = bus.publisher()
    cells = CellRouter()
    step = timedelta(minutes=10)  # live-like: the runner keeps up, ten minutes of data per round
    cut = T0 + step
    for record in [*records, None]:
        if record is None or record.time > cut:
            while runner.run_once(max_records=500, timeout=0.01):
                pass
            cut += step
        if record is not None:
            publisher.publish(topic_for(record), record.source_id, record.to_wire())
            if isinstance(record, VesselPosition):  # as the ingest worker does: a copy per map cell
                for copy in cells.records(record):
                    publisher.publish(CELL_POSITIONS, copy.cell, copy.to_wire())
    publisher.publish(
        topic_for(records[-1]),
        "clock",
        records[-1].model_copy(update={"time": sim.scenario.end + timedelta(hours=1)}).to_wire(),
    )
    while runner.run_once(max_records=500, timeout=0.01):
        pass
    reader = bus.subscribe([ALERT_SIGNALS], "check")
    signals = [decode(m.value) for m in reader.poll(max_records=1000, timeout=0.1)]
    runner.close()
    assert runner.detector_errors == 0
    check_scenario(signals, sim)  # type: ignore[arg-type]


def test_live_source_paces_the_fleet_and_the_worker_marks_it_simulated() -> None:
    clock = {"t": 0.0}

    class Tick(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            clock["t"] += timeout or 0.0
            return self.is_set()

    sim = FleetSimulator(T0, vessels=6)
    source = SimulatedFleetSource(sim, speed=600.0, tick_seconds=1.0, hours=0.5, monotonic=lambda: clock["t"])
    assert not source.loop
    bus = MemoryBus()
    worker = VesselWorker(source, bus.publisher(), feed="sim", simulated=True)
    stop = Tick()
    worker.run(stop)
    health = worker.health
    expected = list(sim.sentences(T0 + timedelta(hours=0.5, seconds=-1)))
    assert health["lines"] == len(expected) and health["dead_letters"] == 0
    assert health["last_time"] == expected[-1][0]
    assert clock["t"] == pytest.approx(3.0, abs=1.01)  # half an hour at 600x: three 1-s ticks
    sub = bus.subscribe(["ioc.vessels.positions", "ioc.vessels.static"], "check")
    messages = sub.poll(max_records=10_000, timeout=0.1)
    assert messages and all(decode(m.value).simulated for m in messages)  # type: ignore[attr-defined]


def test_feed_options_build_the_simulator_worker_and_the_rules(zones: ZoneIndex) -> None:
    from detectors.vessels import build_vessel_detectors
    from ingest.vessels import FeedConfigError, build_worker
    from ioc.config import FeedSettings

    feed = FeedSettings(name="sim", kind="ais_simulator", options={"vessels": 8, "speed": 60})
    worker = build_worker(feed, MemoryBus().publisher(), SAMPLES.parent, clock=lambda: T0)
    assert isinstance(worker.source, SimulatedFleetSource) and worker.decoder.simulated
    assert worker.source.simulator.start == T0 and worker.source.loop
    with pytest.raises(FeedConfigError, match="unknown vessel feed kind"):
        build_worker(FeedSettings(name="x", kind="ais_modem"), MemoryBus().publisher(), SAMPLES)
    with pytest.raises(FeedConfigError, match="port"):
        build_worker(
            FeedSettings(name="x", kind="ais_tcp", options={"host": "h"}), MemoryBus().publisher(), SAMPLES
        )
    rules = build_vessel_detectors(
        {
            "zones": ["vessels/hue-zones.geojson"],
            "common": {"settle_minutes": 1},
            "ais_gap": {"gap_minutes": 30},
        },
        base_dir=SAMPLES.parent,
    )
    assert [r.name for r in rules] == ["zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban"]
    assert rules[1].config.settle_minutes == 1 and rules[1].cfg.gap_minutes == 30  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown vessel rule"):
        build_vessel_detectors({"enabled": ["piracy"]}, zones)
    with pytest.raises(ValueError, match="gap_minute"):
        build_vessel_detectors({"ais_gap": {"gap_minute": 1}}, zones)
