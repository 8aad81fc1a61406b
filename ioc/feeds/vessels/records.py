"""The vessel feed's records: AIS positions (also as map-cell copies), static reports, storm warnings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from ioc.records import FLOAT4_MAX, INT8_MAX, Event, Int2, Latitude, Longitude, Severity


class VesselPosition(Event):
    """An AIS position report (types 1-3, 18, 19, 27); ``source_id`` is the MMSI."""

    kind: Literal["vessel.position"] = "vessel.position"
    mmsi: Annotated[int, Field(ge=0, le=999_999_999)]
    lat: Latitude
    lon: Longitude
    sog: Annotated[float, Field(ge=0, le=102.3)] | None = None
    cog: Annotated[float, Field(ge=0, lt=360)] | None = None
    heading: Annotated[int, Field(ge=0, lt=360)] | None = None
    nav_status: Int2 | None = None
    msg_type: Int2 | None = None
    simulated: bool = False


class VesselCellPosition(VesselPosition):
    """A vessel position as sent to one map cell of ``ioc.vessels.cells`` (see :mod:`ioc.cells`).

    Keyed by ``cell``, so the positions of every vessel near a cell meet in one partition:
    rules about pairs of vessels (encounters) read this topic. ``cell_deg`` is the grid.
    """

    kind: Literal["vessel.cell_position"] = "vessel.cell_position"  # type: ignore[assignment]
    cell: Annotated[str, Field(min_length=1, max_length=64)]
    cell_deg: Annotated[float, Field(gt=0, le=10)]

    @property
    def key(self) -> str:
        return self.cell


class VesselStatic(Event):
    """AIS static and voyage data (types 5, 19, 24) for the vessel register.

    ``ship_type`` is the raw ITU-R M.1371 ship and cargo type code (1-255; ``None``: not
    available); its category is derived where it is shown.
    """

    kind: Literal["vessel.static"] = "vessel.static"
    mmsi: Annotated[int, Field(ge=0, le=999_999_999)]
    name: str | None = None
    callsign: str | None = None
    imo: Annotated[int, Field(ge=0, le=INT8_MAX)] | None = None
    ship_type: Annotated[int, Field(ge=0, le=255)] | None = None
    length_m: Annotated[float, Field(ge=0, le=FLOAT4_MAX)] | None = None
    beam_m: Annotated[float, Field(ge=0, le=FLOAT4_MAX)] | None = None
    destination: str | None = None
    simulated: bool = False




class StormWarning(Event):
    """A storm warning that closes a sea area to boats for a time.

    ``time`` is when it was issued; ``source_id`` the issuer (e.g. ``nchmf``, Vietnam's
    National Centre for Hydro-Meteorological Forecasting, or the provincial border guard).
    """

    kind: Literal["storm.warning"] = "storm.warning"
    warning_id: str = Field(min_length=1, max_length=96)
    title: str = Field(default="", max_length=512)
    zone_id: str | None = None
    area: dict[str, Any] | None = None
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    severity: Severity = "critical"

    @model_validator(mode="after")
    def _check(self) -> StormWarning:
        if (self.zone_id is None) == (self.area is None):
            raise ValueError("set exactly one of zone_id or area")
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if self.area is not None and self.area.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("area must be a GeoJSON Polygon or MultiPolygon")
        return self

    @property
    def key(self) -> str:
        """Warnings are keyed by their id, so a re-issued warning follows the one it replaces."""
        return self.warning_id
