"""One NMEA 0183 sentence, checked: its checksum, and the fields of an AIS (``!xxVDM``) sentence.

:func:`checked_sentence` and :func:`ais_sentence` check a sentence field by field and say what is
wrong with it (:class:`Reject`); :data:`AIS_LINE` reads a well-formed AIS sentence in one match, the
decoder's shortcut for the common case (``tests/test_ais_fast_paths.py`` holds the two to the same
decisions).
"""

from __future__ import annotations

import re
from functools import reduce
from operator import xor
from typing import NamedTuple

from ingest.vessels.ais_messages import Reject

HEX = b"0123456789ABCDEFabcdef"
# AIS payload armouring: ASCII 48..87 and 96..119.
PAYLOAD_CHARS = bytes(list(range(48, 88)) + list(range(96, 120)))
# An AIS sentence as checked_sentence and ais_sentence accept it: talker, fragment count and
# number (1-9), sequence id (0-9 or none), channel (one character or none), payload (armoured 6-bit
# characters), fill bits (0-5), checksum, then receiver metadata or nothing.
AIS_LINE = re.compile(
    rb"!([^,*]{2})VD[MO],([1-9]),([1-9]),([0-9]?),([^,*]?),([0-W`-w]*),([0-5])\*([0-9A-Fa-f]{2})(?:,(.*))?\Z",
    re.S)


class Sentence(NamedTuple):
    """The fields of one checked ``!AIVDM`` sentence."""

    count: int
    number: int
    seq: bytes
    channel: bytes
    payload: bytes
    fill: int


def nmea_checksum(body: bytes) -> int:
    """XOR of the bytes between the start delimiter and ``*`` (the NMEA 0183 checksum)."""
    return reduce(xor, body, 0)


def checked_sentence(line: bytes) -> tuple[bytes, bytes]:
    """The sentence up to its checksum (checked), and what follows it (receiver metadata)."""
    if line[:1] not in (b"!", b"$"):
        raise Reject("not an NMEA sentence (no '!' or '$' start)")
    star = line.find(b"*")
    if star < 0:
        raise Reject("missing checksum")
    given = line[star + 1 : star + 3]
    rest = line[star + 3 :]
    if len(given) != 2 or given.strip(HEX) or (rest and rest[:1] != b","):
        raise Reject(f"malformed checksum field {line[star + 1 : star + 9]!r}")
    expected = int(given, 16)
    actual = nmea_checksum(line[1:star])
    if actual != expected:
        raise Reject(f"bad checksum: computed {actual:02X}, sentence says {expected:02X}")
    return line[: star + 3], rest[1:]


def ais_sentence(sentence: bytes) -> Sentence:
    """The fields of a checked ``!xxVDM`` sentence; :class:`Reject` naming the first one that is wrong."""
    fields = sentence[:-3].split(b",")
    if len(fields) != 7:
        raise Reject(f"malformed AIS sentence: {len(fields)} fields, expected 7")
    _, count, number, seq, channel, payload, fill = fields
    if not (count.isdigit() and number.isdigit() and len(count) == 1 and len(number) == 1):
        raise Reject("malformed AIS sentence: fragment count/number")
    total, index = int(count), int(number)
    if not 1 <= index <= total:
        raise Reject(f"malformed AIS sentence: fragment {index} of {total}")
    if seq and not (seq.isdigit() and len(seq) == 1):
        raise Reject("malformed AIS sentence: sequence id")
    if len(channel) > 1:
        raise Reject("malformed AIS sentence: radio channel")
    if not payload and not 1 < index == total:  # an empty final fragment carries no bits
        raise Reject("empty AIS payload")
    if payload.translate(None, PAYLOAD_CHARS):
        raise Reject("invalid characters in AIS payload")
    if not (len(fill) == 1 and fill in b"012345"):
        raise Reject("malformed AIS sentence: fill bits")
    return Sentence(total, index, seq, channel, payload, int(fill))
