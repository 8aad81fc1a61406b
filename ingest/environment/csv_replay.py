"""Replay recorded environment readings from CSV, re-timed to the present.

Two file shapes, told apart by the header:

* a *recorded series* ``offset_s,station_id,metric,value,unit[,quality]``: ``offset_s`` is seconds
  since the start of that station's series. Rows with the same station and offset form one step.
  The series is re-timed so that its first step lies ``backfill_minutes`` before the source was
  created: step ``i`` gets ``start + i * cadence_seconds`` (when a cadence is given) or
  ``start + offset_s / speed``. Steps already in the past come out on the first :meth:`due`
  call (the backfilled history); later ones when their time comes. With ``loop`` the series
  starts over after its last step, one spacing later, for ever.
* a *timestamped file* ``time,station_id,metric,value,unit[,quality]`` with ISO 8601 times and a
  timezone: rows keep their own times (no re-timing, no loop); every row not after ``now`` is due.

The file is read line by line with a length limit; a line that is not a valid reading (binary
junk, too long, wrong number of fields, text or NaN value, bad metric name...) becomes a
:class:`~ingest.environment.base.Rejected` with the reason. Quoted fields may not hold newlines.
"""

from __future__ import annotations

import csv
import heapq
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from ioc.config import FeedSettings, Settings
from ioc.events import EnvironmentReading

from .base import (
    BadRecord,
    Clock,
    FeedConfigError,
    SourceBase,
    check_stations,
    feed_options,
    make_reading,
    parse_time,
    parse_value,
    utc_now,
)

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
SERIES_COLUMNS = ("offset_s", "station_id", "metric", "value", "unit")
TIMESTAMPED_COLUMNS = ("time", "station_id", "metric", "value", "unit")
OPTIONAL_COLUMNS = ("quality",)
DEFAULT_GAP_SECONDS = 60.0


class CsvFormatError(ValueError):
    """The file's header is not one of the two known shapes."""


@dataclass
class _Series:
    """One station's steps: times in seconds since ``start`` and the readings of each step."""

    times: list[float]
    steps: list[list[EnvironmentReading]]
    period: float
    cycle: int = 0
    index: int = 0
    last: datetime | None = field(default=None)


def _lines(path: Path):
    """``(line_number, raw_bytes, too_long)`` for each line, reading at most the limit into memory."""
    with path.open("rb") as f:
        number = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            too_long = len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n")
            if too_long:  # skip the rest of this line in chunks
                while True:
                    rest = f.readline(MAX_LINE_BYTES)
                    if not rest or rest.endswith(b"\n"):
                        break
            yield number, raw, too_long


