"""The AIS decoder against NMEA 0183 / ITU-R M.1371 details real feeds exercise (issue 9, item 2).

NAIS receiver metadata after the checksum, raw ship and cargo type codes, multi-part messages
keyed by their source and taken only in order, implausible times, and the spec's "not a value"
codes (MMSI 0, position 0/0, dimension limits, undefined message types, empty final fragment).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import xor
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.vessels.nmea import AisDecoder, VesselRecord
from ingest.vessels.sources import FileSource
from ioc.feeds.vessels.records import VesselPosition, VesselStatic

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)
ARMOUR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"

# Real lines, from gpsd's ais-nmea.log (see sample_streams/vessels/README.md).
T1 = b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29"
T5_PART1 = b"!AIVDM,2,1,9,B,55R3Vn82=ILTQ3KKS>1<D60Dq@E918U<F222221J1`?164vc03S1CCAD,0*2A"
T5_PART2 = b"!AIVDM,2,2,9,B,`88888888888880,2*76"

# Real US Coast Guard NAIS lines: receiver metadata after the checksum, the last field the UNIX
# receive time. The first is quoted in issue 9; the others are from libais's tests
# (github.com/schwehr/libais, test/nmea_queue_test.py, Apache-2.0), which decodes them as types
# 1, 5 (two parts), 3 and 27.
NAIS_T1 = (
    b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A,s28089,d-103,T39.44353985,x147521,r08TPHI1,1242958962"
)
USCG = [
    b"!SAVDM,1,1,,A,15N4OMPP01I<cGrA1v>Id?vF060l,0*22,b003669978,1429287189",
    b"!SAVDM,2,1,4,B,54h@7?02BAF=`L4wN21<eTH4hj2222222222220U4HG6553U06T0C3H0Q@@j,0*5D,d-86,S389,"
    b"t161310.00,T10.377780,D07MN-MI-LAKBS1,1429287190",
    b"!SAVDM,2,2,4,B,88888888880,2*39,d-86,S389,t161310.00,T10.377780,D07MN-MI-LAKBS1,1429287190",
    b"!AIVDM,1,1,,B,3592u`iP03GWEflBRosm0Ov@0000,0*70,d-107,S0297,t161407.00,T07.92201452,r11CSDO1,1429287248",
    b"!SAVDM,1,1,,B,K8VSqb9LdU28WP8<,0*17,rMySat,1429287258",
]


def checksummed(body: str) -> bytes:
    """``!body*hh`` with a correct checksum."""
    return f"!{body}*{reduce(xor, body.encode(), 0):02X}".encode()


def tag(block: str) -> bytes:
    """A tag block with a correct checksum."""
    return f"\\{block}*{reduce(xor, block.encode(), 0):02X}\\".encode()


def sentence_fields(line: bytes) -> list[str]:
    """The comma-separated fields of a bare sentence, without ``!`` and checksum."""
    return line[1 : line.index(b"*")].decode().split(",")


def with_fields(line: bytes, **changes: str) -> bytes:
    """A real sentence with some of its fields changed (``seq``, ``channel``, ``talker``), re-checksummed."""
    fields = sentence_fields(line)
    if "talker" in changes:
        fields[0] = changes["talker"] + fields[0][2:]
    if "seq" in changes:
        fields[3] = changes["seq"]
    if "channel" in changes:
        fields[4] = changes["channel"]
    return checksummed(",".join(fields))


def with_bits(line: bytes, offset: int, width: int, value: int) -> bytes:
    """A sentence whose payload has ``width`` bits at ``offset`` set to ``value`` (CONSTRUCTED input)."""
    fields = sentence_fields(line)
    bits = "".join(f"{ARMOUR.index(c):06b}" for c in fields[5])
    bits = bits[:offset] + f"{value:0{width}b}" + bits[offset + width :]
    fields[5] = "".join(ARMOUR[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))
    return checksummed(",".join(fields))


def feed_all(decoder: AisDecoder, lines: list[bytes], step: timedelta = timedelta(0)) -> list[VesselRecord]:
    out: list[VesselRecord] = []
    for i, line in enumerate(lines):
        out += decoder.feed(line, RECEIVED + i * step)
        assert decoder.stats.balanced()
    return out


# -- a. NAIS receiver metadata after the checksum ---------------------------------------------


def test_nais_metadata_lines_decode_with_their_receive_time() -> None:
    decoder = AisDecoder()
    [pos] = decoder.feed(NAIS_T1, RECEIVED)
    assert isinstance(pos, VesselPosition) and pos.msg_type == 1
    assert pos.time == datetime.fromtimestamp(1242958962, UTC)  # the metadata's time, not RECEIVED
    records = feed_all(decoder, USCG)
    assert [getattr(r, "msg_type", 5) for r in records] == [1, 5, 3, 27]
    assert [r.time.timestamp() for r in records] == [1429287189, 1429287190, 1429287248, 1429287258]
    static = records[1]
    assert isinstance(static, VesselStatic) and static.mmsi > 0 and static.name
    t27 = records[3]
    assert isinstance(t27, VesselPosition)
    assert (t27.mmsi, round(t27.lat, 3), round(t27.lon, 4)) == (577305000, 29.145, -90.2067)
    assert decoder.take_dead_letters() == [] and decoder.stats.lines_decoded == 6


def test_nais_metadata_time_yields_to_a_tag_block_and_is_checked() -> None:
    decoder = AisDecoder()
    [pos] = decoder.feed(tag("s:rx1,c:1700000000") + NAIS_T1, RECEIVED)
    assert pos.time == datetime.fromtimestamp(1700000000, UTC)
    bad = [
        NAIS_T1.rsplit(b",", 1)[0] + b",soon",  # no time last
        NAIS_T1.replace(b"*4A,", b"*4A;"),
        NAIS_T1.rsplit(b",", 1)[0] + b",0",  # 1970
        NAIS_T1.rsplit(b",", 1)[0] + b",1900000000",  # 2030, after the receive time
    ]
    for line in bad:
        assert decoder.feed(line, RECEIVED) == []
    reasons = [d.reason for d in decoder.take_dead_letters()]
    assert reasons[0].startswith("malformed receiver metadata after the checksum")
    assert reasons[1].startswith("malformed checksum field")
    assert reasons[2].startswith("implausible receiver metadata time: 1970-01-01")
    assert reasons[3].endswith("is in the future of its receive time")


# Newer NAIS archives name the station in a D field (libais, test/uscg_test.py MULTI_LINE_MESSAGES):
# the same type 6 message as two stations heard it, on the same channel and sequence id.
RIP = [b"!SAVDM,2,1,9,A,6h30ot1;EkJ0Ch82AP;H888852CH4p13kk88883<<TH0i<i=tk3=61KC<CO<,0*1B,d-92,S330,"
       b"t004508.00,T08.804593,D09MN-BU-RIPBS1,1428799508",
       b"!SAVDM,2,2,9,A,lGAPW000000000,4*5C,d-92,S330,t004508.00,T08.804593,D09MN-BU-RIPBS1,1428799508"]
EDE = [b"!SAVDM,2,1,9,A,6h30ot1;EkJ0Ch82AP;H888852CH4p13kk88883<<TH0i<i=tk3=61KC<CO<,0*1B,d-82,S330,"
       b"t004508.00,T08.804427,D09MN-BU-EDEBS1,1428799508",
       b"!SAVDM,2,2,9,A,lGAPW000000000,4*5C,d-82,S330,t004508.00,T08.804427,D09MN-BU-EDEBS1,1428799508"]


def test_fragments_heard_by_two_d_named_stations_group_per_station() -> None:
    """Interleaved parts of one message from two stations (D fields) are two messages, not glued."""
    decoder = AisDecoder(max_future=None)
    assert feed_all(decoder, [RIP[0], EDE[0], RIP[1], EDE[1]]) == []  # type 6: not a record, ignored
    assert decoder.take_dead_letters() == []
    assert (decoder.stats.ignored_by_type[6], decoder.stats.lines_ignored) == (2, 4)
    # the type 5 of libais's tests, heard by a second station (its name changed: CONSTRUCTED)
    other = [line.replace(b"D07MN-MI-LAKBS1", b"D07MN-MI-OTHBS1") for line in USCG[1:3]]
    records = feed_all(decoder, [USCG[1], other[0], USCG[2], other[1]])
    assert [type(r) for r in records] == [VesselStatic, VesselStatic]
    assert records[0].mmsi == records[1].mmsi and decoder.take_dead_letters() == []


def test_nais_metadata_without_a_time_decodes_at_the_receive_time() -> None:
    """libais accepts NAIS metadata without the UNIX time; gpsd's sample.aivdm has such lines."""
    decoder = AisDecoder()
    [pos] = decoder.feed(b"!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23,b003669974", RECEIVED)
    assert (pos.mmsi, pos.time) == (227006760, RECEIVED)
    [pos] = decoder.feed(tag("c:1700000000") + b"!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23,b003669974",
                         RECEIVED)
    assert pos.time == datetime.fromtimestamp(1700000000, UTC)
    gpsd = [b"!AIVDM,1,1,,B,:6TMCD1GOS60,0*5B,s36310,d-081,T59.01777335",  # type 10
            b"!AIVDM,2,1,6,A,8>qc9wiKf>d=Cq5r0mdew:?DLq>1LmhHrsqmBCKnJ50,0*30",  # type 8, the station
            b"!AIVDM,2,2,6,A,3OLc=UCRp,0*4A,b003660465"]  # named on its second part only
    assert feed_all(decoder, gpsd) == [] and decoder.take_dead_letters() == []
    assert dict(decoder.stats.ignored_by_type) == {10: 1, 8: 1} and decoder.stats.lines_ignored == 3
    # libais's typeexamples.nmea: a logger's time after the receiver's; the last one is the time
    [t1] = decoder.feed(b"!AIVDM,1,1,,A,15N1u<PP1FJuvSRHOE6QIwwh0HQ6,0*30,d-080,S2118,t050056.00,"
                        b"T56.4837741,r003669946,1325394060,1325394001", RECEIVED)
    assert t1.time == datetime.fromtimestamp(1325394001, UTC)
    line = b"!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23"
    for bad in (b",b003669974,", b",soon,1242958962", b",r08TPHI1,#2,1242958962", b",1242958962,r08TPHI1,"):
        assert decoder.feed(line + bad, RECEIVED) == []
        [dead] = decoder.take_dead_letters()
        assert dead.reason.startswith("malformed receiver metadata after the checksum"), bad
    assert decoder.stats.balanced()


