"""The AIS NMEA decoder on real recorded logs, multi-part messages, tag blocks and hostile input."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import xor
from pathlib import Path

import pytest

from ingest.vessels.nmea import AisDecoder, TooLong, VesselRecord
from ingest.vessels.sources import FileSource
from ioc.events import decode
from ioc.feeds.vessels.records import VesselPosition, VesselStatic

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
GPSD_LOG = SAMPLES / "ais-nmea.log"
AISDB_LOG = SAMPLES / "test_data_20211101.nm4"
RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)

# A real type 5 (static and voyage data) in two parts, from gpsd's ais-nmea.log.
T5_PART1 = b"!AIVDM,2,1,9,B,55R3Vn82=ILTQ3KKS>1<D60Dq@E918U<F222221J1`?164vc03S1CCAD,0*2A"
T5_PART2 = b"!AIVDM,2,2,9,B,`88888888888880,2*76"
# A real type 1 position, also from that log.
T1 = b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29"


def with_checksum(body: str) -> bytes:
    """``!body*hh`` with a correct checksum."""
    return f"!{body}*{reduce(xor, body.encode(), 0):02X}".encode()


def tag(block: str) -> str:
    """A tag block with a correct checksum."""
    return f"\\{block}*{reduce(xor, block.encode(), 0):02X}\\"


def decode_file(path: Path) -> tuple[AisDecoder, list[VesselRecord], list]:
    """Every line of a file through the real file source and the decoder."""
    decoder = AisDecoder()
    records: list[VesselRecord] = []
    source = FileSource(path, clock=lambda: RECEIVED)
    for lines, received in source.read(threading.Event()):
        for line in lines:
            records.extend(decoder.feed(line, received))
            assert decoder.stats.balanced()
    decoder.flush(RECEIVED)
    return decoder, records, decoder.take_dead_letters()


# -- real logs ------------------------------------------------------------------------------


def test_gpsd_log_every_line_accounted_for() -> None:
    decoder, records, dead = decode_file(GPSD_LOG)
    stats = decoder.stats
    positions = [r for r in records if isinstance(r, VesselPosition)]
    statics = [r for r in records if isinstance(r, VesselStatic)]
    assert stats.lines == 1500
    assert stats.sentences == 183  # the !AIVDM sentences of the log
    assert len(positions) == 141 == stats.positions
    assert len({p.mmsi for p in positions}) == 30
    assert Counter(p.msg_type for p in positions) == {1: 116, 3: 18, 18: 7}
    assert len(statics) == 21 == stats.statics
    assert len({s.mmsi for s in statics}) == 17
    assert stats.ignored_by_type == {8: 6}
    assert stats.ignored_other == {
        "comment": 4,
        "nmea:GPGGA": 164,
        "nmea:GPGLL": 164,
        "nmea:GPGSA": 165,
        "nmea:GPGSV": 492,
        "nmea:GPRMC": 164,
        "nmea:GPVTG": 164,
    }
    assert [d.reason for d in dead] == ["position not available"] * 3
    assert stats.lines_decoded + stats.lines_ignored + stats.lines_dead == stats.lines
    assert all(p.time == RECEIVED for p in records)  # no tag blocks: the receive time
    sea_enterprise = next(s for s in statics if s.mmsi == 371255000)
    assert sea_enterprise.name == "SEA ENTERPRISE"
    assert sea_enterprise.callsign == "HP6683"
    assert sea_enterprise.imo == 9266633
    assert (sea_enterprise.length_m, sea_enterprise.beam_m) == (28.0, 7.0)
    assert sea_enterprise.destination == "LEMMER"
    for record in records:  # every record survives the wire
        assert decode(record.to_wire()) == record


def test_aisdb_log_every_line_accounted_for() -> None:
    decoder, records, dead = decode_file(AISDB_LOG)
    stats = decoder.stats
    positions = [r for r in records if isinstance(r, VesselPosition)]
    statics = [r for r in records if isinstance(r, VesselStatic)]
    assert stats.lines == 1000
    assert stats.sentences == 997
    assert len(positions) == 914
    assert len({p.mmsi for p in positions}) == 798
    assert Counter(p.msg_type for p in positions) == {1: 606, 3: 104, 18: 74, 19: 4, 27: 126}
    assert len(statics) == 46  # 42 from types 5 and 24, 4 from the type 19 positions
    assert stats.ignored_by_type == {4: 5, 6: 1, 8: 1, 21: 11, 25: 2}
    assert stats.ignored_other == {"blank": 3}
    # a real type 1 from MMSI 0 (no station identity) is a dead letter, not a vessel
    assert [d.reason for d in dead] == ["position not available"] * 2 + ["MMSI 0: not a station identity"]
    assert stats.lines_decoded + stats.lines_ignored + stats.lines_dead == 1000
    # Event time comes from the tag blocks' c: field (one minute of 1 November 2021).
    assert min(p.time for p in positions) == datetime(2021, 11, 1, 1, 58, 7, tzinfo=UTC)
    assert max(p.time for p in positions) == datetime(2021, 11, 1, 1, 59, 6, tzinfo=UTC)
    type27 = [p for p in positions if p.msg_type == 27]
    assert all(p.heading is None for p in type27)
    assert all(p.sog is None or p.sog == int(p.sog) for p in type27)


# -- multi-part messages --------------------------------------------------------------------


def _static(records: list[VesselRecord]) -> VesselStatic:
    assert len(records) == 1 and isinstance(records[0], VesselStatic)
    return records[0]


def test_multipart_in_order_and_reversed() -> None:
    decoder = AisDecoder()
    assert decoder.feed(T5_PART1, RECEIVED) == []
    assert decoder.stats.pending_lines == 1 and decoder.stats.balanced()
    static = _static(decoder.feed(T5_PART2, RECEIVED + timedelta(seconds=1)))
    assert static.mmsi == 371255000 and static.name == "SEA ENTERPRISE"
    assert static.time == RECEIVED  # the group's first receive time
    assert decoder.stats.lines_decoded == 2 and decoder.stats.pending_lines == 0
    # Without a tag-block group only the order ties the parts together: a part 2 with no part 1
    # waiting is dead at once (kept, it would glue onto the next part 1 with the same id).
    decoder = AisDecoder()
    assert decoder.feed(T5_PART2, RECEIVED) == []
    [stray] = decoder.take_dead_letters()
    assert stray.reason == (
        "incomplete multi-part message: fragment 2 of 2 without the fragments before it "
        "(lost or out of order)"
    )
    assert decoder.feed(T5_PART1, RECEIVED) == [] and decoder.pending_groups == 1
    # With a group id the parts may come in any order.
    decoder = AisDecoder()
    assert decoder.feed(tag("g:2-2-77").encode() + T5_PART2, RECEIVED) == []
    assert _static(decoder.feed(tag("g:1-2-77").encode() + T5_PART1, RECEIVED)).name == "SEA ENTERPRISE"


def test_multipart_groups_interleaved_by_channel_and_sequence() -> None:
    other1 = T5_PART1.replace(b",9,B,", b",9,A,")
    other2 = T5_PART2.replace(b",9,B,", b",9,A,")
    other1 = with_checksum(other1[1 : other1.rindex(b"*")].decode())
    other2 = with_checksum(other2[1 : other2.rindex(b"*")].decode())
    decoder = AisDecoder()
    out: list[VesselRecord] = []
    for line in (T5_PART1, other1, T1, other2, T5_PART2):
        out += decoder.feed(line, RECEIVED)
    assert [r.kind for r in out] == ["vessel.position", "vessel.static", "vessel.static"]
    assert decoder.take_dead_letters() == []


def test_multipart_timeout_interruption_buffer_and_end_of_input() -> None:
    decoder = AisDecoder(fragment_timeout=timedelta(seconds=10), max_pending_groups=2)
    decoder.feed(T5_PART1, RECEIVED)
    decoder.expire(RECEIVED + timedelta(seconds=9))
    assert decoder.take_dead_letters() == []
    decoder.expire(RECEIVED + timedelta(seconds=10))
    [late] = decoder.take_dead_letters()
    assert late.reason == "incomplete multi-part message: 1 of 2 fragments, timed out"
    assert late.payload == T5_PART1
    assert decoder.feed(T5_PART2, RECEIVED + timedelta(seconds=11)) == []  # its partner is gone
    [orphan] = decoder.take_dead_letters()
    assert "fragment 2 of 2 without the fragments before it" in orphan.reason
    # A second part 1 on the same channel and sequence id interrupts the waiting group...
    assert decoder.feed(T5_PART1, RECEIVED + timedelta(seconds=12)) == []
    assert decoder.feed(T5_PART1, RECEIVED + timedelta(seconds=12)) == []
    [interrupted] = decoder.take_dead_letters()
    assert interrupted.reason.endswith("interrupted by another message on the same channel/sequence")
    assert interrupted.payload == T5_PART1
    # ... and its part 2 completes the newer one.
    assert _static(decoder.feed(T5_PART2, RECEIVED + timedelta(seconds=13))).name == "SEA ENTERPRISE"
    # Three groups into a buffer of two: the oldest goes.
    later = RECEIVED + timedelta(seconds=14)
    decoder.feed(T5_PART1, later)
    for seq in (1, 2):
        decoder.feed(with_checksum(f"AIVDM,2,1,{seq},A,55R3Vn82=ILTQ3KKS>1<D60Dq@E918U<F2,0"), later)
    [evicted] = decoder.take_dead_letters()
    assert evicted.reason.endswith("multi-part buffer full") and evicted.payload == T5_PART1
    assert decoder.pending_groups == 2
    decoder.flush(later)
    assert [d.reason.endswith("input ended") for d in decoder.take_dead_letters()] == [True, True]
    stats = decoder.stats
    assert stats.pending_lines == 0 and stats.balanced() and stats.lines_dead == 6
    assert stats.lines_decoded == 2 and stats.lines == 8


def test_multipart_by_tag_block_group_without_channel() -> None:
    # Real lines from the aisdb sample: the parts share the tag-block group g:...-3454, and only
    # the first part carries the source and time; their AIVDM channel field is empty.
    part1 = (
        b"\\g:1-2-3454,s:41925,c:1635731893,t:1635731965*19\\"
        b"!AIVDM,2,1,2,,57`B?hl2CdtQ`lO;SK9L4Tl5@62222222222220l1@>666QVS>1jDhSl,0*20"
    )
    part2 = b"\\g:2-2-3454*5B\\!AIVDM,2,2,2,,SQH888888888880,2*15"
    decoder = AisDecoder()
    assert decoder.feed(part1, RECEIVED) == []
    static = _static(decoder.feed(part2, RECEIVED))
    assert static.time == datetime.fromtimestamp(1635731893, UTC)
    assert static.mmsi > 0 and decoder.take_dead_letters() == []


# -- tag blocks -----------------------------------------------------------------------------


def test_tag_block_time_seconds_and_milliseconds() -> None:
    decoder = AisDecoder()
    [seconds] = decoder.feed(tag("s:rx1,c:1700000000").encode() + T1, RECEIVED)
    [millis] = decoder.feed(tag("c:1700000000250,s:rx1").encode() + T1, RECEIVED)
    [plain] = decoder.feed(T1, RECEIVED)
    assert seconds.time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert millis.time == seconds.time + timedelta(milliseconds=250)
    assert plain.time == RECEIVED


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\\s:rx1,c:1700000000*00\\" + T1, "bad tag block checksum"),
        (b"\\s:rx1,c:1700000000\\" + T1, "tag block checksum missing"),
        (b"\\s:rx1,c:17000" + T1, "unterminated tag block"),
        (tag("c:soon").encode() + T1, "bad tag block time 'soon'"),
        (tag("c:99999999999999999999").encode() + T1, "bad tag block time"),
        (tag("c:1900000000").encode() + T1, "in the future of its receive time"),
        (tag("g:1-x-3").encode() + T1, "malformed tag block group"),
    ],
)
def test_bad_tag_blocks_are_dead_letters(line: bytes, reason: str) -> None:
    decoder = AisDecoder()
    assert decoder.feed(line, RECEIVED) == []
    [dead] = decoder.take_dead_letters()
    assert reason in dead.reason
    assert dead.payload == line


# -- positions and statics ------------------------------------------------------------------


def test_position_fields_and_not_available_values() -> None:
    decoder = AisDecoder(simulated=True)
    [pos] = decoder.feed(T1, RECEIVED)
    assert isinstance(pos, VesselPosition)
    assert (pos.mmsi, pos.source_id, pos.msg_type, pos.nav_status) == (244660274, "244660274", 1, 0)
    assert (pos.lat, pos.lon, pos.sog, pos.cog) == (52.855395, 5.678283, 0.0, 0.0)
    assert pos.heading is None  # 511 = not available
    assert pos.simulated is True


def test_type24_parts_a_and_b() -> None:
    # Real part A (name) and part B (call sign, type, size) lines of two vessels, aisdb sample.
    part_a = b"\\s:41925,c:1635731889,t:1635731965*66\\!AIVDM,1,1,,,H7`BQr19D60lt4p622222222220,2*0B"
    part_b = b"\\s:41925,c:1635731889,t:1635731965*66\\!AIVDM,1,1,,,H7`BQqlUFC@D2cBJ=Ilkpi18932<,0*1C"
    decoder = AisDecoder()
    a = _static(decoder.feed(part_a, RECEIVED))
    b = _static(decoder.feed(part_b, RECEIVED))
    assert (a.mmsi, a.name, a.callsign, a.length_m) == (512008680, "RUA MOANA", None, None)
    assert (b.mmsi, b.name, b.callsign, b.ship_type) == (512008679, None, "ZMY4381", 37)
    assert (b.length_m, b.beam_m) == (18.0, 5.0)


# -- hostile input --------------------------------------------------------------------------

HOSTILE: list[tuple[bytes | str | TooLong, str]] = [
    (T1[:30], "missing checksum"),
    (T1[:-2] + b"28", "bad checksum: computed 29, sentence says 28"),
    (T1[:-3], "missing checksum"),
    (T1.replace(b"*29", b"*2G"), "malformed checksum field"),
    (with_checksum("AIVDM,1,1,,B,13aDp<PP000IwSlN?W,0"), "truncated payload: type 1 has 108 bits"),
    (with_checksum("AIVDM,1,1,,B,,0"), "empty AIS payload"),
    (with_checksum("AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T"), "malformed AIS sentence: 6 fields"),
    (with_checksum("AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0,9"), "malformed AIS sentence: 8 fields"),
    (with_checksum("AIVDM,2,3,1,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0"), "fragment 3 of 2"),
    (with_checksum("AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,9"), "fill bits"),
    (with_checksum("AIVDM,1,1,,B,13aDp<PP000I{SlN?Wm@0?wN2<1T,0"), "invalid characters in AIS payload"),
    (with_checksum("AIVDM,1,1,,AB,13aDp<PP000IwSlN?Wm@0?wN2<1T,0"), "radio channel"),
    (with_checksum("AIVDM,x,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0"), "fragment count/number"),
    (b"!AIVDM,1,1,,B,\xff\xfe\x00\x01junk*29", "invalid UTF-8"),
    ("!AIVDM,1,1,,B,Huế,0*29", "non-ASCII characters"),
    ("!AIVDM,1,1,,B,\udcff,0*29", "invalid Unicode text"),
    (b"!AIVDM,1,1,,B,13aDp<PP\x00000IwSlN?Wm@0?wN2<1T,0*29", "control characters"),
    (b"!AIVDM," + b"A" * 1_000_000 + b",0*00", "line too long: 1000012 bytes > 1024"),
    (TooLong(b"!AIVDM,1,1,,B,AAAA", 5_000_000), "line too long: 5000000 bytes > 1024"),
    (b"AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29", "not an NMEA sentence"),
    (b"hello world", "not an NMEA sentence"),
]


@pytest.mark.parametrize(("line", "reason"), HOSTILE)
def test_hostile_lines_are_dead_letters_with_a_reason(line: bytes | str | TooLong, reason: str) -> None:
    decoder = AisDecoder()
    assert decoder.feed(line, RECEIVED) == []
    [dead] = decoder.take_dead_letters()
    assert reason in dead.reason
    assert len(dead.payload) <= 4096
    assert decoder.stats.lines_dead == 1 and decoder.stats.balanced()


def test_binary_junk_and_position_not_available() -> None:
    rng = random.Random(7)
    decoder = AisDecoder()
    junk = [rng.randbytes(rng.randrange(1, 300)) for _ in range(300)]
    for blob in junk:
        assert decoder.feed(blob, RECEIVED) == []
    assert decoder.stats.lines == 300 == decoder.stats.lines_dead + decoder.stats.lines_ignored
    assert decoder.stats.dead_letters == len(decoder.take_dead_letters()) > 250
    na = with_checksum("AIVDM,1,1,,B,33`hBOEP?w<tSF0l4Q@>4?wv0qiP,0")
    assert decoder.feed(na, RECEIVED) == []
    assert decoder.take_dead_letters()[0].reason == "position not available"


def test_mutated_real_lines_never_raise_and_are_always_accounted_for() -> None:
    """Every real AIS line, cut, flipped and padded at random: a record, an ignore or a dead letter."""
    rng = random.Random(2024)
    originals = [
        line for path in (GPSD_LOG, AISDB_LOG) for line in path.read_bytes().splitlines() if b"!AIVDM" in line
    ]
    decoder = AisDecoder(max_pending_groups=8)
    produced = 0
    for line in originals * 3:
        roll = rng.random()
        if roll < 0.25:
            line = line[: rng.randrange(len(line))]
        elif roll < 0.5:
            i = rng.randrange(len(line))
            line = line[:i] + bytes([rng.randrange(256)]) + line[i + 1 :]
        elif roll < 0.6:
            line = line + rng.randbytes(rng.randrange(1, 20))
        elif roll < 0.7:
            line = rng.randbytes(5) + line
        before = decoder.stats.lines
        produced += len(decoder.feed(line, RECEIVED + timedelta(seconds=rng.random())))
        assert decoder.stats.lines == before + 1
        assert decoder.stats.balanced()
    decoder.flush(RECEIVED)
    stats = decoder.stats
    assert stats.pending_lines == 0 and stats.balanced()
    assert produced == stats.positions + stats.statics
    assert stats.lines_dead == stats.dead_letters == len(decoder.take_dead_letters())
    assert stats.dead_letters > 500 and produced > 1000  # both outcomes really happened


@pytest.mark.parametrize("thing", [None, 12, 3.5, ["!AIVDM"]])
def test_things_that_are_not_lines_are_dead_letters(thing: object) -> None:
    decoder = AisDecoder()
    assert decoder.feed(thing, RECEIVED) == []  # type: ignore[arg-type]
    [dead] = decoder.take_dead_letters()
    assert dead.reason.startswith("not a line of text") and decoder.stats.balanced()
