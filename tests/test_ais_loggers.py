"""AIS lines as loggers write them: gpsd's gpspipe logs (real, in sample_streams/vessels), the
times other loggers put before a line, and gpsd's JSON reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import xor
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.vessels import FeedConfigError, feed_options
from ingest.vessels.nmea import AisDecoder, VesselRecord
from ingest.vessels.sources import line_stamp
from ioc.config import FeedSettings
from tests.paced_replay import paced_waits

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
GPSPIPE_U = SAMPLES / "gpspipe-r-u.log"  # 2026-12-06 12:13:03.178135: !AIVDM...
GPSPIPE_UU = SAMPLES / "gpspipe-r-uu.log"  # 2026-12-06 12:13:03 1796559183.178131: !AIVDM...
GPSPIPE_JSON = SAMPLES / "gpspipe-w.jsonl"
RECEIVED = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)  # after the logs were written
T1 = b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29"  # a real type 1 from gpsd's ais-nmea.log
HUE = ZoneInfo("Asia/Ho_Chi_Minh")


def decode_lines(lines: list[bytes], decoder: AisDecoder | None = None,
                 ) -> tuple[AisDecoder, list[VesselRecord]]:
    decoder = decoder or AisDecoder()
    records: list[VesselRecord] = []
    for line in lines:
        records.extend(decoder.feed(line, RECEIVED))
        assert decoder.stats.balanced()
    decoder.flush(RECEIVED)
    return decoder, records


def what(record: VesselRecord) -> tuple[object, ...]:
    """A record without its time."""
    return tuple(v for k, v in record.model_dump().items() if k != "time")


def tag(block: str) -> bytes:
    return f"\\{block}*{reduce(xor, block.encode(), 0):02X}\\".encode()


def test_gpspipe_logs_decode_as_their_sentences_at_the_logged_times() -> None:
    """Each gpspipe line, its time cut off by hand, decodes to the same records; with the time
    left on, each record is stamped with the time gpspipe wrote (UTC), to the microsecond."""
    lines = GPSPIPE_U.read_bytes().splitlines()
    stamps = [line.split(b": ", 1)[0].decode() for line in lines]
    bare = [line.split(b": ", 1)[1] for line in lines]
    plain_decoder, plain = decode_lines(bare)
    decoder, logged = decode_lines(lines)
    assert len(logged) == len(plain) == 35  # 31 positions, 4 statics (type 5, in two parts each)
    assert [what(r) for r in logged] == [what(r) for r in plain]
    assert decoder.stats.lines_dead == plain_decoder.stats.lines_dead == 0
    assert decoder.stats.ignored_other["gpsd:VERSION"] == 1
    assert decoder.stats.ignored_other["gpsd:WATCH"] == 1
    # each record is stamped with the time gpspipe wrote before its line (its first line, for a
    # message in two parts), read as UTC
    decoder = AisDecoder()
    first_part: datetime | None = None
    checked = 0
    for stamp, body, line in zip(stamps, bare, lines, strict=True):
        when = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
        if body.startswith(b"!AIVDM,2,1,"):
            first_part = when
        expected = first_part if body.startswith(b"!AIVDM,2,2,") else when
        for record in decoder.feed(line, RECEIVED):
            assert record.time == expected
            checked += 1
    assert checked == len(logged)
    assert {r.time.date() for r in plain} == {RECEIVED.date()} and RECEIVED not in {r.time for r in logged}


def test_gpspipe_unix_seconds_win_over_its_clock_time() -> None:
    """``-uu`` writes the clock time then UNIX seconds: the seconds are the time (exact), and they
    agree with the ``-u`` log of the same relay (two clients, microseconds apart)."""
    lines = GPSPIPE_UU.read_bytes().splitlines()
    _, logged = decode_lines(lines)
    epochs = {float(line.split(b": ", 1)[0].split()[2]) for line in lines}
    assert len(logged) == 35
    assert {r.time.timestamp() for r in logged} <= epochs
    _, other = decode_lines(GPSPIPE_U.read_bytes().splitlines())
    assert [what(r) for r in logged] == [what(r) for r in other]
    assert max(abs((a.time - b.time).total_seconds()) for a, b in zip(logged, other, strict=True)) < 0.05
    # a zone for zoneless times changes nothing where UNIX seconds are written
    _, in_hue = decode_lines(lines, AisDecoder(log_timezone=HUE))
    assert [r.time for r in in_hue] == [r.time for r in logged]


def test_a_zoneless_log_time_is_read_in_the_feeds_zone() -> None:
    lines = GPSPIPE_U.read_bytes().splitlines()
    _, utc = decode_lines(lines)
    _, hue = decode_lines(lines, AisDecoder(log_timezone=HUE))
    assert [r.time + timedelta(hours=7) for r in hue] == [r.time for r in utc]


@pytest.mark.parametrize(("prefix", "expected"), [
    (b"2026-12-06 12:11:12: ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),  # gpspipe -t, as written
    (b"2026-12-06T12:11:12: ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),  # gpspipe -Z, as written
    (b"1796559072 ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),
    (b"1796559072.5\t", datetime(2026, 12, 6, 12, 11, 12, 500000, tzinfo=UTC)),
    (b"1796559072250;", datetime(2026, 12, 6, 12, 11, 12, 250000, tzinfo=UTC)),  # milliseconds
    (b"2026-12-06T12:11:12.25Z,", datetime(2026, 12, 6, 12, 11, 12, 250000, tzinfo=UTC)),
    (b"2026-12-06T19:11:12+07:00 | ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),
    (b"2026-12-06 07:11:12,000-0500 ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),
    (b"2026-12-06 12:11:12.123456789: ", datetime(2026, 12, 6, 12, 11, 12, 123456, tzinfo=UTC)),
    (b"Dec 06 12:11:12 ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),  # moreutils ts, by default
    (b"Dec  6 12:11:12.25 ", datetime(2026, 12, 6, 12, 11, 12, 250000, tzinfo=UTC)),  # ts '%b %e %.T'
    (b"Dec 6 12:11:12: ", datetime(2026, 12, 6, 12, 11, 12, tzinfo=UTC)),
])
def test_log_time_forms(prefix: bytes, expected: datetime) -> None:
    decoder, records = decode_lines([prefix + T1])
    assert [r.time for r in records] == [expected], decoder.take_dead_letters()
    assert line_stamp(prefix + T1, near=RECEIVED.timestamp()) == expected.timestamp()


def test_the_line_own_time_comes_before_the_loggers() -> None:
    """A tag block's ``c:`` and NAIS metadata's time are the receiver's: they win over the logger's."""
    block = tag("s:HUE1,c:1796559000")
    _, records = decode_lines([b"2026-12-06 12:11:12: " + block + T1])
    assert [r.time for r in records] == [datetime.fromtimestamp(1796559000, UTC)]
    assert line_stamp(b"2026-12-06 12:11:12: " + block + T1) == 1796559000
    nais = T1 + b",s28089,d-103,r08TPHI1,1796559001"
    _, records = decode_lines([b"1796559072 " + nais])
    assert [r.time for r in records] == [datetime.fromtimestamp(1796559001, UTC)]


@pytest.mark.parametrize(("line", "reason"), [
    (b"2026-13-06 12:11:12: " + T1, "bad log time"),
    (b"2026-12-06 25:11:12: " + T1, "bad log time"),
    (b"2026-12-06T12:11:12+24:00 " + T1, "bad log time"),
    (b"2026-12-06 13:30:00: " + T1, "implausible log time"),  # 30 min after its receipt
    (b"0796559072 " + T1, "implausible log time"),  # 1995: before AIS
    (b"17965590720 " + T1, "not an NMEA sentence"),  # 11 digits: neither seconds nor milliseconds
    (b"12:11:12 " + T1, "not an NMEA sentence"),  # a clock time without its date
    (b"2026-12-06 12:11:12: ", "not an NMEA sentence"),  # a time and nothing after it
    (b"2026-12-06 12:11:12: " + T1[:-2] + b"00", "checksum"),
    (b"Dec 32 12:11:12 " + T1, "bad log time"),
    (b"Dec 06 24:00:00 " + T1, "bad log time"),
    (b"Feb 29 12:11:12 " + T1, "bad log time"),  # no 29 February in 2025-2027
    (b"Dez 06 12:11:12 " + T1, "not an NMEA sentence"),  # months are C-locale English, as ts writes them
    (b"Dec 06 12:11 " + T1, "not an NMEA sentence"),
])
def test_a_bad_log_time_is_a_dead_letter(line: bytes, reason: str) -> None:
    decoder, records = decode_lines([line])
    dead = decoder.take_dead_letters()
    assert records == [] and len(dead) == 1
    assert reason in dead[0].reason and dead[0].payload == line


def test_moreutils_ts_logs_decode_at_the_logged_times() -> None:
    """Two logs of the same 150 sentences of the Lemmer log, stamped together by moreutils ``ts`` in Huế's
    local time (by default ``Dec 07 14:14:55``, and with ``'%b %e %H:%M:%.S'``): no year is written,
    so each takes the year nearest its receive time. Every record is stamped with its line's time."""
    default = (SAMPLES / "ts-default.log").read_bytes().splitlines()
    fraction = (SAMPLES / "ts-e-fraction.log").read_bytes().splitlines()
    bare = [line.split(b" ", 3)[3] for line in default]
    assert bare == [line.split(b" ", 4)[4] for line in fraction]  # "Dec  7" has two blanks
    received = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def stamped(lines: list[bytes]) -> tuple[list[VesselRecord], list[datetime]]:
        decoder, records, expected = AisDecoder(log_timezone=HUE), [], []
        first_part: datetime | None = None
        for line in lines:  # the time each record must carry: its line's, read by hand
            month_day_clock = " ".join(line.decode().split()[:3])
            when = datetime.strptime(f"2026 {month_day_clock}", "%Y %b %d %H:%M:%S" if "." not in
                                     month_day_clock else "%Y %b %d %H:%M:%S.%f").replace(tzinfo=HUE)
            first_part = when if b"!AIVDM,2,1," in line else first_part
            new = decoder.feed(line, received)
            records += new
            expected += [first_part if b"!AIVDM,2,2," in line else when] * len(new)
        assert decoder.stats.dead_letter_reasons == {"position not available": 3}  # as without the times
        return records, expected

    plain_decoder, plain = decode_lines(bare)
    assert plain_decoder.stats.dead_letter_reasons == {"position not available": 3}
    for lines in (default, fraction):
        records, expected = stamped(lines)
        assert [what(r) for r in records] == [what(r) for r in plain] and len(records) > 50
        assert [r.time for r in records] == expected
    # the two loggers saw each line within a second of each other
    seconds = [r.time for r in stamped(default)[0]]
    finer = [r.time for r in stamped(fraction)[0]]
    assert all(abs(b - a) < timedelta(seconds=1) for a, b in zip(seconds, finer, strict=True))


