"""The decoder's fast paths give exactly what its full checks and pyais's whole decode give.

Two shortcuts carry most AIS lines: one regular expression reads a well-formed ``!xxVDM`` sentence
(instead of checking it field by field), and a whole type 1-3 report is read straight from pyais's
bit vector (instead of building pyais's message object). Each is compared here with the long way
round on real logs, a simulated fleet, lines damaged at random and payloads drawn at random.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ingest.vessels.ais_messages as ais_messages
import ingest.vessels.nmea as nmea
from ingest.vessels.ais_messages import Reject, message_records
from ingest.vessels.nmea import AisDecoder
from ingest.vessels.simulator import FleetSimulator

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
START = datetime(2025, 9, 1, tzinfo=UTC)
ARMOUR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"
NEVER = re.compile(rb"(?!)")  # a pattern that matches nothing: every line the long way


def corpus() -> list[tuple[bytes, datetime]]:
    """Both real logs and twenty minutes of a simulated fleet (tag blocks, two-part statics)."""
    sim = FleetSimulator(START, vessels=40, report_seconds=10, seed=5)
    begin = START + timedelta(hours=1.5)
    end = begin + timedelta(minutes=20)
    lines = [(line.encode("ascii"), when) for when, line in sim.sentences(end, begin)]
    end = lines[-1][1]
    for name in ("ais-nmea.log", "test_data_20211101.nm4"):
        lines += [(line, end) for line in (SAMPLES / name).read_bytes().splitlines()]
    return lines


def damaged(lines: list[tuple[bytes, datetime]], seed: int = 11) -> list[tuple[bytes, datetime]]:
    """Copies of lines with one byte changed, dropped or doubled (checksums left as they were, or
    made right again half the time, so the damage reaches the field checks)."""
    rng = random.Random(seed)
    out = []
    for line, when in rng.sample([(ln, w) for ln, w in lines if ln], 3000):
        at = rng.randrange(len(line))
        what = rng.choice(("set", "drop", "double"))
        if what == "set":
            bad = line[:at] + bytes([rng.choice(b"!$*,\\01256789AZaz`w:@XY_~ ")]) + line[at + 1:]
        elif what == "drop":
            bad = line[:at] + line[at + 1:]
        else:
            bad = line[:at] + line[at:at + 1] * 2 + line[at + 1:]
        star = bad.rfind(b"*")
        bang = max(bad.rfind(b"!"), bad.rfind(b"$"))
        if rng.random() < 0.5 and 0 <= bang < star and len(bad) >= star + 3:
            body = bad[bang + 1:star]
            checksum = nmea.nmea_checksum(body)
            bad = bad[:star + 1] + f"{checksum:02X}".encode() + bad[star + 3:]
        out.append((bad, when))
    return out


def checksummed(body: str) -> bytes:
    return f"!{body}*{nmea.nmea_checksum(body.encode()):02X}".encode()


# Each a flaw in one field of a real type 1 sentence (gpsd's log), checksum made right (CONSTRUCTED).
EDGES = [checksummed(body) for body in (
    "AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,6", "AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,",
    "AIVDM,0,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0", "AIVDM,1,2,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0",
    "AIVDM,1,1,12,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0", "AIVDM,1,1,,AB,13aDp<PP000IwSlN?Wm@0?wN2<1T,0",
    "AIVDM,1,1,,,13aDp<PP000IwSlN?Wm@0?wN2<1T,0", "A*VDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0",
    "AIVDM,1,1,,B,,0", "AIVDM,2,1,3,B,,0", "AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0,extra",
    "AIVDMX,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0", "AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1x,0",
    "AIVDO,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0", "BSVDM,1,1,a,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0",
)] + [b"$AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29", b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29,",
      b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29x", b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*2"]


def outcome(lines: list[tuple[bytes, datetime]]) -> tuple[Any, ...]:
    """Everything a decoder makes of the lines: records, dead letters, counters."""
    decoder = AisDecoder()
    records = []
    for line, when in lines:
        records += decoder.feed(line, when)
    decoder.flush(lines[-1][1])
    dead = [(d.reason, d.payload) for d in decoder.take_dead_letters()]
    stats = decoder.stats
    counters = (stats.lines, stats.sentences, stats.messages, stats.positions, stats.statics,
                stats.lines_decoded, stats.lines_ignored, stats.lines_dead, dict(stats.ignored_other),
                dict(stats.ignored_by_type), dict(stats.dead_letter_reasons))
    return records, dead, counters


def test_the_sentence_fast_path_decides_as_the_field_checks_do(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = corpus()
    lines += damaged(lines) + [(line, lines[-1][1]) for line in EDGES]
    fast = outcome(lines)
    monkeypatch.setattr(nmea, "AIS_LINE", NEVER)
    slow = outcome(lines)
    assert fast[2] == slow[2]
    assert fast[1] == slow[1]
    assert fast[0] == slow[0]
    records, dead, counters = fast
    assert counters[3] > 4000 and len(dead) > 1000  # both paths, many times


def payload(value: int) -> bytes:
    """168 bits as AIS armoured characters."""
    return "".join(ARMOUR[(value >> (162 - 6 * i)) & 63] for i in range(28)).encode()


def with_field(value: int, offset: int, width: int, field: int) -> int:
    """``value`` with ``width`` bits at bit ``offset`` (from the first) set to ``field``."""
    shift = 168 - offset - width
    return (value & ~(((1 << width) - 1) << shift)) | ((field & ((1 << width) - 1)) << shift)


def records_or_reason(data: bytes, msg_type: int) -> Any:
    try:
        return message_records(data, 0, msg_type, START, False)
    except Reject as exc:
        return f"reject: {exc}"


def test_a_class_a_report_read_from_the_bits_is_what_pyais_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    values = []
    for _ in range(3000):
        value = with_field(rng.getrandbits(168), 0, 6, rng.choice((1, 2, 3)))
        values.append(value)
    special = {  # (offset, width): values the record treats apart
        (8, 30): (0, 1, 999_999_999, 1_000_000_000, (1 << 30) - 1),  # MMSI 0, too large
        (38, 4): (0, 8, 15),  # navigational status
        (50, 10): (0, 1022, 1023),  # speed: 102.2, not available
        (61, 28): (0, 181 * 600_000, -180 * 600_000, (1 << 27) - 1, 1 << 27),  # lon, 181: not available
        (89, 27): (0, 91 * 600_000, -90 * 600_000, -91 * 600_000),  # lat, 91: not available
        (116, 12): (0, 3599, 3600, 4095),  # course
        (128, 9): (0, 359, 360, 511),  # heading: 511 not available
    }
    for (offset, width), fields in special.items():
        for field in fields:
            values += [with_field(v, offset, width, field) for v in values[:20]]
    both = [with_field(with_field(values[0], 61, 28, 0), 89, 27, 0)]  # 0, 0: null island
    values += both
    samples = [(payload(v), v >> 162) for v in values]
    fast = [records_or_reason(data, t) for data, t in samples]
    monkeypatch.setattr(ais_messages, "_ONE_INTEGER", False)  # pyais's whole message, every time
    slow = [records_or_reason(data, t) for data, t in samples]
    assert fast == slow
    reasons = {r.split(":")[1].strip() for r in fast if isinstance(r, str)}
    assert {"MMSI 0", "position not available", "position out of range", "position 0, 0",
            "invalid record"} <= reasons
    assert sum(1 for r in fast if not isinstance(r, str)) > 500


def test_a_repeated_tag_block_is_read_once_but_its_time_is_checked_on_every_line() -> None:
    block = "s:HUE1,c:1756690201"
    tag = f"\\{block}*{nmea.nmea_checksum(block.encode()):02X}\\".encode()
    line = tag + b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29"
    stamp = datetime.fromtimestamp(1756690201, UTC)
    decoder = AisDecoder()
    assert [r.time for r in decoder.feed(line, stamp)] == [stamp]
    assert decoder.feed(line, stamp - timedelta(hours=1)) == []  # the same block, received an hour before
    assert [r.time for r in decoder.feed(line, stamp + timedelta(seconds=1))] == [stamp]
    dead = decoder.take_dead_letters()
    assert len(dead) == 1 and "in the future of its receive time" in dead[0].reason
    assert decoder.stats.balanced()
