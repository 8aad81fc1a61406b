"""One shared reorder queue for the vessel rules (fast path) decides exactly what the rules decide
apart (slow path): on the simulated fleet and the real samples, in order, shaken, duplicated,
skewed as a partitioned bus delivers it, and across a snapshot."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import test_vessel_detectors as recorded
from test_vessel_detectors import SAMPLES, all_rules, bus_order, jitter, run

from detectors.vessels import ZoneIndex, vessel_rules
from detectors.vessels.ais_gap import AisGapDetector
from detectors.vessels.encounter import EncounterDetector
from detectors.vessels.loitering import LoiteringDetector
from detectors.vessels.ruleset import VesselRuleSet
from detectors.vessels.storm_ban import StormWarning
from ingest.vessels.nmea import AisDecoder
from ingest.vessels.simulator import FleetSimulator
from ioc.config import Settings
from ioc.events import AlertSignal
from ioc.feeds.vessels.records import VesselPosition

hue, fleet, gpsd_positions = recorded.hue, recorded.fleet, recorded.gpsd_positions  # the same fixtures
Rules = dict[str, list[str]]


def per_rule(signals: list[AlertSignal]) -> dict[str, list[str]]:
    """Each rule's signals in the order it gave them."""
    out: dict[str, list[str]] = defaultdict(list)
    for s in signals:
        out[s.detector].append(s.model_dump_json())
    return dict(out)


def apart(zones: ZoneIndex, sim: FleetSimulator, settle: float, events: list, **kw: Any) -> Rules:
    out: list[AlertSignal] = []
    for rule in all_rules(zones, sim, settle):
        out += run(rule, events, rng=random.Random(7) if kw.get("advance_every") else None, **kw)
    return per_rule(out)


def together(zones: ZoneIndex, sim: FleetSimulator, settle: float, events: list, **kw: Any) -> Rules:
    rules = VesselRuleSet(all_rules(zones, sim, settle), plain_positions=True)
    return per_rule(run(rules, events, rng=random.Random(7) if kw.get("advance_every") else None, **kw))


def test_the_shared_queue_gives_each_rules_signals_in_order(hue: ZoneIndex, fleet) -> None:  # noqa: ANN001
    sim, positions = fleet
    end = positions[-1].time + timedelta(days=1)
    reference = apart(hue, sim, 5, positions, final=end)
    assert set(reference) == {"zone_dwell", "ais_gap", "loitering", "encounter", "storm_ban"}
    assert together(hue, sim, 5, positions, final=end) == reference
    shaken = jitter(positions, timedelta(minutes=5), seed=1)
    assert together(hue, sim, 5, shaken, final=end, advance_every=50) == apart(
        hue, sim, 5, shaken, final=end, advance_every=50)
    skewed = bus_order(positions, timedelta(minutes=20))
    assert together(hue, sim, 2, skewed, final=end, advance_every=40) == apart(
        hue, sim, 2, skewed, final=end, advance_every=40)


def test_the_shared_queue_survives_a_snapshot_and_a_warning_that_comes_later(hue: ZoneIndex, fleet) -> None:  # noqa: ANN001
    sim, positions = fleet
    end = positions[-1].time + timedelta(minutes=5)
    warning = StormWarning.model_validate(sim.storm_warnings()[0])
    shaken = jitter(positions, timedelta(minutes=5), seed=4)
    at = len(shaken) // 4
    stream = [*shaken[:at], warning, *shaken[at:]]  # the warning arrives on the bus mid-stream
    reference = apart(hue, sim, 5, stream, final=end)
    for cut in (len(stream) // 3, 2 * len(stream) // 3):
        first = VesselRuleSet(all_rules(hue, sim, 5), plain_positions=True)
        signals = run(first, stream[:cut])
        second = VesselRuleSet(all_rules(hue, sim, 5), plain_positions=True)
        second.restore(json.loads(json.dumps(first.state())))
        signals += run(second, stream[cut:], final=end)
        assert per_rule(signals) == reference
        assert second.counters["held"] == 0 or cut > 0


def test_the_real_samples_through_the_shared_queue(hue: ZoneIndex, gpsd_positions) -> None:  # noqa: ANN001
    sim = FleetSimulator(datetime(2025, 9, 1, tzinfo=UTC), vessels=6)
    decoder = AisDecoder()
    received = datetime(2021, 11, 1, 2, 0, tzinfo=UTC)
    world = [r for line in (SAMPLES / "test_data_20211101.nm4").read_bytes().splitlines()
             for r in decoder.feed(line, received) if isinstance(r, VesselPosition)]
    for events in (gpsd_positions, jitter(world, timedelta(minutes=1), 3)):
        end = max(p.time for p in events) + timedelta(hours=4)
        assert together(hue, sim, 2, events, final=end) == apart(hue, sim, 2, events, final=end)


def test_rules_that_cannot_share_a_queue_are_refused(hue: ZoneIndex) -> None:
    with pytest.raises(ValueError, match="settle"):
        VesselRuleSet([AisGapDetector(hue), LoiteringDetector(hue, {"settle_minutes": 9})])
    with pytest.raises(ValueError, match="plain positions"):
        VesselRuleSet([AisGapDetector(hue), EncounterDetector(hue)])  # it reads the map cells
    used = AisGapDetector(hue)
    used.observe(VesselPosition(time=datetime(2025, 9, 1, tzinfo=UTC), source_id="1", mmsi=1, lat=16.5,
                                lon=107.9, msg_type=1))
    with pytest.raises(ValueError, match="fresh"):
        VesselRuleSet([used])


def test_the_registry_orders_the_position_rules_once() -> None:
    settings = Settings(rules={"vessels": {"zones": ["vessels/hue-zones.geojson"]}})
    built = vessel_rules(settings)
    assert [d.name for d in built] == ["vessel_rules", "encounter"]
    family = built[0]
    assert isinstance(family, VesselRuleSet)
    assert [m.name for m in family.members] == ["zone_dwell", "ais_gap", "loitering", "storm_ban"]
    assert family.kinds == frozenset({"vessel.position", "storm.warning"})
    single = vessel_rules(Settings(rules={"vessels": {"enabled": ["ais_gap", "encounter"]}}))
    assert [d.name for d in single] == ["ais_gap", "encounter"]