@pytest.mark.parametrize(("line", "received", "expected"), [
    (b"Dec 31 23:59:59 ", datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC),
     datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    (b"Jan 01 00:00:01 ", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
     datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)),
    (b"Feb 29 12:00:00 ", datetime(2028, 3, 1, tzinfo=UTC), datetime(2028, 2, 29, 12, tzinfo=UTC)),
])
def test_a_time_without_a_year_takes_the_year_nearest_its_receipt(
        line: bytes, received: datetime, expected: datetime) -> None:
    decoder = AisDecoder()
    assert [r.time for r in decoder.feed(line + T1, received)] == [expected], decoder.take_dead_letters()


def test_a_replay_of_a_ts_log_keeps_its_order_across_new_year(tmp_path: Path) -> None:
    """Paced by ``ts`` times, New Year's Eve to New Year's Day is ten seconds, not a year back."""
    log = tmp_path / "new-year.log"
    log.write_bytes(b"Dec 31 23:59:59 " + T1 + b"\n" + b"Jan 01 00:00:09 " + T1 + b"\n")
    assert line_stamp(b"Jan 01 00:00:09 " + T1, near=line_stamp(b"Dec 31 23:59:59 " + T1)) == pytest.approx(
        line_stamp(b"Dec 31 23:59:59 " + T1) + 10)
    assert paced_waits(log, 10.0, RECEIVED) == (2, [pytest.approx(1.0)])


