"""AIS messages to vessel records, by ITU-R M.1371: which types are used, how many bits each needs,
and the checks of a position or static record (see :mod:`ingest.vessels.nmea` for the whole).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyais.bit_vector import bit_vector
from pyais.messages import MSG_CLASS, to_10th, to_lat_lon, to_speed
from pydantic import ValidationError

from ioc.feeds.vessels.records import VesselPosition, VesselStatic

POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
STATIC_TYPES = frozenset({5, 24})
USED_TYPES = POSITION_TYPES | STATIC_TYPES

MAX_MESSAGE_TYPE = 27  # ITU-R M.1371-5 defines types 1-27; 0 and 28-63 are not messages
# Bit offsets of the 8-bit ship and cargo type (read raw: pyais's ShipType folds codes).
SHIP_TYPE_BIT = {5: 232, 19: 263, 24: 40}
MIN_BITS_19_STATIC = 301  # a type 19 carrying its name, type and dimensions
DIMENSION_LIMITS = (511, 63)  # "511 m or more" (bow/stern), "63 m or more" (port/starboard)

# Bits a message must carry for the fields read from it (shorter payloads are truncated).
MIN_BITS: dict[int, int] = {1: 137, 2: 137, 3: 137, 18: 133, 19: 133, 27: 94, 5: 420}
MIN_BITS_24 = {0: 160, 1: 162}
CLASS_A_BITS = 168  # a whole type 1-3 position report
# pyais's bit vector holds the payload as one integer on CPython (on PyPy, machine words)
_ONE_INTEGER = hasattr(bit_vector(b"1", 0), "_value")


class Reject(Exception):
    """This line (or message) becomes a dead letter with this reason."""


def _clean_text(value: Any) -> str | None:
    """An AIS 6-bit text field without padding; ``None`` when empty."""
    if not isinstance(value, str):
        return None
    text = value.split("@", 1)[0].strip()
    return text or None


def _int_or_none(value: Any, not_available: int = 0) -> int | None:
    if value is None:
        return None
    number = int(value)
    return None if number == not_available else number


_POSITION = VesselPosition.__pydantic_validator__.validate_python  # the constructor's core, from a dict


def position_record(msg: Any, msg_type: int, when: datetime, simulated: bool) -> VesselPosition:
    """The position of a decoded type 1-3, 18, 19 or 27 message; :class:`Reject` when it has none."""
    lat, lon, mmsi = msg.lat, msg.lon, msg.mmsi
    if lat is None or lon is None or mmsi is None:
        raise Reject("truncated payload: no position")
    status = msg.status if msg_type <= 3 or msg_type == 27 else None
    heading = None if msg_type == 27 else msg.heading
    return position_from_fields(int(mmsi), lat, lon, msg.speed, msg.course, heading,
                                None if status is None else int(status), msg_type, when, simulated)


def class_a_position(value: int, msg_type: int, when: datetime, simulated: bool) -> VesselPosition:
    """The position of a type 1-3 message of its full 168 bits, ``value`` its bits as one integer.

    The fields the record needs are read at the offsets of ITU-R M.1371 table 46 (those pyais's own
    fast path reads) and converted by pyais's functions, without building pyais's whole message
    (twenty fields, three enums) for each of the most frequent sentences; ``tests/test_ais_fast_paths.py``
    checks that it gives what :func:`position_record` makes of pyais's message."""
    mmsi = (value >> 130) & 0x3FFFFFFF
    if not mmsi:
        raise Reject("MMSI 0: not a station identity")
    lon = (value >> 79) & 0xFFFFFFF
    lat = (value >> 52) & 0x7FFFFFF
    return position_from_fields(mmsi, to_lat_lon(lat - 0x8000000 if lat & 0x4000000 else lat),  # 27 bits
                                to_lat_lon(lon - 0x10000000 if lon & 0x8000000 else lon),  # 28, signed
                                to_speed((value >> 108) & 1023), to_10th((value >> 40) & 4095),
                                (value >> 31) & 511, (value >> 126) & 15, msg_type, when, simulated)


