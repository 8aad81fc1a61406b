"""The pages' numbers: written as Babel (CLDR) writes them in each language, without its cost, and
never a negative zero."""

from __future__ import annotations

import random

import pytest
from babel.numbers import format_decimal

from dashboards.formats import BABEL_LOCALES, NONE, Formats


def _values() -> list[float]:
    rng = random.Random(20261206)
    edges = [0.0, 0.05, 2.675, 0.125, 0.375, 999.995, 1234.5, -1234.567, 1e9 + 0.5, 12345678.9, -17.25]
    wide = [rng.uniform(-1e6, 1e6) for _ in range(3000)]
    small = [rng.uniform(-10, 10) for _ in range(3000)]
    rounded = [round(rng.uniform(-100, 100), rng.randint(0, 4)) for _ in range(3000)]
    return edges + wide + small + rounded


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_numbers_are_written_as_babel_writes_them_in_the_language(lang: str) -> None:
    f, locale = Formats(lang, "UTC"), BABEL_LOCALES[lang]
    for value in _values():
        for digits in (0, 1, 2, 3):
            babel_fixed = format_decimal(round(value, digits), locale=locale,
                                         format=f"#,##0.{'0' * digits}" if digits else "#,##0")
            babel_number = format_decimal(round(value, digits), locale=locale,
                                          format=f"#,##0.{'#' * digits}" if digits else "#,##0")
            if babel_fixed.lstrip("-").strip("0,.") == "":  # Babel writes "-0,0" for a tiny negative
                babel_fixed, babel_number = babel_fixed.lstrip("-"), babel_number.lstrip("-")
            assert (f.fixed(value, digits), f.number(value, digits)) == (babel_fixed, babel_number), \
                (lang, value, digits)


def test_the_marks_of_each_language_and_no_negative_zero() -> None:
    vi, en = Formats("vi", "UTC"), Formats("en", "UTC")
    assert (vi.number(1234.5, 1), en.number(1234.5, 1)) == ("1.234,5", "1,234.5")
    assert (vi.fixed(12, 1), en.fixed(-1234567.891, 2)) == ("12,0", "-1,234,567.89")
    assert (vi.fixed(-0.04, 1), en.number(-0.4), vi.fixed(-0.0, 0)) == ("0,0", "0", "0")
    assert vi.fixed(-0.06, 1) == "-0,1" and vi.plotly_separators == ",."
    assert (vi.number(None), en.fixed(float("nan")), en.value(float("inf"))) == (NONE, NONE, NONE)


def test_times_are_written_in_the_citys_zone_and_english_in_the_british_form() -> None:
    """The reports, press and Open311 pages wrote English times the American way ("12/9/26, 7:05 PM"),
    which a reader in Huế takes for the 12th of September; English is British (day first, 24 h)."""
    from datetime import UTC, datetime

    from ioc.i18n import format_time

    at = datetime(2026, 12, 9, 12, 5, tzinfo=UTC)
    assert format_time(at, "en", "Asia/Ho_Chi_Minh", "short") == "09/12/2026, 19:05"
    assert format_time(at, "vi", "Asia/Ho_Chi_Minh", "short") == "19:05 9/12/26"
    assert format_time(at, "en", "UTC", "medium") == "9 Dec 2026, 12:05:00"
