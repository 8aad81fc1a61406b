"""What loggers write around AIS lines: a time before each (``2026-12-06 12:11:12: !AIVDM,...``),
and gpsd's own JSON reports among them.

Loggers that record an NMEA stream often stamp each line with the time they received it,
before the sentence (or its tag block). gpsd's ``gpspipe -r`` (3.22) writes, in UTC, with

* ``-t``: ``2026-12-06 12:11:12: `` (no zone written),
* ``-u``: ``2026-12-06 12:11:12.466570: `` (with microseconds),
* ``-uu``: ``2026-12-06 12:11:12 1796559072.466590: `` (then UNIX seconds),
* ``-Z``: ``2026-12-06T12:11:12: `` (ISO 8601 without the ``Z``);

other loggers write UNIX seconds or milliseconds (``1796559072.466 !AIVDM...``), an ISO 8601
time with its offset (``2026-12-06T12:11:12.466Z,!AIVDM...``), a local time without a zone
(moreutils' ``ts '%F %T'``), or the syslog form without a year that moreutils' ``ts`` writes by
default (``Dec 07 12:11:12 !AIVDM...``; ``ts '%b %e %H:%M:%.S'`` pads the day with a blank and adds a
fraction). :func:`log_time` reads each of these: a UNIX time is exact; an ISO time with ``Z`` or an
offset is exact; one without a zone is read in the zone the feed names (``log_timezone``, UTC by
default, right for gpspipe; the logging machine's zone for a logger that writes local time); one
without a year takes the year that puts it nearest the time it is compared with (the line's
receive time when decoding, the line before when pacing a replay), as syslog readers do, so a
log that crosses New Year keeps its order and a file kept for more than about six months needs
its year written. Between the time and the sentence may stand a
``:``, ``,``, ``;`` or ``|`` and blanks. Anything else before a sentence is not a log time, and the
decoder treats the line as it did before (a dead letter with its reason).

``gpspipe`` also writes gpsd's JSON reports (``{"class":"VERSION",...}`` first, then ``DEVICES``
and ``WATCH``): :func:`gpsd_report_class` names them, so the decoder counts them as ignored; a
gpsd ``AIS`` report (``gpspipe -w``, decoded by gpsd) is not read, and becomes a dead letter
that says to log NMEA (``gpspipe -r``) instead.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo

# a prefix: UNIX seconds (9-10 digits, a fraction) or milliseconds (13 digits); or an ISO 8601
# date and time (``T`` or a blank between; fraction by ``.`` or ``,``; optional zone), perhaps
# followed by UNIX seconds (gpspipe -uu); or a month's English abbreviation, the day (padded with
# ``0`` or a blank) and a clock time (``ts``'s and syslog's form, no year); then a separator and
# the start of a sentence, a tag block or a gpsd report
MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")
LOG_PREFIX = re.compile(
    rb"(?:(?P<epoch>\d{9,10}(?:\.\d{1,9})?|\d{13})"
    rb"|(?:(?P<date>\d{4}-\d{2}-\d{2})[T ]|(?P<month>" + b"|".join(MONTHS) + rb") ?(?P<day> ?\d{1,2}) )"
    rb"(?P<clock>\d{2}:\d{2}:\d{2})(?:[.,](?P<fraction>\d{1,9}))?"
    rb"(?P<zone>Z|[+-]\d{2}:?\d{2})?(?:[ \t]+(?P<also>\d{9,10}(?:\.\d{1,9})?))?)"
    rb"[ \t]*[:,;|]?[ \t]*(?=[!$\\{])"
)
#: what a line must start with for :data:`LOG_PREFIX` to be tried (a digit, or a month's initial)
PREFIX_STARTS = frozenset(b"0123456789" + bytes({m[0] for m in MONTHS}))


class BadLogTime(ValueError):
    """A log time in a recognised form that names no real instant (month 13, 25 o'clock...)."""


def log_time(prefix: re.Match[bytes], zone: tzinfo = UTC, near: datetime | None = None) -> datetime:
    """The instant a :data:`LOG_PREFIX` match names (timezone-aware); :class:`BadLogTime` if none.

    A time written without a year takes the year that puts it nearest ``near`` (now if not given).
    """
    epoch = prefix.group("epoch") or prefix.group("also")
    try:
        if epoch is not None:
            seconds = float(epoch)
            if len(epoch) == 13:  # milliseconds
                seconds /= 1000.0
            return datetime.fromtimestamp(seconds, UTC)
        fraction = (prefix.group("fraction") or b"").decode("ascii")
        micro = int((fraction + "000000")[:6])
        clock = time.fromisoformat(prefix.group("clock").decode("ascii"))
        zone = _written_zone(prefix.group("zone")) or zone
        if prefix.group("month") is None:
            day = datetime.fromisoformat(prefix.group("date").decode("ascii")).date()
            return _in_zone(datetime.combine(day, clock).replace(microsecond=micro), zone)
        month, mday = MONTHS.index(prefix.group("month")) + 1, int(prefix.group("day"))
        near = near or datetime.now(UTC)
        found: list[datetime] = []
        for year in (near.year - 1, near.year, near.year + 1):  # the one nearest ``near``
            try:
                found.append(_in_zone(datetime(year, month, mday, clock.hour, clock.minute, clock.second,
                                               micro), zone))
            except ValueError:  # 29 February of a common year
                continue
        if not found:
            raise ValueError(f"no such day: {mday}")
        return min(found, key=lambda when: abs(when - near))
    except (ValueError, OverflowError, OSError) as exc:
        raise BadLogTime(f"bad log time {prefix.group(0)[:40]!r}: {exc}") from None


def _written_zone(given: bytes | None) -> tzinfo | None:
    """The zone a log time names (``Z`` or an offset); ``None`` when it names none."""
    if given is None:
        return None
    if given == b"Z":
        return UTC
    text = given.decode("ascii").replace(":", "")
    offset = timedelta(hours=int(text[1:3]), minutes=int(text[3:5]))
    if offset >= timedelta(hours=24):
        raise ValueError(text)
    return timezone(-offset if text[0] == "-" else offset)


def _in_zone(naive: datetime, zone: tzinfo) -> datetime:
    """``naive`` read as a wall-clock time in ``zone`` (the earlier of two in a repeated hour)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def gpsd_report_class(line: bytes) -> str | None:
    """The ``class`` of a gpsd JSON report (``{"class":"VERSION",...}``); ``None`` if ``line`` is not one."""
    try:
        report = json.loads(line)
    except ValueError:
        return None
    if isinstance(report, dict) and isinstance(report.get("class"), str) and report["class"].isalnum():
        return str(report["class"])
    return None
