"""The local press feed: RSS/Atom articles of local outlets, matched against the city's watch lists."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.press.records import PressArticle
from ioc.feeds.press.schema import (
    PRESS_ARTICLES,
    RAW_PRESS_TABLES,
    add_entities,
    add_signatures,
    apply_press,
)
from ioc.feeds.press.settings import PressOptions, PressRules
from ioc.store.tables import Migration

SPEC = FeedSpec(
    name="press",
    rule_titles={
        "press": "Press coverage",
    },
    title="Local press",
    short_title="Press",
    events=(PressArticle,),
    topics={"press.article": "ioc.press.articles"},
    tables=(PRESS_ARTICLES,),
    migrations=(Migration(1, "press articles", apply_press), Migration(2, "press entities", add_entities),
                Migration(3, "press story signatures", add_signatures)),
    raw_tables=RAW_PRESS_TABLES,
    rules=PressRules,
    options=PressOptions,
    kinds=frozenset({"rss", "press-simulator"}),
)