def position_from_fields(mmsi: int, lat: float, lon: float, speed: float | None, course: float | None,
                         heading: int | None, status: int | None, msg_type: int | None, when: datetime,
                         simulated: bool) -> VesselPosition:
    """A checked position record; :class:`Reject` for a position that is none (not available, 0, 0).
    ``msg_type`` ``None``: a position read from an archive that does not say which message it was."""
    if lat == 91 or lon == 181:
        raise Reject("position not available")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Reject(f"position out of range: lat {lat}, lon {lon}")
    if lat == 0 and lon == 0:
        raise Reject("position 0, 0: a receiver's default, not a fix")
    if msg_type == 27:  # whole knots and degrees
        sog = None if speed is None or speed >= 63 else float(speed)
        cog = None if course is None or course >= 360 else float(course)
    else:
        sog = None if speed is None or speed >= 102.25 else round(speed, 1)
        cog = None if course is None or course >= 360 else round(course, 1)
        if heading is not None and heading >= 360:
            heading = None
    return _POSITION({"time": when, "source_id": str(mmsi), "mmsi": mmsi, "lat": float(lat),
                      "lon": float(lon), "sog": sog, "cog": cog, "heading": heading, "nav_status": status,
                      "msg_type": msg_type, "simulated": simulated})


def static_record(msg: Any, bv: Any, msg_type: int, when: datetime, simulated: bool) -> VesselStatic:
    """The static data of a decoded type 5, 19 or 24 message (``bv``: its bits, for the raw ship type)."""
    if msg.mmsi is None:
        raise Reject("truncated payload: no MMSI")
    mmsi = int(msg.mmsi)
    fields: dict[str, Any] = {}
    if msg_type in (5, 19):
        fields["name"] = _clean_text(msg.shipname)
        fields["ship_type"] = _int_or_none(bv.get(SHIP_TYPE_BIT[msg_type], 8))
        if msg_type == 5:
            fields["callsign"] = _clean_text(msg.callsign)
            fields["imo"] = _int_or_none(msg.imo)
            fields["destination"] = _clean_text(msg.destination)
        _dimensions(msg, fields)
    elif getattr(msg, "partno", None) == 0:
        fields["name"] = _clean_text(msg.shipname)
    else:
        fields["callsign"] = _clean_text(msg.callsign)
        fields["ship_type"] = _int_or_none(bv.get(SHIP_TYPE_BIT[24], 8))
        if hasattr(msg, "to_bow"):  # not an auxiliary craft's (mothership MMSI instead)
            _dimensions(msg, fields)
    return VesselStatic(time=when, source_id=str(mmsi), mmsi=mmsi, simulated=simulated, **fields)

def _dimensions(msg: Any, fields: dict[str, Any]) -> None:
    """Length and beam; ``None`` when not available (0) or at the field's "or more" limit."""
    bow, stern = int(msg.to_bow or 0), int(msg.to_stern or 0)
    port, starboard = int(msg.to_port or 0), int(msg.to_starboard or 0)
    long_limit, wide_limit = DIMENSION_LIMITS
    length = 0 if long_limit in (bow, stern) else bow + stern
    beam = 0 if wide_limit in (port, starboard) else port + starboard
    fields["length_m"] = float(length) if length else None
    fields["beam_m"] = float(beam) if beam else None


def message_records(payload: bytes, fill: int, msg_type: int, when: datetime,
                    simulated: bool) -> list[VesselPosition | VesselStatic]:
    """The records of one complete AIS message of a used type; :class:`Reject` with the reason."""
    bits = len(payload) * 6 - fill
    bv = bit_vector(payload, fill)
    if msg_type == 24:
        part = bv.get(38, 2) if bits >= 40 else -1
        need = MIN_BITS_24.get(part)
        if need is None:
            raise Reject(f"type 24 with unknown part number {part}")
    else:
        need = MIN_BITS[msg_type]
    if bits < need:
        raise Reject(f"truncated payload: type {msg_type} has {bits} bits, needs {need}")
    try:
        if msg_type <= 3 and bits == CLASS_A_BITS and _ONE_INTEGER:
            return [class_a_position(bv._value, msg_type, when, simulated)]
        try:
            decoded = MSG_CLASS[msg_type].from_vector(bv)
        except Exception as exc:
            raise Reject(f"undecodable AIS payload: {type(exc).__name__}: {exc}") from None
        if decoded.mmsi is not None and int(decoded.mmsi) == 0:
            raise Reject("MMSI 0: not a station identity")
        if msg_type not in POSITION_TYPES:
            return [static_record(decoded, bv, msg_type, when, simulated)]
        records: list[VesselPosition | VesselStatic] = [position_record(decoded, msg_type, when, simulated)]
        if msg_type == 19 and bits >= MIN_BITS_19_STATIC:
            records.append(static_record(decoded, bv, msg_type, when, simulated))
        return records
    except ValidationError as exc:
        raise invalid_record(exc) from None


def invalid_record(exc: ValidationError) -> Reject:
    """The dead letter of a record pydantic refused: its first error, where and what."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return Reject(f"invalid record: {where}: {first['msg']}")
