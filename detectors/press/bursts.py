"""Bursts: a topic or place mentioned far above its baseline, on hourly counts (event time).

The baseline of a term is its mean hourly count over the previous ``baseline_hours`` hours
(floored at ``floor`` so a term never seen before needs a real number of mentions); the hour
bursts when its count is at least ``min_count`` and ``(count - mean) / sqrt(mean)`` (the Poisson
z-score) reaches ``z``. Pure: the counts are given, nothing is read from a clock.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Burst:
    term: str
    hour: datetime
    count: int
    baseline: float
    z: float


def hour_of(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def find_bursts(counts: Mapping[str, Mapping[datetime, int]], *, z: float = 4.0, min_count: int = 3,
                baseline_hours: int = 24, floor: float = 0.25, since: datetime | None = None) -> list[Burst]:
    """Every (term, hour) whose count is far above the term's preceding baseline.

    Hours less than ``baseline_hours`` after ``since`` (default: the earliest hour counted, of
    any term) are not judged: there is no baseline yet, everything would look new.
    """
    hours = [h for series in counts.values() for h in series]
    if not hours:
        return []
    judged_from = (since or min(hours)) + timedelta(hours=baseline_hours)
    found = []
    for term, series in counts.items():
        for hour, count in sorted(series.items()):
            if count < min_count or hour < judged_from:
                continue
            previous = [series.get(hour - timedelta(hours=h), 0) for h in range(1, baseline_hours + 1)]
            mean = max(floor, sum(previous) / baseline_hours)
            score = (count - mean) / math.sqrt(mean)
            if score >= z:
                found.append(Burst(term, hour, count, round(mean, 3), round(score, 2)))
    return found


class HourlyCounts:
    """Counts per term and hour as articles arrive (what :func:`find_bursts` reads)."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, when: datetime, terms: list[str]) -> None:
        for term in set(terms):
            self.counts[term][hour_of(when)] += 1