def test_an_ais_sentence_written_with_a_dollar_is_decoded() -> None:
    """NMEA 0183 starts AIS sentences with '!'; a logger's '$AIVDM' is read as gpsd and libais read it."""
    decoder = AisDecoder()
    [pos] = decoder.feed(b"$" + T1[1:], RECEIVED)
    assert (pos.msg_type, pos.time) == (1, RECEIVED)
    [static] = feed_all(decoder, [b"$" + T5_PART1[1:], b"$" + T5_PART2[1:]])
    assert isinstance(static, VesselStatic)
    assert decoder.feed(b"$" + T1[1:-2] + b"00", RECEIVED) == []  # a wrong checksum: a dead letter
    [dead] = decoder.take_dead_letters()
    assert dead.reason.startswith("bad checksum")
    stats = decoder.stats
    assert dict(stats.ignored_other) == {}
    assert (stats.lines, stats.lines_decoded, stats.lines_dead) == (4, 3, 1)
    assert stats.balanced()


# -- b. the raw ship and cargo type ------------------------------------------------------------


@pytest.mark.parametrize("code", [66, 77, 57, 26, 27, 28, 1, 19, 38, 39, 100, 255, 30, 90])
def test_ship_type_is_the_raw_code(code: int) -> None:
    """pyais's ShipType enum folds 66 into 65, 26-28 into 25, 1-19 into 0...: the raw code is kept."""
    decoder = AisDecoder()
    decoder.feed(with_bits(T5_PART1, 232, 8, code), RECEIVED)  # type 5: bits 232-239
    [static] = decoder.feed(T5_PART2, RECEIVED)
    assert isinstance(static, VesselStatic) and static.ship_type == code
    type19 = b"!AIVDM,1,1,,,C>kuL5h034wnk<0T5jRrwwS04bNkKQQg1111111111jd0000002P,0*27"
    [_, static19] = decoder.feed(with_bits(type19, 263, 8, code), RECEIVED)  # type 19: bits 263-270
    assert isinstance(static19, VesselStatic) and static19.ship_type == code


