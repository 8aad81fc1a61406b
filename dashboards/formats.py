"""Numbers, dates, times and ages on the pages: the screen's language, the city's time zone.

One helper for every page, so that no page formats a number or a time by hand::

    f = Formats.of(settings)          # the request's language (see dashboards.i18n)
    f.number(1234.5, 1)               # "1.234,5" in Vietnamese, "1,234.5" in English
    f.time(t)                         # "14:05:09" in Asia/Ho_Chi_Minh, whatever zone t is in
    f.ago(timedelta(minutes=12))      # "12 phút trước" / "12 min ago"

Numbers and dates are Babel's (``format_decimal``, ``format_datetime``); English dates use the
British forms (day before month) that the browser clock of the pages also uses. The words of
ages come from the ``dashboards`` catalogue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime

from dashboards.i18n import page_language, t
from ioc.i18n import BABEL_LOCALES, number_marks

NONE = "—"


@dataclass(frozen=True)
class Formats:
    """Formats of one screen: its language ``lang`` (``vi``, ``en``) and the city's zone ``tz``."""

    lang: str
    tz: str

    @classmethod
    def of(cls, settings: Any, lang: str | None = None) -> Formats:
        """The formats of the current request (or of ``lang``) in the city of ``settings``."""
        return cls(lang or page_language(settings), settings.timezone)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def locale(self) -> str:
        return BABEL_LOCALES.get(self.lang, self.lang)

    # -- numbers ---------------------------------------------------------------------------
    def number(self, value: float | None, digits: int = 0) -> str:
        """``value`` with up to ``digits`` decimals and grouped thousands (``—`` for none or NaN)."""
        if value is None or not math.isfinite(value):
            return NONE
        text = format(round(value, digits) + 0.0, f",.{digits}f")  # + 0.0: no "-0"
        if digits:
            text = text.rstrip("0").rstrip(".")
        return text.translate(number_marks(self.locale))

    def fixed(self, value: float | None, digits: int = 1) -> str:
        """``value`` with exactly ``digits`` decimals (``12,0``): figures that sit in a column."""
        if value is None or not math.isfinite(value):
            return NONE
        return format(round(value, digits) + 0.0, f",.{digits}f").translate(number_marks(self.locale))

    def value(self, value: float | None) -> str:
        """A measured value with as many decimals as its size deserves (``1.234``, ``12,3``, ``0,57``)."""
        if value is None or not math.isfinite(value):
            return NONE
        size = abs(value)
        return self.fixed(value, 0 if size >= 100 else 1 if size >= 10 else 2)

    def percent(self, share: float | None, digits: int = 1) -> str:
        """A share (0..1) as a percentage, as the locale writes it (CLDR): ``12,5%``."""
        return NONE if share is None else f"{self.number(100 * share, digits)}%"

    @property
    def plotly_separators(self) -> str:
        """A plotly figure's ``layout.separators``: the decimal mark, then the group mark (``,.``)."""
        sample = self.fixed(1234.5, 1)
        return sample[-2] + sample[1]

    # -- dates and times -------------------------------------------------------------------
    def local(self, value: datetime) -> datetime:
        """``value`` in the city's zone."""
        return value.astimezone(self.zone)

    def time(self, value: datetime | None, seconds: bool = True) -> str:
        """A wall-clock time in the city's zone: ``14:05:09`` (``14:05`` without seconds)."""
        if value is None:
            return NONE
        return _babel_datetime(self.local(value), "HH:mm:ss" if seconds else "HH:mm", locale=self.locale)

    def datetime(self, value: datetime | None, pattern: str = "short") -> str:
        """A date and time in the city's zone, in the locale's form (a Babel pattern or width)."""
        if value is None:
            return NONE
        return _babel_datetime(self.local(value), pattern, locale=self.locale)

    def date(self, value: date | datetime | None, pattern: str = "d MMM") -> str:
        """A date (a time is first put in the city's zone): ``5 thg 12`` / ``5 Dec``."""
        if value is None:
            return NONE
        if isinstance(value, datetime):
            value = self.local(value).date()
        return _babel_date(value, pattern, locale=self.locale)

    def month(self, value: date | datetime) -> str:
        """A month as an axis says it: ``thg 12 2026`` / ``Dec 2026``."""
        return self.date(value, "MMM yyyy")

    # -- ages and durations ----------------------------------------------------------------
    def age(self, delta: timedelta) -> str:
        """A short age for a wall: ``now``, ``45 s``, ``12 min``, ``3 h 05``, ``2 d`` (in the language)."""
        s = int(delta.total_seconds())
        if s < 5:
            return t("now", self.lang)
        if s < 60:
            return t("{n} s", self.lang, n=s)
        if s < 3600:
            return t("{n} min", self.lang, n=s // 60)
        if s < 86400:
            return t("{h} h {m:02d}", self.lang, h=s // 3600, m=s % 3600 // 60)
        return t("{n} d", self.lang, n=self.number(s // 86400))

    def ago(self, delta: timedelta) -> str:
        """``just now`` or ``12 min ago`` (in the language)."""
        if delta.total_seconds() < 5:
            return t("just now", self.lang)
        return t("{age} ago", self.lang, age=self.age(delta))

    def duration(self, delta: timedelta | None) -> str:
        """A mean time: ``—``, ``45 s``, ``3 min 20 s``, ``12 min``, ``1 h 05``."""
        if delta is None:
            return NONE
        s = int(round(delta.total_seconds()))
        if 60 <= s < 600:
            return t("{n} min {s:02d} s", self.lang, n=s // 60, s=s % 60)
        return self.age(timedelta(seconds=s)) if s >= 5 else t("{n} s", self.lang, n=s)
