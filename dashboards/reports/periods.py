"""The period a scheduled report covers: a shift, a day ending at ``daily_at``, a week ending then too."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, for one kind of report."""

    kind: str
    start: datetime
    end: datetime


def _local_marks(kind: str, day: datetime, tz: ZoneInfo, shift_starts: Sequence[str], daily_at: str,
                 weekly_on: str) -> list[datetime]:
    """The local instants on ``day``'s date at which a period of ``kind`` ends."""
    def at(hhmm: str) -> datetime:
        return datetime.combine(day.date(), time(int(hhmm[:2]), int(hhmm[3:5])), tz)

    if kind == "shift":
        return [at(s) for s in shift_starts]
    if kind == "daily":
        return [at(daily_at)]
    if kind == "weekly":
        return [at(daily_at)] if WEEKDAYS[day.weekday()] == weekly_on else []
    raise ValueError(f"unknown report kind {kind!r}")


def _length(kind: str) -> timedelta | None:
    return {"daily": timedelta(days=1), "weekly": timedelta(days=7)}.get(kind)


def periods_between(kind: str, since: datetime, until: datetime, tz: str, shift_starts: Sequence[str],
                    daily_at: str = "07:00", weekly_on: str = "mon") -> Iterator[Period]:
    """Every period of ``kind`` that ended in ``(since, until]``, oldest first."""
    zone = ZoneInfo(tz)
    local_since, local_until = since.astimezone(zone), until.astimezone(zone)
    marks: list[datetime] = []
    day = local_since - timedelta(days=8)
    while day.date() <= local_until.date():
        marks += _local_marks(kind, day, zone, shift_starts, daily_at, weekly_on)
        day += timedelta(days=1)
    marks.sort()
    for i, end in enumerate(marks):
        if not (local_since < end <= local_until):
            continue
        length = _length(kind)
        start = end - length if length is not None else (marks[i - 1] if i > 0 else None)
        if start is None:
            continue
        # a local day is not always 24 h elsewhere; Huế has no daylight saving, but keep it exact
        start = datetime.combine(start.date(), start.timetz()).replace(tzinfo=zone)
        yield Period(kind, start.astimezone(UTC), end.astimezone(UTC))


def last_period(kind: str, now: datetime, tz: str, shift_starts: Sequence[str], daily_at: str = "07:00",
                weekly_on: str = "mon") -> Period | None:
    """The latest period of ``kind`` that has ended by ``now``."""
    found = list(periods_between(kind, now - timedelta(days=8), now, tz, shift_starts, daily_at, weekly_on))
    return found[-1] if found else None


def next_period_end(kind: str, now: datetime, tz: str, shift_starts: Sequence[str], daily_at: str = "07:00",
                    weekly_on: str = "mon") -> datetime | None:
    """When the next period of ``kind`` ends after ``now`` (its report is made then), in UTC."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    for days in range(9):  # a week's period ends within eight days whatever the weekday
        day = local_now + timedelta(days=days)
        marks = _local_marks(kind, day, zone, shift_starts, daily_at, weekly_on)
        ends = sorted(m for m in marks if m > local_now)
        if ends:
            return ends[0].astimezone(UTC)
    return None
