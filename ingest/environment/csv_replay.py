"""Replay recorded environment readings from CSV, re-timed to the present, streamed from disk.

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
* *OpenAQ's archive* (``openaq-data-archive``: ``location_id,sensors_id,location,datetime,lat,lon,
  parameter,units,value``, one file per location and day, quoted or not): read as a timestamped
  file; ``sensors`` maps each sensor id to a station, metric and unit (as an ``openaq`` feed does),
  a sensor not mapped is not read (counted), and a row whose unit is not its sensor's is a dead
  letter. OpenAQ's ``-999`` is a no-measurement sentinel (``[environment] sentinels``).

A timestamped file (an archive too) may be compressed (gzip, bzip2, xz, a zip of one file), as
OpenAQ publishes its files (``.csv.gz``): it is read through the decompressor
(:mod:`ingest.compressed`); a series file must be plain.

The file is streamed, never loaded: memory does not grow with its size. A series file is scanned
once when the source is built (to find each station's first row); then every station has a
cursor into the file that reads one step at a time, so a station's rows must come in
non-decreasing ``offset_s`` (stations may be grouped or interleaved). A timestamped file is read
in order with a look-ahead of :data:`REORDER_ROWS` rows that puts nearby rows back in time
order; a row earlier than one already replayed is a dead letter.

A line that is not a valid reading (binary junk, too long, wrong number of fields, text or NaN
value, bad metric name, a station not in ``[[stations]]``, a sentinel, a repeat or a conflicting
value for the same station, metric and time...) becomes a
:class:`~ingest.environment.base.Rejected` with the reason (once, not on every loop). A
compressed series, a zstd file, a zip of several files, or a header whose rows all use another
delimiter, is a :class:`CsvFormatError`. A compressed file cut short gives its rows up to the cut,
and the cut is a dead letter.
Quoted fields may not hold newlines.
"""

from __future__ import annotations

import heapq
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from ingest.compressed import CompressedFileError, open_decompressed
from ioc.config import FeedSettings, Settings
from ioc.feeds.environment.records import EnvironmentReading

from .base import (
    DEFAULT_CHECKS,
    BadRecord,
    Clock,
    FeedConfigError,
    ReadingChecks,
    SourceBase,
    Target,
    check_stations,
    feed_options,
    parse_time,
    parse_value,
    utc_now,
)
from .csv_lines import (
    MAX_LINE_BYTES,
    CsvFormatError,
    Cursor,
    Lines,
    Row,
    check_delimiter,
    header_columns,
    line_record,
)
from .openaq_archive import ArchiveSensors

log = logging.getLogger(__name__)