def test_ship_type_zero_is_not_available() -> None:
    decoder = AisDecoder()
    decoder.feed(with_bits(T5_PART1, 232, 8, 0), RECEIVED)
    [static] = decoder.feed(T5_PART2, RECEIVED)
    assert isinstance(static, VesselStatic) and static.ship_type is None


# -- c. multi-part messages: by source, in order ------------------------------------------------


def real_multipart_messages() -> list[tuple[bytes, bytes]]:
    """The two-part messages of both real logs, as bare sentences (tag blocks removed)."""
    out: list[tuple[bytes, bytes]] = []
    for path in (SAMPLES / "ais-nmea.log", SAMPLES / "test_data_20211101.nm4"):
        lines = [line.rsplit(b"\\", 1)[-1] for line in path.read_bytes().splitlines() if b"VDM,2," in line]
        out += [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
    assert len(out) == 30 and all(b",2,1," in a and b",2,2," in b for a, b in out)
    return out


def as_one_receiver(messages: list[tuple[bytes, bytes]], channel: str = "A") -> list[tuple[bytes, bytes]]:
    """The messages numbered as one receiver numbers its multi-part messages: sequence ids 0-9 in turn."""
    return [
        (with_fields(a, seq=str(i % 10), channel=channel), with_fields(b, seq=str(i % 10), channel=channel))
        for i, (a, b) in enumerate(messages)
    ]


def summary(record: VesselRecord) -> tuple[object, ...]:
    assert isinstance(record, VesselStatic)
    return (record.mmsi, record.name, record.callsign, record.ship_type, record.length_m, record.destination)


def reference(messages: list[tuple[bytes, bytes]]) -> list[tuple[object, ...]]:
    """Each message decoded on its own."""
    out = []
    for a, b in messages:
        decoder = AisDecoder()
        [record] = decoder.feed(a, RECEIVED) + decoder.feed(b, RECEIVED)
        out.append(summary(record))
    return out


def test_lost_first_parts_never_glue_onto_another_message() -> None:
    """Real type 5 messages, ten passes with 5 % of the first parts dropped: no wrong message is built."""
    messages = as_one_receiver(real_multipart_messages() * 10)
    expected = reference(messages)
    dropped = {i for i in range(len(messages)) if i % 20 == 7}  # 5 %, deterministic
    lines: list[bytes] = []
    for i, (a, b) in enumerate(messages):
        lines += [b] if i in dropped else [a, b]
    decoder = AisDecoder()
    records = feed_all(decoder, lines, step=timedelta(milliseconds=250))
    decoder.flush(RECEIVED + timedelta(hours=1))
    assert [summary(r) for r in records] == [e for i, e in enumerate(expected) if i not in dropped]
    dead = decoder.take_dead_letters()
    assert [d.payload for d in dead] == [messages[i][1] for i in sorted(dropped)]
    assert all("without the fragments before it" in d.reason for d in dead)


def _tagged(station: str) -> Callable[[bytes], bytes]:
    return lambda line: tag(f"s:{station}") + line


def _talker(talker: str) -> Callable[[bytes], bytes]:
    return lambda line: with_fields(line, talker=talker)


def _nais(station: str) -> Callable[[bytes], bytes]:
    return lambda line: line + f",d-98,{station},1635731965".encode()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (_tagged("lemmer"), _tagged("41925")),  # tag-block source
        (_talker("AI"), _talker("BS")),  # talker: a transponder and a base station
        (_nais("r08TPHI1"), _nais("r11CSDO1")),  # NAIS receiver station
    ],
    ids=["tag-block-source", "talker", "nais-station"],
)
def test_two_receivers_interleaving_the_same_channel_and_id(
    first: Callable[[bytes], bytes], second: Callable[[bytes], bytes]
) -> None:
    """Two receivers' real type 5 messages on the same channel and sequence ids, line by line interleaved."""
    messages = real_multipart_messages()
    # gpsd's receiver and aisdb's stations, each numbering from 0: the same channel and ids
    mine, theirs = as_one_receiver(messages[:12]), as_one_receiver(messages[12:24])
    lines: list[bytes] = []
    for (a1, a2), (b1, b2) in zip(mine, theirs, strict=True):
        lines += [first(a1), second(b1), first(a2), second(b2)]
    decoder = AisDecoder()
    records = feed_all(decoder, lines)
    expected = reference(mine + theirs)
    assert sorted(map(summary, records), key=repr) == sorted(expected, key=repr)
    assert decoder.take_dead_letters() == [] and decoder.pending_groups == 0


