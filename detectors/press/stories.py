"""Stories: near-duplicate articles from different outlets grouped into one (MinHash LSH on word
shingles, datasketch). Pure and event-time: the story's first seen and growth come from the
articles' times; a story carried by ``spread_outlets`` outlets within ``spread_minutes`` spreads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ioc.feeds.press.stories import NUM_PERM, minhash, shingles

__all__ = ["NUM_PERM", "Story", "StoryGrouper", "shingles"]


@dataclass
class Story:
    """One story: its articles' (outlet, time, url), first seen, and the outlets carrying it."""

    id: str
    title: str
    first_seen: datetime
    articles: list[tuple[str, datetime, str]] = field(default_factory=list)
    spread_at: datetime | None = None  # when it reached the spreading threshold

    @property
    def outlets(self) -> set[str]:
        return {o for o, _, _ in self.articles}

    def outlets_within(self, until: datetime, window: timedelta) -> int:
        return len({o for o, t, _ in self.articles if until - window <= t <= until})


class StoryGrouper:
    """Groups articles into stories as they arrive (event time)."""

    def __init__(self, threshold: float = 0.5, spread_outlets: int = 3, spread_minutes: float = 120) -> None:
        from datasketch import MinHashLSH  # with scipy: only where stories are grouped

        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.stories: dict[str, Story] = {}
        self.of_key: dict[str, str] = {}
        self.spread_outlets = spread_outlets
        self.window = timedelta(minutes=spread_minutes)

    def add(self, key: str, outlet: str, when: datetime, title: str, text: str, url: str = "") -> Story:
        """File one article; returns its story (new or existing)."""
        mh = minhash(title, text)
        near = [self.of_key[k] for k in self.lsh.query(mh) if k in self.of_key]
        if near:
            story = self.stories[min(near, key=lambda sid: self.stories[sid].first_seen)]
        else:
            story = Story(id=key, title=title, first_seen=when)
            self.stories[key] = story
        if key not in self.of_key:
            self.lsh.insert(key, mh)
            self.of_key[key] = story.id
            story.articles.append((outlet, when, url))
            story.first_seen = min(story.first_seen, when)
        if story.spread_at is None and story.outlets_within(when, self.window) >= self.spread_outlets:
            story.spread_at = when
        return story
