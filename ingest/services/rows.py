"""One dossier row (a JSON object of the one-stop-shop API or a CSV line) to a record, or a reason."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ingest.local_time import day_first
from ioc.feeds.services.records import DossierEvent

FIELDS = (
    "dossier_id",
    "procedure_code",
    "procedure_name",
    "level",
    "department",
    "status",
    "time",
    "received",
    "due",
    "finished",
)
LEVELS = {
    "3": "online_3",
    "4": "online_4",
    "online_3": "online_3",
    "online_4": "online_4",
    "in_person": "in_person",
    "truc_tiep": "in_person",
    "": "in_person",
}


class BadRow(ValueError):
    """A row that is not a dossier event; ``str()`` is the reason for the dead letter."""


def _time(raw: Any, name: str, tz: ZoneInfo) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise BadRow(f"{name}: not a date-time text: {raw!r}"[:200])
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        # a spreadsheet's export writes the day first (08/12/2026 09:15); nothing else is guessed at
        read = day_first(raw, whole=True)
        if read is None:
            raise BadRow(f"{name}: not ISO 8601 (nor dd/mm/yyyy hh:mm): {raw!r}"[:200]) from None
        value = read
    return value.replace(tzinfo=tz) if value.tzinfo is None else value  # local time when none is given


def parse_row(row: Mapping[str, Any], *, source: str, tz: ZoneInfo, simulated: bool = False) -> DossierEvent:
    """The event of ``row``; times without an offset are local (``tz``). Raises :class:`BadRow`."""
    if not isinstance(row, Mapping):
        raise BadRow(f"not an object: {type(row).__name__}")
    unknown = sorted(set(row) - set(FIELDS) - {"simulated"})
    if unknown:
        raise BadRow(f"unknown fields: {', '.join(map(str, unknown))}"[:200])
    level = LEVELS.get(str(row.get("level") or "").strip())
    if level is None:
        raise BadRow(f"level: unknown {row.get('level')!r} (3, 4 or in_person)"[:200])
    values = {name: _time(row.get(name), name, tz) for name in ("time", "received", "due", "finished")}
    for name in ("time", "received", "due"):
        if values[name] is None:
            raise BadRow(f"{name}: missing")
    try:
        return DossierEvent(
            time=values["time"],
            source_id=source,
            dossier_id=str(row.get("dossier_id") or "").strip(),
            procedure_code=str(row.get("procedure_code") or "").strip(),
            procedure_name=str(row.get("procedure_name") or "").strip(),
            level=level,
            department=str(row.get("department") or "").strip(),
            status=str(row.get("status") or "").strip(),
            received=values["received"],
            due=values["due"],
            finished=values["finished"],
            simulated=simulated or bool(row.get("simulated", False)),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "row"
        raise BadRow(f"{where}: {first['msg']}"[:200]) from None
