"""Clock domains: whose event time judges a detector, so one feed's clock never silences another's.

Watermarks are kept per *clock domain*: the feed a record kind belongs to, the
``<feed>`` of its topic ``ioc.<feed>.<kind>`` (:func:`clock_of_kind`), so the
camera records (detections, frame statistics) share one clock, the
environment readings another, the vessel positions a third, the storm warnings
a fourth. A domain's watermark is the largest event time seen in it; in live
mode (``use_wall_clock``) it is at least the injected clock's time, so silence
is noticed even when nothing arrives, and a record more than
``max_future_skew`` ahead of that clock moves no watermark. A detector is
advanced to the watermark of the domain of the kinds it reads, never to
another feed's: a replay re-timed ahead of the wall clock, or a storm warning
issued for later, cannot make a camera that is sending look silent. A detector
that reads kinds of several domains, or judges rules of several kinds (the
stale rules), implements ``advance_clocks`` and gets the watermark of each kind
(see :mod:`detectors.base`); any other gets the latest of its kinds'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from ioc.topics import TOPIC_BY_KIND


def clock_of_topic(topic: str) -> str:
    """The clock domain of a topic: ``<feed>`` of ``[replay.<ns>.]ioc.<feed>.<kind>``, else the topic."""
    parts = topic.split(".")
    if len(parts) >= 4 and parts[0] == "replay":
        parts = parts[2:]
    return parts[1] if len(parts) >= 3 and parts[0] == "ioc" else topic


def clock_of_kind(kind: str) -> str:
    """The clock domain of an event kind: the feed of the topic that carries it."""
    topic = TOPIC_BY_KIND.get(kind)
    return clock_of_topic(topic) if topic is not None else kind.split(".", 1)[0]


def advance(clocks: dict[str, datetime], clock: str, when: datetime) -> None:
    """Event time ``when`` was seen in domain ``clock``: its watermark moves forward, never back."""
    if clock not in clocks or when > clocks[clock]:
        clocks[clock] = when


def marks_of(kinds: Iterable[str], clocks: Mapping[str, datetime],
             now: datetime | None) -> dict[str, datetime]:
    """The watermark of each kind's clock domain (at least ``now`` in live mode); kinds with none left out."""
    marks: dict[str, datetime] = {}
    for kind in kinds:
        mark = clocks.get(clock_of_kind(kind))
        if now is not None:
            mark = now if mark is None else max(mark, now)
        if mark is not None:
            marks[kind] = mark
    return marks
