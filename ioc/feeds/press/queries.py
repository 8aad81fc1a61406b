"""What the press page reads from the store: the stories of the last hours (articles grouped by their
stored MinHash signatures) with their outlets and growth, and the trending watched topics and places
(counts per hour against their own baseline, the burst rules' Poisson notion).

Both read one bounded window of ``press_articles`` (the time index: BRIN or hypertable chunks), so a
month of articles costs no more than the last two days of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

from ioc.feeds.press.stories import group

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class StoryRow:
    """A story as the page shows it: headline (its first article), outlets, growth per hour."""

    title: str
    url: str
    first_seen: datetime
    last_seen: datetime
    outlets: tuple[str, ...]  # in the order they carried it
    articles: int
    urls: tuple[str, ...]  # of its articles, in time order
    hourly: tuple[int, ...]  # articles per hour, oldest first; the last is the hour before ``now``
    recent: int  # articles in the last ``recent_hours``
    recent_outlets: int  # outlets that carried it in the last ``recent_hours``
    watched: frozenset[str]  # topics, agencies and places its articles matched
    simulated: bool


@dataclass(frozen=True)
class Trend:
    """One watched topic or place: counts per hour and how far the last hour is above its baseline."""

    kind: str  # "topic" or "place"
    name: str
    hourly: tuple[int, ...]  # oldest first; the last is the hour before ``now``
    count: int  # in the last hour
    baseline: float  # mean per hour over the ``baseline_hours`` before it
    z: float  # (count - baseline) / sqrt(baseline), baseline floored


def _series(by_ago: Mapping[int, int], hours: int) -> tuple[int, ...]:
    return tuple(by_ago.get(ago, 0) for ago in range(hours - 1, -1, -1))


def stories(pool: ConnectionPool, now: datetime, *, threshold: float = 0.5, window_hours: int = 48,
            growth_hours: int = 12, recent_hours: int = 3, min_articles: int = 2,
            limit: int = 12) -> list[StoryRow]:
    """Stories of at least ``min_articles`` articles seen in the ``window_hours`` before ``now``,
    the fastest growing first: the most outlets carrying it in the last ``recent_hours`` (a story
    spreading), then the most articles in them, then the newest."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT time, signature, outlet, title, url, places || agencies || topics, simulated "
            "FROM press_articles WHERE time > %s AND time <= %s",
            (now - window_hours * HOUR, now)).fetchall()
    out = []
    for story in group(((r[0], r[1], r) for r in rows), threshold):
        if len(story.items) < min_articles:
            continue
        first = story.items[0]
        by_ago: dict[int, int] = {}
        for r in story.items:
            ago = int((now - r[0]) // HOUR)
            by_ago[ago] = by_ago.get(ago, 0) + 1
        out.append(StoryRow(
            title=first[3], url=first[4], first_seen=story.first_seen, last_seen=story.items[-1][0],
            outlets=tuple(dict.fromkeys(r[2] for r in story.items)), articles=len(story.items),
            urls=tuple(r[4] for r in story.items), hourly=_series(by_ago, growth_hours),
            recent=sum(by_ago.get(a, 0) for a in range(recent_hours)),
            recent_outlets=len({r[2] for r in story.items if now - r[0] < recent_hours * HOUR}),
            watched=frozenset(x for r in story.items for x in r[5]),
            simulated=any(r[6] for r in story.items)))
    out.sort(key=lambda s: (s.recent_outlets, s.recent, s.last_seen), reverse=True)
    return out[:limit]


def trends(pool: ConnectionPool, now: datetime, *, hours: int = 48, baseline_hours: int = 24,
           floor: float = 0.25, limit: int = 12) -> list[Trend]:
    """Every topic and place mentioned in the ``hours`` before ``now``, the one furthest above its
    baseline in the last hour first (then the most mentioned)."""
    with pool.connection() as conn:
        rows = conn.execute(
            """
            SELECT m.kind, m.name, a.ago, count(*)
            FROM (SELECT floor(extract(epoch FROM (%(now)s - time)) / 3600)::int AS ago, topics, places
                  FROM press_articles WHERE time > %(since)s AND time <= %(now)s) a,
                 LATERAL (SELECT 'topic', unnest(a.topics) UNION ALL SELECT 'place', unnest(a.places))
                   AS m(kind, name)
            GROUP BY 1, 2, 3
            """, {"now": now, "since": now - hours * HOUR}).fetchall()
    counts: dict[tuple[str, str], dict[int, int]] = {}
    for kind, name, ago, n in rows:
        counts.setdefault((kind, name), {})[ago] = n
    out = []
    for (kind, name), by_ago in counts.items():
        count = by_ago.get(0, 0)
        baseline = sum(by_ago.get(a, 0) for a in range(1, baseline_hours + 1)) / baseline_hours
        mean = max(floor, baseline)
        out.append(Trend(kind, name, _series(by_ago, hours), count, round(baseline, 3),
                         round((count - mean) / math.sqrt(mean), 2)))
    out.sort(key=lambda x: (-x.z, -sum(x.hourly), x.kind, x.name))
    return out[:limit]
