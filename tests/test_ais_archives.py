"""AIS archives written as CSV: the Danish Maritime Authority's real ``aisdk`` file (its first 139
lines, in sample_streams/vessels) and MarineCadastre's layout as its documentation gives it."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.vessels.nmea import AisDecoder, VesselRecord
from ingest.vessels.sources import FileSource, line_stamp
from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.store.database import Store
from ioc.store.writer import StoreWriter
from tests.paced_replay import paced_waits

DMA = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels" / "aisdk-2018-06-01-head.csv"
RECEIVED = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
T1 = b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29"  # a real type 1 from gpsd's ais-nmea.log
MARINECADASTRE = (b"MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
                  b"Length,Width,Draft,Cargo,TransceiverClass")


MARINECADASTRE_ROW = (b"367605855,2023-06-15T00:00:05,16.55,107.65,0.0,-97.8,511,HUONG GIANG,IMO9795933,"
                      b"WDH3254,30,7,22.86,6.7,2.1,,A")


def decode(lines: list[bytes]) -> tuple[AisDecoder, list[VesselRecord]]:
    decoder = AisDecoder()
    records: list[VesselRecord] = []
    for line in lines:
        records.extend(decoder.feed(line, RECEIVED))
        assert decoder.stats.balanced()
    return decoder, records


def test_the_danish_maritime_authoritys_archive_decodes_row_by_row() -> None:
    decoder, records = decode(DMA.read_bytes().splitlines(keepends=True))
    stats = decoder.stats
    assert (stats.lines, stats.lines_decoded, stats.lines_ignored, stats.lines_dead) == (139, 124, 13, 2)
    assert dict(stats.ignored_other) == {"archive:dma header": 1, "archive:base station": 8,
                                         "archive:aton": 4}
    # a Class A row at 91, 181 with a status and nothing else: as an NMEA type 1 without a fix
    assert [d.reason for d in decoder.take_dead_letters()] == ["position not available"] * 2
    positions = [r for r in records if isinstance(r, VesselPosition)]
    statics = {r.mmsi: r for r in records if isinstance(r, VesselStatic)}
    assert (len(positions), len({p.mmsi for p in positions}), stats.statics) == (116, 115, 10)
    first = positions[0]
    assert (first.time, first.mmsi, first.lat, first.lon, first.sog, first.cog, first.heading,
            first.nav_status, first.msg_type) == (datetime(2018, 6, 1, tzinfo=UTC), 215810000, 55.921028,
                                                  17.320418, 12.5, 255.5, 256, 4, None)  # "Constrained by..."
    assert Counter(p.nav_status for p in positions)[7] == 13  # "Engaged in fishing"
    assert {p.msg_type for p in positions if p.mmsi == 219004472} == {18}  # Class B: no status sent
    astina = statics[266220000]  # a static report: 91, 181 and the voyage data
    assert (astina.name, astina.callsign, astina.imo, astina.ship_type, astina.length_m, astina.beam_m,
            astina.destination) == ("ASTINA", "SHZA", 9320063, 80, 130.0, 20.0, "FREDERICIA")
    assert statics[219004472].ship_type == 30 and statics[219004472].name == "HG 27 NEPTUN"  # "Fishing"
    assert not any(p.mmsi == 266220000 for p in positions)


def test_marinecadastres_layout_with_its_sentinels_and_repeated_static_data() -> None:
    rows = [MARINECADASTRE, MARINECADASTRE_ROW,
            b"367605855,2023-06-15T00:01:05,16.56,107.66,1.5,90.0,88,HUONG GIANG,IMO9795933,WDH3254,30,7,"
            b"22.86,6.7,2.1,,A",  # the same static data: not sent again
            b'338029922,2023-06-15T00:00:02,16.6,107.7,102.3,360.0,511.0,"NAME, WITH COMMA",,,37,,,,,,B']
    decoder, records = decode(rows)
    assert decoder.stats.lines_dead == 0, decoder.take_dead_letters()
    positions = [r for r in records if isinstance(r, VesselPosition)]
    statics = [r for r in records if isinstance(r, VesselStatic)]
    assert [(p.mmsi, p.sog, p.cog, p.heading, p.nav_status, p.msg_type) for p in positions] == [
        (367605855, 0.0, None, None, 7, None), (367605855, 1.5, 90.0, 88, 7, None),
        (338029922, None, None, None, None, 18)]
    assert [(s.mmsi, s.name, s.imo, s.callsign, s.ship_type, s.length_m) for s in statics] == [
        (367605855, "HUONG GIANG", 9795933, "WDH3254", 30, 22.86),
        (338029922, "NAME, WITH COMMA", None, None, 37, None)]
    # the 2024 files' names, and a status in words as older files wrote it
    _, records = decode([b"mmsi,base_date_time,longitude,latitude,sog,cog,heading,vessel_name,imo,call_sign,"
                         b"vessel_type,status,length,width,draft,cargo,transceiver",
                         b"574000001,2024-06-15 00:00:00,107.6,16.5,3.2,45,44,,,,,under way using engine,"
                         b",,,,A"])
    [position] = records
    assert (position.lat, position.lon, position.nav_status) == (16.5, 107.6, 0)


def test_the_static_data_of_a_dead_row_is_sent_with_the_next_row() -> None:
    bad = MARINECADASTRE_ROW.replace(b"16.55,107.65", b"95.0,107.65")  # a latitude out of range
    decoder, records = decode([MARINECADASTRE, bad, MARINECADASTRE_ROW, MARINECADASTRE_ROW])
    assert decoder.stats.lines_dead == 1
    assert [type(r).__name__ for r in records] == ["VesselPosition", "VesselStatic", "VesselPosition"]


@pytest.mark.parametrize(("row", "reason"), [
    (b"01/13/2018 00:00:00,Class A,215810000,55.9,17.3,Moored,,,,,,,,,,,,,,,,", "bad archive time"),
    (b"01/06/2018 00:00:00,Class A,0,55.9,17.3,Moored,,,,,,,,,,,,,,,,", "MMSI '0'"),
    (b"01/06/2018 00:00:00,Class A,21581000x,55.9,17.3,Moored,,,,,,,,,,,,,,,,", "bad MMSI"),
    (b"01/06/2018 00:00:00,Class A,215810000,north,17.3,Moored,,,,,,,,,,,,,,,,", "bad latitude"),
    (b"01/06/2018 00:00:00,Class A,215810000,1e400,17.3,Moored,,,,,,,,,,,,,,,,", "bad latitude"),
    (b"01/06/2018 00:00:00,Class A,215810000,95.0,17.3,Moored,,,,,,,,,,,,,,,,", "position out of range"),
    (b"01/06/2018 00:00:00,Class A,215810000,55.9,17.3,Dancing,,,,,,,,,,,,,,,,", "unknown navigational"),
    (b"01/06/2018 00:00:00,Class A,215810000,55.9,17.3,Moored,,-4.0,,,,,,,,,,,,,,", "invalid record"),
    (b"01/06/2018 00:00:00,Class A,215810000,55.9,17.3,Moored,,,,,,,,,,x,,,,,,", "bad width"),
    (b"01/06/2018 00:00:00,Class A,215810000", "archive row of 3 columns"),
    (b"01/06/2018 00:00:00,Class A,215810000,55.9,17.3,\x00,,,,,,,,,,,,,,,,", "control characters"),
    (b"01/06/2018 00:00:00,Class A,215810000,55.9,17.3,Moored,,,,,,\xff\xfe,,,,,,,,,,", "invalid UTF-8"),
    (MARINECADASTRE_ROW.replace(b"2023-06-15T00:00:05", b"9999-12-31T23:59:59-05:00"), "bad archive time"),
    (b"01/06/2030 00:00:00,Class A,215810000,55.9,17.3,Moored,,,,,,,,,,,,,,,,", "implausible archive time"),
])
def test_a_bad_row_is_a_dead_letter_with_its_reason(row: bytes, reason: str) -> None:
    header = MARINECADASTRE if row[:1] == b"3" else DMA.read_bytes().splitlines()[0]
    decoder, records = decode([header, row])
    [dead] = decoder.take_dead_letters()
    assert records == [] and dead.reason.startswith(reason), dead.reason
    assert dead.payload == row


def test_a_dma_row_names_its_vessel_in_any_script() -> None:
    header = DMA.read_bytes().splitlines()[0]
    _, records = decode([header, "01/06/2018 00:00:00,Class A,574000001,16.5,107.6,Moored,,0,,,Unknown,,"
                                 "THUẬN PHƯỚC 01,Fishing,,5,18,GPS,,HUẾ,,AIS".encode()])
    assert [r.name for r in records if isinstance(r, VesselStatic)] == ["THUẬN PHƯỚC 01"]


def test_nmea_after_an_archive_is_still_nmea() -> None:
    """A header makes the rows after it an archive's; sentences (with a logger's time or not) stay NMEA."""
    header = DMA.read_bytes().splitlines()[0]
    decoder, records = decode([header, T1, b"2026-12-06 12:13:03: " + T1, b"# a comment"])
    assert [type(r).__name__ for r in records] == ["VesselPosition"] * 2
    assert decoder.stats.ignored_other["comment"] == 1 and decoder.stats.lines_dead == 0


def test_a_replay_of_an_archive_is_paced_by_its_rows_times(tmp_path: Path) -> None:
    archive = tmp_path / "aisdk.csv"
    lines = DMA.read_bytes().splitlines(keepends=True)
    later = lines[2].replace(b"01/06/2018 00:00:00", b"01/06/2018 00:00:20")
    archive.write_bytes(lines[0] + lines[1] + later)
    assert line_stamp(lines[1]) == datetime(2018, 6, 1, tzinfo=UTC).timestamp()
    assert line_stamp(b"367605855,2023-06-15T00:00:05,16.55,107.65") == datetime(
        2023, 6, 15, 0, 0, 5, tzinfo=UTC).timestamp()
    assert paced_waits(archive, 10.0, RECEIVED) == (3, [pytest.approx(2.0)])


def test_an_archive_reaches_the_store_and_the_register(store: Store) -> None:
    _, records = decode(DMA.read_bytes().splitlines())
    StoreWriter(store.pool, store.caps).write(records)
    with store.pool.connection() as conn:
        # 219783000 is twice at 00:00:00 (two receivers): one position per vessel and time is kept
        assert conn.execute("SELECT count(*), count(DISTINCT mmsi) FROM vessel_positions").fetchone() == (
            115, 115)
        assert conn.execute("SELECT name, ship_type, length_m, destination FROM vessels "
                            "WHERE mmsi = 266220000").fetchone() == ("ASTINA", 80, 130.0, "FREDERICIA")


def read_file(path: Path) -> tuple[FileSource, list[bytes]]:
    source = FileSource(path, clock=lambda: RECEIVED)
    lines = [line for batch, _ in source.read(threading.Event()) for line in batch]
    return source, lines  # type: ignore[return-value]


def test_compressed_logs_and_archives_read_as_their_plain_files(tmp_path: Path) -> None:
    """Rotated logs are gzipped, the Authority's and MarineCadastre's days come zipped."""
    import bz2
    import gzip
    import zipfile

    nmea = (DMA.parent / "ais-nmea.log").read_bytes()
    plain = {"ais-nmea.log": nmea, "aisdk.csv": DMA.read_bytes()}
    for name, data in plain.items():
        expected = decode(data.splitlines())[1]
        for suffix, packed in ((".gz", gzip.compress(data)), (".bz2", bz2.compress(data))):
            path = tmp_path / (name + suffix)
            path.write_bytes(packed)
            source, lines = read_file(path)
            assert decode(lines)[1] == expected and source.take_errors() == [], path.name
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, data)
        assert decode(read_file(tmp_path / f"{name}.zip")[1])[1] == expected
    cut = tmp_path / "cut.log.gz"
    whole = gzip.compress(nmea)
    cut.write_bytes(whole[: len(whole) // 2])
    source, lines = read_file(cut)
    assert 100 < len(lines) < len(nmea.splitlines())  # the lines before the cut (the last one dead)
    assert any("cut or corrupt" in e for e in source.take_errors())
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.log", nmea)
        archive.writestr("b.log", nmea)
    zstd = tmp_path / "day.csv.zst"
    zstd.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 32)
    for path, reason in ((tmp_path / "two.zip", "a zip archive of 2 files"), (zstd, "zstd-compressed")):
        source, lines = read_file(path)
        assert lines == [] and any(reason in e for e in source.take_errors()), source.take_errors()