def test_gpsd_json_reports() -> None:
    """gpspipe -w: gpsd's session and fix reports are counted as ignored; its decoded AIS reports
    are not read, each a dead letter that says how to log AIS instead."""
    lines = GPSPIPE_JSON.read_bytes().splitlines()
    decoder, records = decode_lines(lines)
    dead = decoder.take_dead_letters()
    ais = [line for line in lines if b'"class":"AIS"' in line]
    assert records == [] and len(ais) == 1
    assert [d.payload for d in dead] == ais
    assert all("gpspipe -r" in d.reason for d in dead)
    ignored = decoder.stats.ignored_other
    assert ignored["gpsd:TPV"] >= 1 and ignored["gpsd:VERSION"] == 1 and ignored["gpsd:SKY"] == 1
    # JSON that is not a gpsd report is not taken for one
    decoder, _ = decode_lines([b'{"class": 5}', b'{"kind":"AIS"}', b"[1, 2]", b"{not json"])
    assert decoder.stats.lines_dead == 4


def test_a_replay_is_paced_by_the_logged_times(tmp_path: Path) -> None:
    """FileSource at speed 10 waits a tenth of the gap between two logged times."""
    log = tmp_path / "two.log"
    log.write_bytes(b"1796559072: " + T1 + b"\n" + b"1796559082: " + T1 + b"\n")
    assert paced_waits(log, 10.0, RECEIVED) == (2, [pytest.approx(1.0)])


def test_the_feeds_log_timezone_is_checked() -> None:
    feed = FeedSettings(name="ais", kind="ais_file", options={"path": "x.log", "log_timezone": "Asia/Hue"})
    with pytest.raises(FeedConfigError, match="log_timezone"):
        feed_options(feed)
    ok = FeedSettings(name="ais", kind="ais_file",
                      options={"path": "x.log", "log_timezone": "Asia/Ho_Chi_Minh"})
    assert feed_options(ok).log_timezone == "Asia/Ho_Chi_Minh"