# -- d. implausible times --------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["0", "0000", "1", "86400", "883612799", "5000"])
def test_tag_block_times_before_ais_are_refused(stamp: str) -> None:
    decoder = AisDecoder()
    line = tag(f"s:rx1,c:{stamp}") + T1
    assert decoder.feed(line, RECEIVED) == []
    [dead] = decoder.take_dead_letters()
    assert dead.reason.startswith("implausible tag block time: 19") and "is before AIS (1998)" in dead.reason
    assert dead.payload == line
    [pos] = decoder.feed(tag("s:rx1,c:883612800") + T1, RECEIVED)  # 1998-01-01: accepted
    assert pos.time == datetime(1998, 1, 1, tzinfo=UTC)


# -- e. what the spec says is no value ----------------------------------------------------------


def test_mmsi_zero_and_null_island_are_dead_letters() -> None:
    decoder = AisDecoder()
    # Real: a type 1 from MMSI 0 in the aisdb sample.
    mmsi0 = b"\\s:43255,c:1635731929,t:1635731966*60\\!AIVDM,1,1,,,1000000P0o2u=9iqkc9;:wwH00S6,0*1F"
    null_island = with_bits(with_bits(T1, 61, 28, 0), 89, 27, 0)  # lon bits 61-88, lat 89-115
    assert decoder.feed(mmsi0, RECEIVED) == [] and decoder.feed(null_island, RECEIVED) == []
    assert [d.reason for d in decoder.take_dead_letters()] == [
        "MMSI 0: not a station identity", "position 0, 0: a receiver's default, not a fix"]
    assert decoder.stats.dead_letter_reasons == {"MMSI 0": 1, "position 0, 0": 1}


