"""When a press entry was published, from the date its outlet wrote.

feedparser reads RFC 822 and W3C dates, but it reads a zone it does not know as UTC and gives up
on others. Outlets in Vietnam write ``GMT+7``, ``ICT`` (Indochina Time, UTC+7) or a local time with
no zone at all (``2026-12-08 09:15:00``, ``08/12/2026 09:15``): feedparser made the first and the
last UTC, seven hours off (a story "from the future" on the press page), and dropped the others
(the story then took the time of the poll). Here a date that names its offset (``+0700``, ``Z``,
``GMT``, ``EST``) is feedparser's; ``GMT±H[:MM]`` and the region's zone names are read as the offset
they say; a date with no zone is the outlet's local time (its ``timezone``, day before month as
Vietnamese write it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_tz
from time import struct_time

from ingest.local_time import day_first

#: zone names outlets of the region write that feedparser does not know (it reads them as UTC)
ZONE_OFFSETS: dict[str, timedelta] = {"ICT": timedelta(hours=7)}
_GMT_OFFSET = re.compile(r"\(?\b(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\)?\s*$", re.IGNORECASE)
_ZONE_NAME = re.compile(r"\(?\b([A-Za-z]{2,5})\)?\s*$")
_OWN_ZONE = re.compile(r"(?:[+-]\d{2}:?\d{2}|\d[zZ]|\b(?:GMT|UTC|UT)\b)(?:\s*\([^)]*\))?\s*$", re.IGNORECASE)
_KNOWN_NAMES = frozenset({"EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"})  # RFC 822's own


def published_at(text: str | None, parsed: struct_time | None, local: tzinfo) -> datetime | None:
    """The instant ``text`` (an entry's ``published`` or ``updated``) names, in UTC; ``parsed`` is
    feedparser's reading of it; ``local`` the outlet's zone, for a date that names none."""
    text = (text or "").strip()[:200]
    if not text:
        return _utc(parsed)
    if match := _GMT_OFFSET.search(text):
        sign = 1 if match.group(1) == "+" else -1
        offset = sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return _at(text[:match.start()], timezone(offset) if abs(offset) < timedelta(hours=15) else None)
    name = _ZONE_NAME.search(text)
    if name and name.group(1).upper() in ZONE_OFFSETS:
        return _at(text[:name.start()], timezone(ZONE_OFFSETS[name.group(1).upper()]))
    if _OWN_ZONE.search(text) or (name and name.group(1).upper() in _KNOWN_NAMES):
        return _utc(parsed)  # a zone feedparser reads right
    return _at(text, local) or _utc(parsed)


def _utc(parsed: struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except ValueError:
        return None


def _at(text: str, zone: tzinfo | None) -> datetime | None:
    """``text`` without its zone, read as a time in ``zone``, in UTC (``None``: not a date we read)."""
    if zone is None:
        return None
    when = _naive(text.strip().rstrip(","))
    if when is None:
        return None
    try:  # an offset the text itself wrote (ISO 8601) stays; year 1 in UTC+7 is before year 1 in UTC
        return (when.replace(tzinfo=zone) if when.tzinfo is None else when).astimezone(UTC)
    except OverflowError:
        return None


def _naive(text: str) -> datetime | None:
    """A date and time with no zone: RFC 822's form, ISO 8601's, or day/month/year with a time."""
    if fields := parsedate_tz(text):
        try:
            return datetime(*fields[:6])
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    return day_first(text)
