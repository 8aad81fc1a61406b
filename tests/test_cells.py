"""Map cells of ``ioc.vessels.cells``: which cells a position goes to, and the encounter's ownership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.registry import vessel_rules
from detectors.vessels import EncounterDetector, ZoneIndex
from ioc.cells import CellRouter, cell_id
from ioc.config import ConfigError, MapCellSettings, Settings
from ioc.events import decode
from ioc.feeds.vessels.records import VesselCellPosition, VesselPosition

T0 = datetime(2026, 3, 1, tzinfo=UTC)
M_PER_DEG = 111_195.0


def at(minute: int, lat: float, lon: float, mmsi: int = 999_500_001) -> VesselPosition:
    return VesselPosition(time=T0 + timedelta(minutes=minute), source_id=str(mmsi), mmsi=mmsi, lat=lat,
                          lon=lon, sog=0.5, simulated=True)


def test_a_position_goes_home_first_then_to_the_cells_within_the_halo_and_those_it_left_lately() -> None:
    router = CellRouter(MapCellSettings(size_deg=0.1, halo_m=1000, hold_minutes=30))
    mid = at(0, 16.85, 107.75)
    assert router.cells(mid) == ["168:1077"]
    near_border = at(2, 16.9 - 500 / M_PER_DEG, 107.75)  # 500 m south of the 16.9 line
    assert router.cells(near_border) == ["168:1077", "169:1077"]
    away = at(10, 16.85, 107.75)  # back in the middle: the northern cell still hears of it
    assert router.cells(away) == ["168:1077", "169:1077"]
    assert router.cells(at(33, 16.85, 107.75)) == ["168:1077"]  # 31 minutes later: no longer
    copies = router.records(at(40, 16.9 - 500 / M_PER_DEG, 107.8 - 100 / M_PER_DEG))
    assert [c.cell for c in copies] == ["168:1077", "168:1078", "169:1077", "169:1078"]
    wire = decode(copies[1].to_wire())
    assert isinstance(wire, VesselCellPosition) and wire.key == "168:1078" and wire.cell_deg == 0.1


def test_an_encounter_instance_signals_only_pairs_whose_midpoint_is_in_its_cells() -> None:
    lat = 16.9 - 1000 / M_PER_DEG  # 1 km south of a cell border: both cells get both vessels

    def fold(cells: set[str] | None) -> list[str]:
        detector = EncounterDetector(ZoneIndex([]))
        router = CellRouter(MapCellSettings(size_deg=0.1))
        out = []
        for minute in range(0, 200, 2):
            for p in (at(minute, lat, 107.75, 1), at(minute, lat + 100 / M_PER_DEG, 107.75, 2)):
                for copy in router.records(p):
                    if cells is None or copy.cell in cells:
                        out += detector.observe(copy)
        out += detector.advance(T0 + timedelta(hours=6))
        return [s.status for s in out]

    home, north = cell_id(lat, 107.75, 0.1), cell_id(16.95, 107.75, 0.1)
    assert fold(None) == ["firing", "resolved"]  # every cell: the embedded mode
    assert fold({home}) == ["firing", "resolved"]  # the partition of the pair's cell
    assert fold({north}) == []  # sees the same pair, leaves it to its owner


def test_the_cells_halo_and_hold_must_cover_the_encounter_rule() -> None:
    settings = Settings(rules={"vessels": {"enabled": ["encounter"], "encounter": {"max_distance_m": 6000}}},
                        bus={"cells": {"halo_m": 5000}})
    with pytest.raises(ConfigError, match="halo"):
        vessel_rules(settings)
    settings = Settings(rules={"vessels": {"enabled": ["encounter"]}}, bus={"cells": {"hold_minutes": 20}})
    with pytest.raises(ConfigError, match="hold_minutes"):
        vessel_rules(settings)
    defaults = Settings(rules={"vessels": {"enabled": ["encounter"]}})
    assert [r.name for r in vessel_rules(defaults)] == ["encounter"]
