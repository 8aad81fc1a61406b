"""What each feed and each of its rules is called on a page or in a report, in its language.

The names are message-catalogue ids the feeds declare (:class:`ioc.feeds.base.FeedSpec`'s ``title``
and ``rule_titles``), each translated in whichever feed's catalogue holds it: a manager's report
says "Vượt ngưỡng", not the detector's code ``threshold``.
"""

from __future__ import annotations

from ioc import i18n
from ioc.feeds import FEEDS

#: the catalogues that hold feed and rule names (the pages' own, then each feed's)
FEED_TITLE_DOMAINS = ("dashboards", "press", "security", "services", "reports", "reports311", "ioc")
#: the rules of no feed: the core's silent-source rule (any feed's sources)
CORE_RULE_TITLES: dict[str, str] = {"stale": "Source silent"}
#: every rule's name (catalogue id) by its detector, from the feed registry
RULE_TITLES: dict[str, str] = {**CORE_RULE_TITLES,
                               **{name: title for spec in FEEDS for name, title in spec.rule_titles.items()}}


def feed_title(title: str, lang: str) -> str:
    """A feed's (or a rule's) display name in ``lang``, from whichever catalogue holds it."""
    for domain in FEED_TITLE_DOMAINS:
        text = i18n.gettext(domain, title, lang)
        if text != title:
            return text
    return title


def rule_title(detector: str, lang: str) -> str:
    """What the rules of ``detector`` are called in ``lang``; an unknown detector (a rule of a feed
    no longer installed, in an old alert) by its code, underscores as spaces."""
    title = RULE_TITLES.get(detector)
    return feed_title(title, lang) if title else detector.replace("_", " ")
