"""Topic names: ``ioc.<feed>.<kind>``, one per record kind, plus dead letters.

Most topics are keyed by source, and a consumer group splits their partitions. Two kinds
of topic exist so that a rule needing facts of many sources sees all of them however many
detector processes share the work:

* *broadcast* topics (:data:`BROADCAST_TOPICS`, storm warnings) are read in full by every
  detector process, whatever partitions it owns;
* the *cell* topic ``ioc.vessels.cells`` carries vessel positions keyed by map cell (each
  also sent to the neighbouring cells it is near, :mod:`ioc.cells`), for pairwise rules.
"""

from __future__ import annotations

from ioc.events import Event

TOPIC_BY_KIND: dict[str, str] = {
    "environment.reading": "ioc.environment.readings",
    "camera.detection": "ioc.cameras.detections",
    "camera.frame_stats": "ioc.cameras.frame_stats",
    "camera.keyframe": "ioc.cameras.keyframes",
    "vessel.position": "ioc.vessels.positions",
    "vessel.cell_position": "ioc.vessels.cells",
    "vessel.static": "ioc.vessels.static",
    "security.event": "ioc.security.events",
    "press.article": "ioc.press.articles",
    "field.report": "ioc.reports.requests",
    "storm.warning": "ioc.weather.warnings",
    "alert.signal": "ioc.alerts.signals",
}
ALERT_SIGNALS = TOPIC_BY_KIND["alert.signal"]
DEAD_LETTERS = "ioc.deadletters"
CELL_POSITIONS = TOPIC_BY_KIND["vessel.cell_position"]
#: Topics every detector process reads in full (not split by the consumer group).
BROADCAST_TOPICS: frozenset[str] = frozenset({TOPIC_BY_KIND["storm.warning"]})


def topic_for(event: Event) -> str:
    """The topic a record is published on."""
    return TOPIC_BY_KIND[event.kind]  # type: ignore[attr-defined]


def replay_topic(topic: str, namespace: str) -> str:
    """The topic of a replay run, kept apart from live data."""
    return f"replay.{namespace}.{topic}"
