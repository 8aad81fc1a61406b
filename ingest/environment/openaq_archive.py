"""Rows of OpenAQ's archive (``openaq-data-archive``) as the readings of the stations they feed.

OpenAQ publishes every location's measurements as one CSV per day (``location-{id}-{yyyymmdd}
.csv.gz``: ``location_id,sensors_id,location,datetime,lat,lon,parameter,units,value``, fields
quoted in the files since 2024). A city maps the sensors it uses, as for an ``openaq`` feed: each
sensor id to a station, a metric and a unit. :class:`ArchiveSensors` turns one row into a
:class:`~ingest.environment.csv_lines.Row` of that station, or ``None`` for a sensor not mapped
(a location has more sensors than a city uses: counted, logged once, not read). A row whose unit
is not the one its sensor is mapped to is a :class:`~ingest.environment.base.BadRecord`: a value
in ppm read as ppb would be a thousand times off.
"""

from __future__ import annotations

import logging
import unicodedata

from .base import BadRecord, BoundedMemory, ReadingChecks, Target, parse_time
from .csv_lines import Row

log = logging.getLogger(__name__)


def unit_key(unit: str) -> str:
    """A unit as compared: ``µg/m³`` (micro sign) and ``μg/m3`` (Greek mu) are one unit."""
    return unicodedata.normalize("NFKC", unit).strip()


class ArchiveSensors:
    """The sensors of an archive a feed reads, and how many rows of the others it passed over."""

    def __init__(self, sensors: dict[int, Target], name: str) -> None:
        self.sensors = sensors
        self.name = name
        self.unmapped_rows = 0
        self._units = {sensor: unit_key(target.unit) for sensor, target in sensors.items()}
        self._unmapped = BoundedMemory()

    def row(self, record: dict[str, str], raw: bytes, number: int, checks: ReadingChecks) -> Row | None:
        """The row's reading for its sensor's station; ``None`` for a sensor not mapped."""
        text = record["sensors_id"]
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise BadRecord(f"sensors_id is not a sensor id: {text[:40]!r}")
        sensor = int(text)
        target = self.sensors.get(sensor)
        if target is None:
            if sensor not in self._unmapped:
                log.info("%s: sensor %s is not mapped to a station; its rows are not read", self.name, sensor)
                self._unmapped.remember(sensor)
            self.unmapped_rows += 1
            return None
        if unit_key(record["units"]) != self._units[sensor]:
            raise BadRecord(f"unit {record['units'][:20]!r} of sensor {sensor} is not {target.unit!r}, "
                            "the unit it is mapped to")
        reading = checks.reading(time=parse_time(record["datetime"]), station=target.station,
                                 metric=target.metric, value=record["value"], unit=target.unit)
        return Row(number, 0.0, reading, raw)