def _text(raw: bytes) -> str:
    if b"\x00" in raw:
        raise BadRecord("binary data (NUL byte) in line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRecord(f"line is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


class CsvReplaySource(SourceBase):
    """Readings from a recorded CSV, re-timed to now (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        stations: set[str] | None = None,
        cadence_seconds: float | None = None,
        backfill_minutes: float = 0.0,
        loop: bool = True,
        speed: float = 1.0,
        now: Clock = utc_now,
        *,
        name: str = "csv_replay",
        max_batch: int = 50_000,
    ) -> None:
        super().__init__(name)
        if cadence_seconds is not None and cadence_seconds <= 0:
            raise ValueError("cadence_seconds must be > 0")
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if backfill_minutes < 0:
            raise ValueError("backfill_minutes must be >= 0")
        self.path = Path(path)
        self.stations = set(stations) if stations is not None else None
        self.cadence_seconds = cadence_seconds
        self.backfill_minutes = backfill_minutes
        self.loop = loop
        self.speed = speed
        self.max_batch = max_batch
        self.anchor = now().astimezone(UTC)
        self.start = self.anchor - timedelta(minutes=backfill_minutes)
        self.rows_loaded = 0
        self.timestamped = False
        self._series: dict[str, _Series] = {}
        self._timed: list[EnvironmentReading] = []
        self._timed_pos = 0
        self._heap: list[tuple[float, str]] = []
        self._load()

    # -- loading ---------------------------------------------------------------------
    def _header(self, raw: bytes) -> list[str]:
        try:
            columns = [c.strip() for c in next(csv.reader([_text(raw).lstrip("\ufeff").rstrip("\r\n")]))]
        except (BadRecord, StopIteration, csv.Error) as exc:
            raise CsvFormatError(f"{self.path}: unreadable header: {exc}") from None
        for shape in (SERIES_COLUMNS, TIMESTAMPED_COLUMNS):
            if set(shape) <= set(columns):
                unknown = set(columns) - set(shape) - set(OPTIONAL_COLUMNS)
                if unknown:
                    raise CsvFormatError(f"{self.path}: unknown column(s) {sorted(unknown)}")
                if len(set(columns)) != len(columns):
                    raise CsvFormatError(f"{self.path}: repeated column in header {columns}")
                self.timestamped = shape is TIMESTAMPED_COLUMNS
                return columns
        raise CsvFormatError(
            f"{self.path}: header {columns[:8]} is neither {','.join(SERIES_COLUMNS)} "
            f"nor {','.join(TIMESTAMPED_COLUMNS)}"
        )

    def _load(self) -> None:
        columns: list[str] | None = None
        by_station: dict[str, dict[float, list[EnvironmentReading]]] = {}
        timed: list[EnvironmentReading] = []
        for number, raw, too_long in _lines(self.path):
            if columns is None:
                if too_long:
                    raise CsvFormatError(f"{self.path}: header line longer than {MAX_LINE_BYTES} bytes")
                columns = self._header(raw)
                continue
            if too_long:
                self.reject(f"line {number}: longer than {MAX_LINE_BYTES} bytes", raw)
                continue
            if not raw.strip():
                continue  # a blank line is not a row
            try:
                record = self._record(raw, columns)
                if self.stations is not None and record["station_id"] not in self.stations:
                    continue
                if self.timestamped:
                    timed.append(self._reading(parse_time(record["time"]), record))
                else:
                    offset = parse_value(record["offset_s"])
                    if offset < 0:
                        raise BadRecord(f"offset_s is negative: {offset}")
                    reading = self._reading(self.start, record)
                    by_station.setdefault(reading.source_id, {}).setdefault(offset, []).append(reading)
            except BadRecord as exc:
                self.reject(f"line {number}: {exc}", raw)
                continue
            self.rows_loaded += 1
        if columns is None:
            raise CsvFormatError(f"{self.path}: empty file")
        if self.timestamped:
            if self.loop:
                log.info("%s: timestamped file, 'loop' does not apply", self.path)
            self._timed = sorted(timed, key=lambda r: r.time)
        else:
            for station, steps in by_station.items():
                self._series[station] = self._make_series(steps)
                heapq.heappush(self._heap, (self._series[station].times[0], station))

    @staticmethod
    def _record(raw: bytes, columns: list[str]) -> dict[str, str]:
        text = _text(raw).rstrip("\r\n")
        try:
            fields = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration) as exc:
            raise BadRecord(f"not a CSV row: {exc}") from None
        if len(fields) > len(columns):
            raise BadRecord(f"{len(fields)} fields, header has {len(columns)}: unknown extra column(s)")
        if len(fields) < len(columns):
            missing = ", ".join(columns[len(fields) :])
            raise BadRecord(f"{len(fields)} fields, header has {len(columns)}: missing column(s) {missing}")
        return dict(zip(columns, (f.strip() for f in fields), strict=True))

    @staticmethod
    def _reading(when: datetime, record: dict[str, str]) -> EnvironmentReading:
        return make_reading(
            time=when,
            station=record["station_id"],
            metric=record["metric"],
            value=record["value"],
            unit=record["unit"],
            quality=record.get("quality") or "good",
        )

    def _make_series(self, steps: dict[float, list[EnvironmentReading]]) -> _Series:
        offsets = sorted(steps)
        if self.cadence_seconds is not None:
            times = [i * self.cadence_seconds for i in range(len(offsets))]
            gap = self.cadence_seconds
        else:
            times = [(o - offsets[0]) / self.speed for o in offsets]
            diffs = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
            gap = (median(diffs) if diffs else DEFAULT_GAP_SECONDS) / self.speed
        return _Series(times=times, steps=[steps[o] for o in offsets], period=times[-1] + gap)

    # -- replay ----------------------------------------------------------------------
    @property
    def station_ids(self) -> list[str]:
        """Stations present in the file (after the ``stations`` filter)."""
        if self.timestamped:
            return sorted({r.source_id for r in self._timed})
        return sorted(self._series)

    def backfill(self) -> list[EnvironmentReading]:
        """The history: everything due at the moment the source was created."""
        return self.due(self.anchor)

    def due(self, now: datetime) -> list[EnvironmentReading]:
        """Readings whose (re-timed) time is not after ``now``, oldest first, each once."""
        if self.timestamped:
            return self._due_timed(now)
        horizon = (now - self.start).total_seconds()
        out: list[EnvironmentReading] = []
        while self._heap and self._heap[0][0] <= horizon and len(out) < self.max_batch:
            seconds, station = heapq.heappop(self._heap)
            series = self._series[station]
            when = self.start + timedelta(seconds=seconds)
            out.extend(r.model_copy(update={"time": when}) for r in series.steps[series.index])
            series.last = when
            series.index += 1
            if series.index == len(series.steps):
                if not self.loop:
                    continue
                series.index = 0
                series.cycle += 1
            heapq.heappush(self._heap, (series.cycle * series.period + series.times[series.index], station))
        return out

    def _due_timed(self, now: datetime) -> list[EnvironmentReading]:
        end = self._timed_pos
        while (
            end < len(self._timed) and self._timed[end].time <= now and end - self._timed_pos < self.max_batch
        ):
            end += 1
        out, self._timed_pos = self._timed[self._timed_pos : end], end
        return out

    @property
    def exhausted(self) -> bool:
        """True when nothing more will ever be due (no loop, everything emitted)."""
        if self.timestamped:
            return self._timed_pos >= len(self._timed)
        return not self._heap


class CsvReplayOptions(BaseModel):
    """``[feeds.options]`` of a ``csv_replay`` feed."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    stations: list[str] | None = None
    cadence_seconds: float | None = Field(default=None, gt=0)
    backfill_minutes: float = Field(default=0.0, ge=0)
    loop: bool = True
    speed: float = Field(default=1.0, gt=0)


def from_feed(
    feed: FeedSettings, settings: Settings, samples_dir: Path, now: Clock = utc_now
) -> CsvReplaySource:
    """A :class:`CsvReplaySource` from a feed's options; ``path`` is relative to ``samples_dir``."""
    options = feed_options(CsvReplayOptions, feed)
    if options.stations is not None:
        check_stations(feed, settings, options.stations)
    path = Path(options.path)
    if not path.is_absolute():
        path = Path(samples_dir) / path
    if not path.is_file():
        raise FeedConfigError(f"feed {feed.name!r}: no such file {path}")
    try:
        return CsvReplaySource(
            path,
            stations=set(options.stations) if options.stations is not None else None,
            cadence_seconds=options.cadence_seconds,
            backfill_minutes=options.backfill_minutes,
            loop=options.loop,
            speed=options.speed,
            now=now,
            name=feed.name,
        )
    except CsvFormatError as exc:
        raise FeedConfigError(f"feed {feed.name!r}: {exc}") from None
