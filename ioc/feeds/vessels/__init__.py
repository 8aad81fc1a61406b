"""The vessel feed: AIS positions and static reports of fishing boats, and storm warnings at sea."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ioc.feeds.base import FeedSpec
from ioc.feeds.vessels.records import StormWarning, VesselCellPosition, VesselPosition, VesselStatic
from ioc.feeds.vessels.schema import RAW_VESSEL_TABLES, VESSEL_POSITIONS, VESSEL_STATIC, apply_vessels
from ioc.feeds.vessels.settings import VesselRules
from ioc.feeds.vessels.warnings_schema import STORM_WARNINGS as STORM_WARNING_TABLE
from ioc.feeds.vessels.warnings_schema import apply_storm_warnings
from ioc.records import Event
from ioc.store.tables import Migration

POSITIONS = "ioc.vessels.positions"
CELL_POSITIONS = "ioc.vessels.cells"  # positions keyed by map cell, for rules about pairs of vessels
STORM_WARNINGS = "ioc.weather.warnings"  # every detector process reads all of them


def cell_copies(record: Event, settings: Any) -> Iterator[tuple[str, str, bytes]]:
    """A position's copies for the map cells it is in or near (:mod:`ioc.cells`)."""
    if not isinstance(record, VesselPosition) or isinstance(record, VesselCellPosition):
        return
    from ioc.cells import CellRouter  # imported here: ioc.cells reads the settings, which read the feeds

    router = settings if isinstance(settings, CellRouter) else CellRouter(settings.bus.cells)
    for copy in router.records(record):
        yield CELL_POSITIONS, copy.cell, copy.to_wire()


SPEC = FeedSpec(
    name="vessels",
    rule_titles={
        "ais_gap": "AIS gap (dark)",
        "encounter": "Encounter at sea",
        "loitering": "Loitering",
        "storm_ban": "In storm-ban area",
        "zone_dwell": "In a protected zone",
        "vessel": "Vessel",
        "vessel_rules": "Vessel rules",
    },
    title="Vessels",
    events=(VesselPosition, VesselCellPosition, VesselStatic, StormWarning),
    topics={
        "vessel.position": POSITIONS,
        "vessel.cell_position": CELL_POSITIONS,
        "vessel.static": "ioc.vessels.static",
        "storm.warning": STORM_WARNINGS,
    },
    broadcast=frozenset({STORM_WARNINGS}),
    tables=(VESSEL_POSITIONS, VESSEL_STATIC, STORM_WARNING_TABLE),
    migrations=(Migration(1, "vessel positions, static reports and the register", apply_vessels),
                Migration(2, "storm warnings kept, so a replay has them", apply_storm_warnings)),
    raw_tables=(*RAW_VESSEL_TABLES, "storm_warnings"),
    fan_out=cell_copies,
    rules=VesselRules,
)