@pytest.mark.parametrize(
    ("bow", "stern", "port", "starboard", "length", "beam"),
    [
        (511, 511, 63, 63, None, None),  # both "or more": unknown, not 1022 x 126 m
        (511, 20, 5, 63, None, None),
        (200, 111, 20, 12, 311.0, 32.0),
        (0, 0, 0, 0, None, None),  # not available
        (0, 45, 0, 12, 45.0, 12.0),  # reference point unknown: A = C = 0 (M.1371)
    ],
)
def test_dimension_limits_are_unknown(
    bow: int, stern: int, port: int, starboard: int, length: float | None, beam: float | None
) -> None:
    line = T5_PART1
    for offset, width, value in ((240, 9, bow), (249, 9, stern), (258, 6, port), (264, 6, starboard)):
        line = with_bits(line, offset, width, value)
    decoder = AisDecoder()
    decoder.feed(line, RECEIVED)
    [static] = decoder.feed(T5_PART2, RECEIVED)
    assert isinstance(static, VesselStatic) and (static.length_m, static.beam_m) == (length, beam)


def test_type19_gives_a_position_and_the_static_data() -> None:
    # Real type 19 (extended class B position report) from the aisdb sample.
    line = (
        b"\\s:43254,c:1635731896,t:1635731965*67\\"
        b"!AIVDM,1,1,,,C69D9S@0B4sBc82Ene17owv0Pc0jb2M1icd000000000?1h8R20P,0*08"
    )
    decoder = AisDecoder()
    pos, static = decoder.feed(line, RECEIVED)
    assert isinstance(pos, VesselPosition) and pos.msg_type == 19
    assert isinstance(static, VesselStatic) and static.mmsi == pos.mmsi and static.time == pos.time
    assert (static.name, static.ship_type, static.length_m, static.beam_m) == ("PU YUAN 856", 30, 45.0, 8.0)
    assert decoder.stats.positions == 1 and decoder.stats.statics == 1 and decoder.stats.lines_decoded == 1


