"""The lines of a replayed CSV file and its format.

The format is checked (compression, header shape, delimiter); lines are read by position with
bounded memory (a compressed file through its decompressor, :mod:`ingest.compressed`) and
split into checked fields; :class:`Row` and :class:`Cursor` are what
:class:`~ingest.environment.csv_replay.CsvReplaySource` keeps while it streams the file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ingest.compressed import STREAM_ERRORS
from ioc.feeds.environment.records import EnvironmentReading

from .base import BadRecord

MAX_LINE_BYTES = 64 * 1024
SERIES_COLUMNS = ("offset_s", "station_id", "metric", "value", "unit")
TIMESTAMPED_COLUMNS = ("time", "station_id", "metric", "value", "unit")
#: OpenAQ's archive (``openaq-data-archive``, one ``csv.gz`` per location and day); its other
#: columns, where a file has them, are not read
OPENAQ_COLUMNS = ("location_id", "sensors_id", "location", "datetime", "lat", "lon", "parameter", "units",
                  "value")
OPTIONAL_COLUMNS = ("quality",)
SNIFF_ROWS = 20  # rows read to check the delimiter
OTHER_DELIMITERS = (";", "\t", "|")


class CsvFormatError(ValueError):
    """The file is not a CSV of one of the known shapes (header, delimiter, compression)."""


def line_text(raw: bytes) -> str:
    if b"\x00" in raw:
        raise BadRecord("binary data (NUL byte) in line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRecord(f"line is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def line_fields(raw: bytes, delimiter: str = ",") -> list[str]:
    try:
        return next(csv.reader([line_text(raw).rstrip("\r\n")], strict=True, delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise BadRecord(f"not a CSV row: {exc}") from None


def line_record(raw: bytes, columns: list[str]) -> dict[str, str]:
    fields = line_fields(raw)
    if len(fields) > len(columns):
        raise BadRecord(f"{len(fields)} fields, header has {len(columns)}: unknown extra column(s)")
    if len(fields) < len(columns):
        missing = ", ".join(columns[len(fields) :])
        raise BadRecord(f"{len(fields)} fields, header has {len(columns)}: missing column(s) {missing}")
    return dict(zip(columns, (f.strip() for f in fields), strict=True))


class Lines:
    """Lines of the file by position: ``read(pos)`` -> ``(raw, too_long, next_pos)``, bounded memory."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def read(self, pos: int) -> tuple[bytes, bool, int]:
        """The line at ``pos``; :class:`CsvFormatError` when a compressed file is cut or corrupt there."""
        try:
            if self.f.tell() != pos:
                self.f.seek(pos)
            raw = self.f.readline(MAX_LINE_BYTES + 1)
            too_long = len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n")
            if too_long:  # skip the rest of this line in chunks
                while True:
                    rest = self.f.readline(MAX_LINE_BYTES)
                    if not rest or rest.endswith(b"\n"):
                        break
            return raw, too_long, self.f.tell()
        except STREAM_ERRORS as exc:
            raise CsvFormatError(f"the compressed file is cut or corrupt: {exc}") from None


@dataclass
class Row:
    """One valid row: where it is, its offset and its reading (timed at the series start)."""

    number: int
    offset: float
    reading: EnvironmentReading
    raw: bytes


@dataclass
class Cursor:
    """One station's place in a series file and what it knows of the series so far."""

    first_pos: int
    first_number: int
    pos: int = 0
    number: int = 0
    ahead: Row | None = None  # the first row of the next step
    first_offset: float | None = None
    last_offset: float | None = None  # of the last step read
    index: int = 0  # steps read in this cycle
    cycle: int = 0
    period: float | None = None  # seconds of one cycle, once the end of the file has been seen
    gaps: list[float] = field(default_factory=list)  # the first spacings, for the median
    pending: tuple[float, list[EnvironmentReading]] | None = None  # the next step and its time


def header_columns(path: Path, raw: bytes) -> tuple[list[str], bool]:
    """The columns of the header line ``raw`` and whether the file is timestamped (else a series)."""
    try:
        columns = [c.strip() for c in next(csv.reader([line_text(raw).lstrip("\ufeff").rstrip("\r\n")]))]
    except (BadRecord, StopIteration, csv.Error) as exc:
        raise CsvFormatError(f"{path}: unreadable header: {exc}") from None
    for shape in (SERIES_COLUMNS, TIMESTAMPED_COLUMNS, OPENAQ_COLUMNS):
        if set(shape) <= set(columns):
            unknown = set(columns) - set(shape) - set(OPTIONAL_COLUMNS)
            if shape is OPENAQ_COLUMNS:
                unknown = set()
            if unknown:
                raise CsvFormatError(f"{path}: unknown column(s) {sorted(unknown)}")
            if len(set(columns)) != len(columns):
                raise CsvFormatError(f"{path}: repeated column in header {columns}")
            return columns, shape is not SERIES_COLUMNS
    raise CsvFormatError(
        f"{path}: header {columns[:8]} is neither {','.join(SERIES_COLUMNS)} "
        f"nor {','.join(TIMESTAMPED_COLUMNS)} nor OpenAQ's archive ({','.join(OPENAQ_COLUMNS)})"
    )


def check_delimiter(path: Path, lines: Lines, pos: int, width: int) -> None:
    """Stop when the first rows all split into the header's ``width`` columns with another delimiter."""
    votes, seen = dict.fromkeys(OTHER_DELIMITERS, 0), 0
    while seen < SNIFF_ROWS:
        raw, too_long, pos = lines.read(pos)
        if not raw:
            break
        if too_long or not raw.strip():
            continue
        seen += 1
        try:
            if len(line_fields(raw)) == width:
                return
            for delimiter in OTHER_DELIMITERS:
                votes[delimiter] += len(line_fields(raw, delimiter)) == width
        except BadRecord:
            continue
    best = max(OTHER_DELIMITERS, key=lambda d: votes[d])
    if seen and votes[best] == seen:
        raise CsvFormatError(
            f"{path}: the header is separated by ',' but the rows by {best!r}; "
            "write the file with one delimiter (',')"
        )