DEFAULT_GAP_SECONDS = 60.0
MIN_SPEED = 0.001  # slower stretches a century-long offset past what a datetime holds
MAX_OFFSET_SECONDS = 100 * 365.25 * 86400  # a series longer than a century is a typo
MAX_STATIONS = 10_000  # cursors a series file may open
MAX_STEP_ROWS = 10_000  # rows of one station at one offset
MAX_GAPS = 1001  # spacings kept for the median gap of a series
REORDER_ROWS = 4096  # look-ahead of a timestamped file


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
        checks: ReadingChecks = DEFAULT_CHECKS,
        sensors: dict[int, Target] | None = None,
    ) -> None:
        super().__init__(name)
        if cadence_seconds is not None and cadence_seconds <= 0:
            raise ValueError("cadence_seconds must be > 0")
        if speed < MIN_SPEED:
            raise ValueError(f"speed must be >= {MIN_SPEED}")
        if backfill_minutes < 0:
            raise ValueError("backfill_minutes must be >= 0")
        self.path = Path(path)
        self.stations = set(stations) if stations is not None else None
        self.cadence_seconds = cadence_seconds
        self.backfill_minutes = backfill_minutes
        self.loop = loop
        self.speed = speed
        self.max_batch = max_batch
        self.checks = checks
        self.anchor = now().astimezone(UTC)
        self.start = self.anchor - timedelta(minutes=backfill_minutes)
        self.rows_loaded = 0
        self.timestamped = False
        self.sensors = dict(sensors or {})
        self.archive: ArchiveSensors | None = None  # OpenAQ's archive: rows name a sensor
        self._columns: list[str] = []
        try:
            self._file, self._compressed = open_decompressed(self.path)
        except CompressedFileError as exc:
            raise CsvFormatError(str(exc)) from None
        self._lines = Lines(self._file)
        self._cursors: dict[str, Cursor] = {}
        self._heap: list[tuple[float, str]] = []
        # timestamped files: read position, look-ahead heap, the last time replayed and its rows
        self._pos = 0
        self._number = 0
        self._eof = False
        self._seq = 0
        self._ahead: list[tuple[datetime, int, Row]] = []
        self._seen: set[str] = set()
        self._last_time: datetime | None = None
        self._at_last: dict[tuple[str, str], tuple[float, int]] = {}
        try:
            self._open()
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()

    # -- opening ---------------------------------------------------------------------
    def _open(self) -> None:
        compressed = self._compressed
        raw, too_long, pos = self._lines.read(0)
        if not raw:
            raise CsvFormatError(f"{self.path}: empty file")
        if too_long:
            raise CsvFormatError(f"{self.path}: header line longer than {MAX_LINE_BYTES} bytes")
        self._columns, self.timestamped = header_columns(self.path, raw)
        if compressed is not None and not self.timestamped:
            raise CsvFormatError(f"{self.path}: the file is {compressed}-compressed and a series is read "
                                 "by position; decompress it first")
        if "sensors_id" in self._columns:
            if not self.sensors:
                raise CsvFormatError(f"{self.path}: an OpenAQ archive needs 'sensors' (sensor id -> "
                                     "station, metric, unit), as an openaq feed has")
            self.archive = ArchiveSensors(self.sensors, self.name)
        check_delimiter(self.path, self._lines, pos, len(self._columns))
        self._pos, self._number = pos, 1
        if self.timestamped:
            if self.loop:
                log.info("%s: timestamped file, 'loop' does not apply", self.path)
            self._fill()
        else:
            self._scan(pos)

    def _scan(self, pos: int) -> None:
        """Find each station's first row (one pass, memory per station only).

        Lines that are not well-formed are rejected here (a cursor skips them later); the other
        checks are left to the cursor of the row's station."""
        width = len(self._columns)
        column = self._columns.index("station_id")
        known: set[bytes] = set()  # raw station fields already placed (the fast path)
        number = 1
        self._file.seek(pos)
        while True:
            raw = self._file.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            number += 1
            here, pos = pos, pos + len(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raw, _, pos = self._lines.read(here)  # skips the rest of the line
                self.reject(f"line {number}: longer than {MAX_LINE_BYTES} bytes", raw)
                continue
            if b'"' not in raw and b"\x00" not in raw:  # the common case, without the csv module
                fields = raw.rstrip(b"\r\n").split(b",")
                if len(fields) == width and fields[column] in known:
                    try:
                        raw.decode("utf-8")
                        continue
                    except UnicodeDecodeError:
                        pass
            if not raw.strip():
                continue
            try:
                station = line_record(raw, self._columns)["station_id"]
            except BadRecord as exc:
                self.reject(f"line {number}: {exc}", raw)
                continue
            if station in self._cursors or (self.stations is not None and station not in self.stations):
                if b'"' not in raw and len(known) < MAX_STATIONS:
                    known.add(raw.rstrip(b"\r\n").split(b",")[column])
                continue
            if self.checks.stations is not None and station not in self.checks.stations:
                self.reject(
                    f"line {number}: station {station[:80]!r} is not one of the configured [[stations]]", raw
                )
                continue
            if len(self._cursors) >= MAX_STATIONS:
                self.reject(f"line {number}: more than {MAX_STATIONS} stations in one file", raw)
                continue
            self._cursors[station] = Cursor(
                first_pos=here, first_number=number - 1, pos=here, number=number - 1
            )
        for station in list(self._cursors):
            self._schedule(station)

    # -- one row ---------------------------------------------------------------------
    def _valid(self, record: dict[str, str], raw: bytes, number: int) -> Row | None:
        """The row of a well-formed record, or :class:`BadRecord` with the reason; ``None`` for an
        archive row of a sensor not mapped."""
        if self.archive is not None:
            return self.archive.row(record, raw, number, self.checks)
        if self.timestamped:
            when, offset = parse_time(record["time"]), 0.0
        else:
            when, offset = self.start, parse_value(record["offset_s"])
            if not 0 <= offset <= MAX_OFFSET_SECONDS:
                raise BadRecord(f"offset_s is negative or beyond a century: {offset:g}")
        reading = self.checks.reading(
            time=when,
            station=record["station_id"],
            metric=record["metric"],
            value=record["value"],
            unit=record["unit"],
            quality=record.get("quality") or "good",
        )
        return Row(number, offset, reading, raw)

    def _repeat(self, seen: dict[tuple[str, str], tuple[float, int]], row: Row, report: bool) -> bool:
        """True (and a dead letter when ``report``) if ``row``'s station and metric were read at its time."""
        key = (row.reading.source_id, row.reading.metric)
        known = seen.get(key)
        if known is None:
            seen[key] = (row.reading.value, row.number)
            return False
        if report:
            what = "repeats" if known[0] == row.reading.value else f"conflicts with value {known[0]:g} of"
            self.reject(f"line {row.number}: {what} line {known[1]} (same station, metric and time)", row.raw)
        return True

    # -- series ----------------------------------------------------------------------
    def _next_row(self, station: str, cursor: Cursor) -> Row | None:
        """The next valid row of ``station`` after the cursor; None at the end of the file.

        Lines that are not well-formed were rejected by :meth:`_scan`; invalid rows of this
        station are rejected here, on the first cycle only."""
        first = cursor.cycle == 0
        while True:
            raw, too_long, next_pos = self._lines.read(cursor.pos)
            if not raw:
                return None
            cursor.pos, cursor.number = next_pos, cursor.number + 1
            if too_long or not raw.strip():
                continue
            try:
                record = line_record(raw, self._columns)
            except BadRecord:
                continue
            if record["station_id"] != station:
                continue
            try:
                row = self._valid(record, raw, cursor.number)
            except BadRecord as exc:
                if first:
                    self.reject(f"line {cursor.number}: {exc}", raw)
                continue
            if row is None:  # pragma: no cover - only an archive's rows (never a series) are unmapped
                continue
            if cursor.last_offset is not None and row.offset < cursor.last_offset:
                if first:
                    self.reject(
                        f"line {row.number}: offset_s {row.offset:g} goes back (station {station} "
                        f"is at {cursor.last_offset:g}; rows must be in offset order)",
                        raw,
                    )
                continue
            return row

    def _read_step(self, station: str, cursor: Cursor) -> list[EnvironmentReading] | None:
        """The readings of the cursor's next step (one offset); None at the end of the file."""
        row = cursor.ahead or self._next_row(station, cursor)
        cursor.ahead = None
        if row is None:
            return None
        first = cursor.cycle == 0
        offset = row.offset
        if first and cursor.last_offset is not None and len(cursor.gaps) < MAX_GAPS:
            cursor.gaps.append(offset - cursor.last_offset)
        cursor.last_offset = offset
        if cursor.first_offset is None:
            cursor.first_offset = offset
        seen: dict[tuple[str, str], tuple[float, int]] = {}
        step: list[EnvironmentReading] = []
        while row is not None and row.offset == offset:
            if not self._repeat(seen, row, first):
                if len(step) < MAX_STEP_ROWS:
                    step.append(row.reading)
                    self.rows_loaded += first
                elif first:
                    self.reject(f"line {row.number}: more than {MAX_STEP_ROWS} rows at one offset", row.raw)
            row = self._next_row(station, cursor)
        cursor.ahead = row
        return step

    def _schedule(self, station: str) -> None:
        """Read the station's next step and put it on the heap at its time (wrapping when looping)."""
        cursor = self._cursors[station]
        step = self._read_step(station, cursor)
        if step is None:
            if cursor.first_offset is None:
                del self._cursors[station]  # not one valid row
                return
            if not self.loop:
                cursor.pending = None
                return
            if cursor.period is None:
                cursor.period = self._offset_seconds(cursor, cursor.index - 1) + self._gap(cursor)
            cursor.cycle += 1
            cursor.index = 0
            cursor.pos, cursor.number = cursor.first_pos, cursor.first_number
            cursor.last_offset = None
            step = self._read_step(station, cursor)
            if step is None:  # pragma: no cover - the file was emptied under us
                return
        seconds = cursor.cycle * (cursor.period or 0.0) + self._offset_seconds(cursor, cursor.index)
        cursor.index += 1
        cursor.pending = (seconds, step)
        heapq.heappush(self._heap, (seconds, station))

    def _offset_seconds(self, cursor: Cursor, index: int) -> float:
        """Seconds after the cycle's start of step ``index`` (the last one read, without a cadence)."""
        if self.cadence_seconds is not None:
            return index * self.cadence_seconds
        assert cursor.first_offset is not None and cursor.last_offset is not None
        return (cursor.last_offset - cursor.first_offset) / self.speed

    def _gap(self, cursor: Cursor) -> float:
        if self.cadence_seconds is not None:
            return self.cadence_seconds
        return (median(cursor.gaps) if cursor.gaps else DEFAULT_GAP_SECONDS) / self.speed

    # -- timestamped -----------------------------------------------------------------
    def _fill(self) -> None:
        """Read rows until the look-ahead holds :data:`REORDER_ROWS` (or the file ends)."""
        while not self._eof and len(self._ahead) < REORDER_ROWS:
            try:
                raw, too_long, next_pos = self._lines.read(self._pos)
            except CsvFormatError as exc:  # a compressed file cut short: what came before it is read
                self.reject(f"line {self._number + 1}: {self.path}: {exc}", b"")
                self._eof = True
                return
            if not raw:
                self._eof = True
                return
            self._pos, self._number = next_pos, self._number + 1
            if too_long:
                self.reject(f"line {self._number}: longer than {MAX_LINE_BYTES} bytes", raw)
                continue
            if not raw.strip():
                continue
            try:
                record = line_record(raw, self._columns)
                if (self.stations is not None and self.archive is None
                        and record["station_id"] not in self.stations):
                    continue
                row = self._valid(record, raw, self._number)
            except BadRecord as exc:
                self.reject(f"line {self._number}: {exc}", raw)
                continue
            if row is None:
                continue
            self._seq += 1
            heapq.heappush(self._ahead, (row.reading.time, self._seq, row))

    def _due_timed(self, now: datetime) -> list[EnvironmentReading]:
        out: list[EnvironmentReading] = []
        self._fill()
        while self._ahead and self._ahead[0][0] <= now and len(out) < self.max_batch:
            when, _, row = heapq.heappop(self._ahead)
            self._fill()
            if self._last_time is not None and when < self._last_time:
                self.reject(
                    f"line {row.number}: time {when.isoformat()} is earlier than rows already replayed "
                    f"({self._last_time.isoformat()}); the file must be in time order",
                    row.raw,
                )
                continue
            if when != self._last_time:
                self._last_time, self._at_last = when, {}
            if self._repeat(self._at_last, row, True):
                continue
            self.rows_loaded += 1
            if len(self._seen) < MAX_STATIONS:
                self._seen.add(row.reading.source_id)
            out.append(row.reading)
        return out

    # -- replay ----------------------------------------------------------------------
    @property
    def station_ids(self) -> list[str]:
        """Stations of the file (after the ``stations`` filter); of a timestamped file, those read so far."""
        if self.timestamped:
            return sorted(self._seen | {row.reading.source_id for _, _, row in self._ahead})
        return sorted(self._cursors)

    @property
    def bytes_read(self) -> int:
        """How far into a timestamped file the replay has read (its look-ahead included)."""
        return self._pos

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
            cursor = self._cursors[station]
            assert cursor.pending is not None
            when = self.start + timedelta(seconds=seconds)
            out.extend(r.model_copy(update={"time": when}) for r in cursor.pending[1])
            self._schedule(station)
        return out

    @property
    def exhausted(self) -> bool:
        """True when nothing more will ever be due (no loop, everything emitted)."""
        if self.timestamped:
            return self._eof and not self._ahead
        return not self._heap


class CsvReplayOptions(BaseModel):
    """``[feeds.options]`` of a ``csv_replay`` feed."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    stations: list[str] | None = None
    cadence_seconds: float | None = Field(default=None, gt=0)
    backfill_minutes: float = Field(default=0.0, ge=0)
    loop: bool = True
    speed: float = Field(default=1.0, ge=MIN_SPEED)
    sensors: dict[int, Target] | None = None
    """Of an OpenAQ archive: each sensor id's station, metric and unit (others are not read)."""


def from_feed(
    feed: FeedSettings, settings: Settings, samples_dir: Path, now: Clock = utc_now
) -> CsvReplaySource:
    """A :class:`CsvReplaySource` from a feed's options; ``path`` is relative to ``samples_dir``."""
    options = feed_options(CsvReplayOptions, feed)
    if options.stations is not None:
        check_stations(feed, settings, options.stations)
    if options.sensors:
        check_stations(feed, settings, (t.station for t in options.sensors.values()))
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
            checks=ReadingChecks.from_settings(settings),
            sensors=options.sensors,
        )
    except CsvFormatError as exc:
        raise FeedConfigError(f"feed {feed.name!r}: {exc}") from None
