"""Dates as people in Vietnam write them: day before month (``08/12/2026 09:15``, ``08-12-2026 9h15``).

Exports of the city's systems (a one-stop-shop's CSV saved from a spreadsheet) and local outlets'
feeds write them so; ISO 8601 reads none of them. The time is what the text says, with no zone: the
caller knows whose local time it is.
"""

from __future__ import annotations

import re
from datetime import datetime

_DAY_FIRST = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b"  # 08/12/2026, " - 09:15" or 09h15
                        r"(?:\D{0,4}?(\d{1,2})[:hH](\d{2})(?::(\d{2}))?)?")


def day_first(text: str, whole: bool = False) -> datetime | None:
    """The first day/month/year date in ``text`` with the time after it (midnight if none), naive;
    ``None`` if there is none or it is no real date (31/02). ``whole``: ``text`` must be that date
    and nothing else (a data file's cell), not hold it (a feed's "Thứ hai, 08/12/2026 - 09:15")."""
    match = _DAY_FIRST.fullmatch(text.strip()) if whole else _DAY_FIRST.search(text)
    if match is None:
        return None
    day, month, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
