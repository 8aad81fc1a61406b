"""The registered feeds: one line each. Everything feed-specific in the core derives from here."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec

FEEDS: tuple[FeedSpec, ...] = ()
