"""OpenAQ's archive (``openaq-data-archive``, one ``csv.gz`` per location and day) replayed by a
``csv_replay`` feed. The rows are written as OpenAQ's documentation and files write them: the 2023
form unquoted, the 2024 form with every field quoted, ``-999`` for no measurement, sensors of the
location that the city does not map."""

from __future__ import annotations

import bz2
import gzip
import tomllib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.environment import FeedConfigError, build_source
from ingest.environment.base import Target
from ingest.environment.csv_replay import CsvFormatError, CsvReplaySource
from ioc.config import DEFAULT_CONFIG, FeedSettings, Settings

NOW = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
HEADER = "location_id,sensors_id,location,datetime,lat,lon,parameter,units,value"
QUOTED_HEADER = ",".join(f'"{name}"' for name in HEADER.split(","))
HANOI = [HEADER,  # the US Embassy's monitor in Hà Nội, location 7441, as OpenAQ's 2023 files write it
         "7441,21632,Hanoi-7441,2023-01-01T01:00:00+07:00,21.021939,105.818806,pm25,µg/m³,71.0",
         "7441,21632,Hanoi-7441,2023-01-01T02:00:00+07:00,21.021939,105.818806,pm25,µg/m³,77.0",
         "7441,21633,Hanoi-7441,2023-01-01T02:00:00+07:00,21.021939,105.818806,pm10,µg/m³,90.0",
         "7441,21632,Hanoi-7441,2023-01-01T03:00:00+07:00,21.021939,105.818806,pm25,µg/m³,-999.0",
         "7441,21632,Hanoi-7441,2023-01-01T04:00:00+07:00,21.021939,105.818806,pm25,ppm,0.07"]
SENSORS = {21632: Target(station="hue-air-dainoi", metric="pm25", unit="μg/m3")}  # Greek mu, plain 3


def hue_settings() -> Settings:
    return Settings(**tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")))


def archive(tmp_path: Path, lines: list[str], name: str = "location-7441-20230101.csv.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_a_day_of_the_hanoi_monitor_is_read_through_gzip_as_its_sensors_station(tmp_path: Path) -> None:
    source = CsvReplaySource(archive(tmp_path, HANOI), sensors=SENSORS, now=lambda: NOW)
    readings = source.backfill()
    assert [(r.time, r.source_id, r.metric, r.value, r.unit) for r in readings] == [
        (datetime(2022, 12, 31, 18, tzinfo=UTC), "hue-air-dainoi", "pm25", 71.0, "μg/m3"),
        (datetime(2022, 12, 31, 19, tzinfo=UTC), "hue-air-dainoi", "pm25", 77.0, "μg/m3")]
    reasons = [r.reason for r in source.take_rejects()]
    assert len(reasons) == 2 and "line 5" in reasons[0] and "sentinel" in reasons[0]
    assert "line 6" in reasons[1] and "unit 'ppm' of sensor 21632" in reasons[1]
    assert source.archive is not None and source.archive.unmapped_rows == 1  # pm10: not mapped
    assert source.exhausted
    with zipfile.ZipFile(tmp_path / "day.zip", "w") as day:  # a zip of the day reads the same
        day.writestr("location-7441-20230101.csv", "\n".join(HANOI))
    assert CsvReplaySource(tmp_path / "day.zip", sensors=SENSORS, now=lambda: NOW).backfill() == readings


def test_the_quoted_form_of_2024_and_a_bzip2_file(tmp_path: Path) -> None:
    lines = [QUOTED_HEADER,
             '4946812,13502153,"Công viên hồ điều hòa Nhân Chính-4916745","2025-07-03T22:40:00+07:00",'
             '"21.0031","105.7947","pm10","µg/m³","41.23"']
    path = tmp_path / "location-4946812-20250703.csv.bz2"
    path.write_bytes(bz2.compress(("\r\n".join(lines) + "\r\n").encode()))
    sensors = {13502153: Target(station="hue-air-dongba", metric="pm10", unit="µg/m³")}
    [reading] = CsvReplaySource(path, sensors=sensors, now=lambda: NOW).backfill()
    assert (reading.time, reading.source_id, reading.value) == (
        datetime(2025, 7, 3, 15, 40, tzinfo=UTC), "hue-air-dongba", 41.23)


def test_a_file_cut_short_keeps_the_rows_before_the_cut(tmp_path: Path) -> None:
    whole = gzip.compress(("\n".join(HANOI[:3] + HANOI[1:3] * 200) + "\n").encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) - 12])  # the gzip trailer and the end of the stream lost
    source = CsvReplaySource(path, sensors=SENSORS, now=lambda: NOW)
    readings = source.backfill()
    assert readings and readings[0].value == 71.0
    assert any("cut or corrupt" in r.reason for r in source.take_rejects())
    assert source.exhausted


def test_an_archive_without_its_sensors_or_with_a_stranger_station_is_refused(tmp_path: Path) -> None:
    path = archive(tmp_path, HANOI)
    with pytest.raises(CsvFormatError, match="needs 'sensors'"):
        CsvReplaySource(path, now=lambda: NOW)
    feed = FeedSettings(name="hanoi", kind="csv_replay", options={
        "path": str(path), "sensors": {"21632": {"station": "hue-nowhere", "metric": "pm25"}}})
    with pytest.raises(FeedConfigError, match="hue-nowhere"):
        build_source(feed, hue_settings(), tmp_path, now=lambda: NOW)
    feed.options["sensors"] = {"21632": {"station": "hue-air-dainoi", "metric": "pm25", "unit": "µg/m³"}}
    source = build_source(feed, hue_settings(), tmp_path, now=lambda: NOW)
    assert [r.value for r in source.backfill()] == [71.0, 77.0]
