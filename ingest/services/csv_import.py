"""CSV import of dossier events (an export of the one-stop-shop system): each record an event or a
dead letter with its reason; nothing is dropped silently.

The csv module reads the text itself (RFC 4180): a quoted cell may hold a line break (a newline,
U+2028, Excel's vertical tab), and a reason names the physical line where its record starts. The
separator is the one that splits the header into the known columns: a comma, or the semicolon that
Excel writes where the decimal mark is a comma (a Vietnamese Windows), or a tab.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.services.rows import FIELDS, BadRow, parse_row
from ioc.feeds.services.records import DossierEvent

MAX_LINE = 64 * 1024  # characters of one record
SEPARATORS = (",", ";", "\t")
_KNOWN = frozenset(FIELDS)


class _TooLong(Exception):
    """A record longer than :data:`MAX_LINE` (one long line, or a quote left open)."""


class _Lines:
    """The physical lines of a text for :func:`csv.reader`, counted, with those of the record being
    read kept (its raw text for a dead letter) and bounded: past :data:`MAX_LINE` the record stops."""

    def __init__(self, text: str) -> None:
        self.lines = io.StringIO(text, newline="")  # splits at \n, \r\n, \r only; keeps them
        self.number = 0  # physical lines read
        self.record: list[str] = []
        self.size = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.lines.readline()
        if not line:
            raise StopIteration
        self.number += 1
        self.record.append(line)
        self.size += len(line.rstrip("\r\n"))
        if self.size > MAX_LINE:
            raise _TooLong
        return line

    def start(self) -> int:
        """Begin a record; the physical line it starts on."""
        self.record, self.size = [], 0
        return self.number + 1

    def raw(self) -> str:
        """The record's text as it is in the file, without its line ending."""
        return "".join(self.record).removesuffix("\n").removesuffix("\r")


def read_csv(
    text: str, *, source: str, tz: ZoneInfo, simulated: bool = False
) -> Iterator[DossierEvent | tuple[str, str]]:
    """Each data record of ``text`` as an event, or ``(reason, raw record)``; a leading BOM is
    skipped."""
    text = text.removeprefix("\ufeff")
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=_separator(text[:MAX_LINE].partition("\n")[0]))
    lines.start()
    try:
        header = next(reader)
    except StopIteration:
        return
    except (csv.Error, _TooLong):
        header = []
    missing = [f for f in ("dossier_id", "status", "time", "received", "due") if f not in header]
    if missing:
        yield (f"header: missing column(s) {', '.join(missing)} (columns: {', '.join(FIELDS)})",
               lines.raw()[:MAX_LINE])
        return
    while True:
        number = lines.start()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _TooLong:
            yield f"line {number}: longer than {MAX_LINE} characters", lines.raw()[:MAX_LINE]
            continue
        except csv.Error as exc:
            yield f"line {number}: {exc}", lines.raw()
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if len(cells) != len(header):
            yield f"line {number}: {len(cells)} cells for {len(header)} columns", lines.raw()
            continue
        try:
            yield parse_row(dict(zip(header, cells, strict=True)), source=source, tz=tz, simulated=simulated)
        except BadRow as exc:
            yield f"line {number}: {exc}", lines.raw()


def _separator(header: str) -> str:
    """The separator that splits ``header`` into the most known columns (a comma when none does)."""
    return max(SEPARATORS, key=lambda s: (len(_KNOWN & {c.strip().strip('"') for c in header.split(s)}),
                                          s == ","))


def read_csv_file(path: Path, encoding: str = "utf-8",
                  **kw: object) -> Iterator[DossierEvent | tuple[str, str]]:
    """:func:`read_csv` of a file in ``encoding`` (a byte order mark says which Unicode encoding,
    whatever is set: Excel's "CSV UTF-8" writes UTF-8's, its "Unicode Text" UTF-16's, with tabs);
    bytes that do not decode are one dead letter that says so."""
    data = path.read_bytes()
    utf8 = data.startswith(codecs.BOM_UTF8) or codecs.lookup(encoding).name == "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, utf8 = "utf-16", False  # the codec reads the mark and drops it
    try:
        text = data.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError as exc:
        # Excel's plain "CSV" on a Vietnamese Windows writes windows-1258
        hint = " (an Excel CSV from a Vietnamese Windows is windows-1258: set options.encoding)" \
            if utf8 else ""
        yield f"{path.name}: not {encoding} text ({exc}){hint}", data[:65536].decode(encoding, "replace")
        return
    # windows-1258 writes a tone as a combining mark after its letter (ấ is â + U+0301), and a Mac may
    # write UTF-8 decomposed: names are compared and shown composed, as everywhere else (NFC)
    text = unicodedata.normalize("NFC", text)
    yield from read_csv(text, **kw)  # type: ignore[arg-type]


def to_recent_weeks(events: list[DossierEvent], now: datetime) -> list[DossierEvent]:
    """``events`` moved forward by whole weeks so their last week covers ``now`` (a SIMULATED sample
    replayed long after it was made: weekdays and times of day stay as they were). What then lies
    after ``now`` is the rest of this week's simulated day and days: the worker publishes it as its
    time comes (see :class:`~ingest.services.worker.ServicesWorker`'s ``as_time_passes``)."""
    if not events:
        return events
    weeks = -((max(e.time for e in events) - now) // timedelta(weeks=1))  # whole weeks, rounded up
    if weeks <= 0:
        return events
    step = timedelta(weeks=weeks)
    return [e.model_copy(update={"time": e.time + step, "received": e.received + step, "due": e.due + step,
                                 "finished": None if e.finished is None else e.finished + step})
            for e in events]