@pytest.mark.parametrize("first", ["0", "L", "M", "w"])  # 6-bit values 0, 28, 29, 63
def test_undefined_message_types_are_dead_letters(first: str) -> None:
    fields = sentence_fields(T1)
    fields[5] = first + fields[5][1:]
    decoder = AisDecoder()
    assert decoder.feed(checksummed(",".join(fields)), RECEIVED) == []
    [dead] = decoder.take_dead_letters()
    assert dead.reason.startswith("invalid AIS message type ") and "defines 1-27" in dead.reason
    assert decoder.stats.ignored_by_type == {} and decoder.stats.lines_dead == 1


def test_empty_final_fragment_is_accepted() -> None:
    # Real lines from pyais issue 157 (a type 8 split with an empty second part): ignored by type
    # like any type 8, not dead-lettered.
    lines = [
        b"!AIVDM,2,1,0,A,8@2R5Ph0GhRbUqe?n>KS?wvlFR06EuOwiOl?wnSwe7wvlOwwsAwwnSGmwvwt,0*4E",
        b"!AIVDM,2,2,0,A,,0*16",
    ]
    decoder = AisDecoder()
    assert feed_all(decoder, lines) == []
    assert decoder.take_dead_letters() == [] and decoder.stats.ignored_by_type == {8: 1}
    assert decoder.stats.lines_ignored == 2
    # The same with a type 5: the empty third part adds no bits.
    decoder = AisDecoder()
    three = [with_fields(T5_PART1, seq="3").replace(b",2,1,", b",3,1,"),
             with_fields(T5_PART2, seq="3").replace(b",2,2,", b",3,2,"),
             checksummed("AIVDM,3,3,3,B,,0")]
    three = [checksummed(",".join(sentence_fields(line))) for line in three]
    [static] = feed_all(decoder, three)
    assert isinstance(static, VesselStatic) and static.name == "SEA ENTERPRISE"
    # An empty payload anywhere else is still an error.
    assert decoder.feed(checksummed("AIVDM,2,1,4,B,,0"), RECEIVED) == []
    assert decoder.take_dead_letters()[0].reason == "empty AIS payload"


def test_file_of_nais_lines_decodes(tmp_path: Path) -> None:
    """A NAIS archive read through the file source: every line decoded, none dead."""
    path = tmp_path / "nais.nmea"
    path.write_bytes(b"\n".join([NAIS_T1, *USCG]) + b"\n")
    decoder = AisDecoder()
    records: list[VesselRecord] = []
    for lines, received in FileSource(path, clock=lambda: RECEIVED).read(threading.Event()):
        for line in lines:
            records += decoder.feed(line, received)
    assert len(records) == 5 and decoder.take_dead_letters() == []


def test_a_ship_type_beyond_eight_bits_is_refused() -> None:
    with pytest.raises(ValidationError):
        VesselStatic(time=RECEIVED, source_id="1", mmsi=244660274, ship_type=256)
