"""AIS archives that publishers write as CSV, read row by row into the same records as NMEA.

Two layouts are known by their header line, the first line of each file:

- the Danish Maritime Authority's daily ``aisdk`` files (``# Timestamp,Type of mobile,MMSI,
  Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,Ship type,...``):
  times ``31/12/2015 23:59:59`` in UTC, day first; navigational status and ship type written as
  English words; ``Unknown``, ``Undefined`` and ``Unknown value`` where AIS sent nothing. Base
  stations, aids to navigation and other non-vessels are rows too (``Type of mobile``), and a static
  report is a row at latitude 91, longitude 181 (AIS's "not available").
- MarineCadastre's (US) ``AIS_YYYY_MM_DD.csv`` (``MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,
  VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass``, and the
  2024 files' ``mmsi,base_date_time,...`` names): ISO times in UTC; codes as numbers (a status in
  words in older files); the static data repeated on every row.

A row gives a position (when it has one) and the vessel's static data (when it names any, and
only when it differs from what this reader last gave for the vessel, so a repeated register entry
is not sent again with each position). The checks are those of an NMEA position
(:func:`ingest.vessels.ais_messages.position_record`). A row that cannot be read raises
:class:`~ingest.vessels.ais_messages.Reject` with the reason, a non-vessel's row :class:`NotAVessel`.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ingest.vessels.ais_messages import Reject, invalid_record, position_from_fields
from ioc.feeds.vessels.records import VesselPosition, VesselStatic

MAX_REMEMBERED_VESSELS = 200_000  # static data remembered to send only changes; forgotten past this
_NOTHING = frozenset({"", "unknown", "undefined", "unknown value", "not available", "n/a", "na", "null"})

#: ITU-R M.1371 navigational status codes by the words archives write (DMA, older MarineCadastre)
NAV_STATUS = {
    "under way using engine": 0, "underway using engine": 0, "at anchor": 1, "not under command": 2,
    "restricted maneuverability": 3, "restricted manoeuvrability": 3, "constrained by her draught": 4,
    "moored": 5, "aground": 6, "engaged in fishing": 7, "under way sailing": 8, "underway sailing": 8,
    "reserved for future amendment [hsc]": 9, "reserved for future amendment [wig]": 10,
    "power-driven vessel towing astern": 11, "power-driven vessel pushing ahead or towing alongside": 12,
    "reserved for future use": 13, "ais-sart is active": 14, "ais-sart": 14, "not defined": 15,
}
#: ITU-R M.1371 ship type codes (the first of each group) by DMA's words
SHIP_TYPE = {
    "wig": 20, "fishing": 30, "towing": 31, "towing long/wide": 32, "dredging": 33, "diving": 34,
    "military": 35, "sailing": 36, "pleasure": 37, "hsc": 40, "pilot": 50, "sar": 51, "tug": 52,
    "port tender": 53, "anti-pollution": 54, "law enforcement": 55, "medical": 58,
    "not party to conflict": 59, "passenger": 60, "cargo": 70, "tanker": 80, "other": 90,
}
#: the columns read, under each name a layout gives them (lower case)
COLUMNS = {
    "time": ("# timestamp", "timestamp", "basedatetime", "base_date_time"),
    "mobile": ("type of mobile",),
    "transceiver": ("transceiverclass", "transceiver_class", "transceiver"),
    "mmsi": ("mmsi",),
    "lat": ("latitude", "lat"),
    "lon": ("longitude", "lon"),
    "status": ("navigational status", "status"),
    "sog": ("sog",),
    "cog": ("cog",),
    "heading": ("heading",),
    "imo": ("imo",),
    "callsign": ("callsign", "call_sign"),
    "name": ("name", "vesselname", "vessel_name"),
    "ship_type": ("ship type", "vesseltype", "vessel_type"),
    "width": ("width",),
    "length": ("length",),
    "destination": ("destination",),
}
_REQUIRED = ("time", "mmsi", "lat", "lon")
_CONTROL = bytes(range(0, 32)) + b"\x7f"  # none in a row (PostgreSQL keeps no NUL in text)
_VESSELS = frozenset({"class a", "class b"})  # DMA's "Type of mobile" of a vessel's transponder
_OTHERS = frozenset({"base station", "aton", "sar airborne", "search and rescue transponder",
                     "man overboard device", "epirb"})  # and of the others (any else counts as "other")


_DMA_STAMP = re.compile(rb"^(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2}),")
_ISO_STAMP = re.compile(rb"^\d{1,9},(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})[,.Z+-]")


def row_stamp(line: bytes) -> float | None:
    """The UNIX time of an archive row, read as UTC, for pacing a replay; ``None`` for another line."""
    if (m := _DMA_STAMP.match(line)) is not None:
        day, month, year, hour, minute, second = map(int, m.groups())
    elif (m := _ISO_STAMP.match(line)) is not None:
        year, month, day, hour, minute, second = map(int, m.groups())
    else:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        return None


class NotAVessel(Exception):
    """A row of a base station, an aid to navigation or another non-vessel: not a vessel record."""


@dataclass(frozen=True)
class ArchiveLayout:
    """Which column holds what (by :data:`COLUMNS`' names), as one file's header line names them."""

    name: str
    columns: dict[str, int]
    width: int  # how many columns the header names


def archive_layout(line: bytes) -> ArchiveLayout | None:
    """The layout a CSV header line names, or ``None`` when ``line`` is no known archive's header."""
    start = line[:16].lower()
    if not (start.startswith(b"# timestamp,") or start.startswith(b"mmsi,")):
        return None
    try:
        names = [name.strip().lower() for name in next(csv.reader([line.decode("utf-8-sig")]))]
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    columns = {key: names.index(alias) for key, aliases in COLUMNS.items()
               for alias in aliases if alias in names}
    if any(key not in columns for key in _REQUIRED):
        return None
    return ArchiveLayout("dma" if "mobile" in columns else "marinecadastre", columns, len(names))


def row_time(text: str) -> datetime:
    """A row's time: DMA's ``31/12/2015 23:59:59`` or MarineCadastre's ISO ``2015-12-31T23:59:59``,
    UTC unless it names a zone; :class:`Reject` otherwise."""
    try:
        if len(text) >= 19 and text[2] == "/" and text[5] == "/":
            when = datetime.strptime(text[:19], "%d/%m/%Y %H:%M:%S")
        else:
            when = datetime.fromisoformat(text)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 with an offset, outside UTC's range
        raise Reject(f"bad archive time {text[:40]!r}") from None


class ArchiveReader:
    """Reads the rows of the archive whose header it last saw; remembers each vessel's static data."""

    def __init__(self) -> None:
        self.layout: ArchiveLayout | None = None
        self._statics: dict[int, tuple[Any, ...]] = {}

    def header(self, line: bytes) -> ArchiveLayout | None:
        """Take ``line`` as a header when it is one (a new file's, in a concatenation): its layout."""
        layout = archive_layout(line)
        if layout is not None:
            self.layout = layout
        return layout

    def row(self, line: bytes, simulated: bool) -> tuple[datetime, list[VesselPosition | VesselStatic]]:
        """One row's time and records; :class:`Reject` (with the reason) or :class:`NotAVessel`."""
        layout = self.layout
        assert layout is not None, "a row before any header"
        if len(line.translate(None, _CONTROL)) != len(line):
            raise Reject("control characters in archive row")
        try:
            fields = next(csv.reader([line.decode("utf-8")]))
        except UnicodeDecodeError:
            raise Reject("invalid UTF-8 in archive row") from None
        except (csv.Error, StopIteration) as exc:
            raise Reject(f"not a CSV row: {exc}") from None
        if len(fields) < max(layout.columns[key] for key in _REQUIRED) + 1:
            raise Reject(f"archive row of {len(fields)} columns, its header names {layout.width}")

        def get(key: str) -> str | None:
            at = layout.columns.get(key)
            value = fields[at].strip() if at is not None and at < len(fields) else ""
            return None if value.lower() in _NOTHING else value

        mobile = (get("mobile") or "").lower()
        if layout.name == "dma" and mobile not in _VESSELS:
            raise NotAVessel(mobile if mobile in _OTHERS else "other")
        when = row_time(get("time") or "")
        mmsi = _integer(get("mmsi"), "MMSI")
        if not mmsi or not 0 < mmsi <= 999_999_999:
            raise Reject(f"MMSI {get('mmsi')!r}: not a station identity")
        class_b = mobile == "class b" or (get("transceiver") or "").upper() == "B"
        records: list[VesselPosition | VesselStatic] = []
        lat, lon = _number(get("lat"), "latitude"), _number(get("lon"), "longitude")
        named, static = self._static(get, mmsi, when, simulated)
        if lat is not None and lon is not None and not (lat == 91 and lon == 181 and named):
            cog = _number(get("cog"), "COG")
            try:
                records.append(position_from_fields(
                    mmsi, lat, lon, _number(get("sog"), "SOG"), None if cog is None or cog < 0 else cog,
                    _integer(get("heading"), "heading"), None if class_b else _status(get("status")),
                    18 if class_b else None, when, simulated))
            except ValidationError as exc:
                raise invalid_record(exc) from None
        elif not named:
            raise Reject("position not available")
        if static is not None:  # remembered once the row is read: a dead letter's is sent again
            records.append(static)
            if len(self._statics) >= MAX_REMEMBERED_VESSELS:
                self._statics.clear()
            self._statics[mmsi] = static_values(static)
        return when, records

    def _static(self, get: Any, mmsi: int, when: datetime,
                simulated: bool) -> tuple[bool, VesselStatic | None]:
        """Whether the row names static data, and its record when that differs from the vessel's last."""
        imo = get("imo")
        imo_number = _integer(imo[3:] if imo and imo.upper().startswith("IMO") else imo, "IMO")
        kind = get("ship_type")
        ship_type = SHIP_TYPE.get(kind.lower()) if kind and not kind.isdigit() else _integer(kind, "type")
        length, beam = _number(get("length"), "length"), _number(get("width"), "width")
        fields = {"name": get("name"), "callsign": get("callsign"), "imo": imo_number or None,
                  "ship_type": ship_type if ship_type and ship_type <= 255 else None,
                  "length_m": length or None, "beam_m": beam or None, "destination": get("destination")}
        if not any(v is not None for v in fields.values()):
            return False, None
        try:
            static = VesselStatic(time=when, source_id=str(mmsi), mmsi=mmsi, simulated=simulated, **fields)
        except ValidationError as exc:
            raise invalid_record(exc) from None
        return True, None if self._statics.get(mmsi) == static_values(static) else static


def static_values(static: VesselStatic) -> tuple[Any, ...]:
    """What a static report says of its vessel (not when): a repeat of it says nothing new."""
    return (static.name, static.callsign, static.imo, static.ship_type, static.length_m, static.beam_m,
            static.destination)


def _number(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Reject(f"bad {what} {text[:20]!r}") from None
    if not math.isfinite(value):
        raise Reject(f"bad {what} {text[:20]!r}")
    return value


def _integer(text: str | None, what: str) -> int | None:
    value = _number(text, what)
    if value is None:
        return None
    if value != int(value):
        raise Reject(f"bad {what} {text!r}: not a whole number")
    return int(value)


def _status(text: str | None) -> int | None:
    """A navigational status code from its number or its words; ``None`` when not given."""
    if text is None:
        return None
    if text.isdigit():
        code = int(text)
        return code if code <= 15 else None
    code = NAV_STATUS.get(text.lower())
    if code is None:
        raise Reject(f"unknown navigational status {text[:40]!r}")
    return code
