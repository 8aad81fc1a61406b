"""Topic names: ``ioc.<feed>.<kind>``, one per record kind, plus dead letters; a feed whose rule
must read two kinds of one source in order puts both on one topic (the reports feed: a report
and its status changes on ``ioc.reports.events``), since distributed mode keeps rule state per
topic-partition.

Most topics are keyed by source, and a consumer group splits their partitions. Two kinds
of topic exist so that a rule needing facts of many sources sees all of them however many
detector processes share the work:

* *broadcast* topics (:data:`BROADCAST_TOPICS`, storm warnings) are read in full by every
  detector process, whatever partitions it owns;
* *fan-out* topics carry copies of records keyed otherwise: the vessel feed's
  ``ioc.vessels.cells`` has each position keyed by map cell (and the neighbouring cells it is
  near, :mod:`ioc.cells`), for pairwise rules (a feed declares them: ``FeedSpec.fan_out``).

Both kinds, like every feed topic, are declared by the feeds (:data:`ioc.feeds.FEEDS`). A role
refuses a record read on a topic that does not carry its kind (:func:`misplaced`) as a dead letter.
"""

from __future__ import annotations

from ioc.events import Event
from ioc.feeds import FEEDS

#: the topic of each record kind: the registered feeds' declarations, and the core's alert signals
TOPIC_BY_KIND: dict[str, str] = {
    **{kind: topic for feed in FEEDS for kind, topic in feed.topics.items()},
    "alert.signal": "ioc.alerts.signals",
}
ALERT_SIGNALS = TOPIC_BY_KIND["alert.signal"]
DEAD_LETTERS = "ioc.deadletters"
#: Topics every detector process reads in full (not split by the consumer group).
BROADCAST_TOPICS: frozenset[str] = frozenset(t for feed in FEEDS for t in feed.broadcast)
#: Topics of the kinds the store keeps (a feed's ``tables``): the store sink reads them and
#: dead-letters their bad records; the others (fan-out copies) only the detector runner reads.
STORED_TOPICS: frozenset[str] = frozenset(TOPIC_BY_KIND[t.kind] for feed in FEEDS for t in feed.tables)


def topic_for(event: Event) -> str:
    """The topic a record is published on."""
    return TOPIC_BY_KIND[event.kind]  # type: ignore[attr-defined]


def replay_topic(topic: str, namespace: str) -> str:
    """The topic of a replay run, kept apart from live data."""
    return f"replay.{namespace}.{topic}"


def carries(topic: str, kind: str) -> bool:
    """True when ``topic`` is the topic of record kind ``kind``, live or in a replay run."""
    own = TOPIC_BY_KIND.get(kind)
    return own is not None and (topic == own or (topic.startswith("replay.") and topic.endswith("." + own)))


def misplaced(topic: str, kind: str) -> str | None:
    """Why a record of ``kind`` read on ``topic`` is refused (a dead letter's reason): its kind belongs
    on another topic; ``None`` when ``topic`` carries that kind."""
    if carries(topic, kind):
        return None
    own = TOPIC_BY_KIND.get(kind)
    return f"record of kind {kind!r} on topic {topic!r}" + (f" (its topic is {own!r})" if own else "")
