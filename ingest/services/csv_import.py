"""CSV import of dossier events (an export of the one-stop-shop system): each line an event or a
dead letter with its reason; nothing is dropped silently."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.services.rows import FIELDS, BadRow, parse_row
from ioc.feeds.services.records import DossierEvent

MAX_LINE = 64 * 1024


def read_csv(
    text: str, *, source: str, tz: ZoneInfo, simulated: bool = False
) -> Iterator[DossierEvent | tuple[str, str]]:
    """Each data line of ``text`` as an event, or ``(reason, raw line)``."""
    lines = text.splitlines()
    if not lines:
        return
    header = next(csv.reader([lines[0]]))
    missing = [f for f in ("dossier_id", "status", "time", "received", "due") if f not in header]
    if missing:
        yield f"header: missing column(s) {', '.join(missing)} (columns: {', '.join(FIELDS)})", lines[0]
        return
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            yield f"line {number}: longer than {MAX_LINE} characters", line[:MAX_LINE]
            continue
        try:
            cells = next(csv.reader(io.StringIO(line)))
        except csv.Error as exc:
            yield f"line {number}: {exc}", line
            continue
        if len(cells) != len(header):
            yield f"line {number}: {len(cells)} cells for {len(header)} columns", line
            continue
        try:
            yield parse_row(dict(zip(header, cells, strict=True)), source=source, tz=tz, simulated=simulated)
        except BadRow as exc:
            yield f"line {number}: {exc}", line


def read_csv_file(path: Path, **kw: object) -> Iterator[DossierEvent | tuple[str, str]]:
    """:func:`read_csv` of a UTF-8 file (a BOM is allowed); undecodable bytes are one dead letter."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield f"{path.name}: not UTF-8 ({exc})", data[:65536].decode("utf-8", "replace")
        return
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
