"""Topic names: ``ioc.<feed>.<kind>``, one per record kind, plus dead letters."""

from __future__ import annotations

from ioc.events import Event

TOPIC_BY_KIND: dict[str, str] = {
    "environment.reading": "ioc.environment.readings",
    "camera.detection": "ioc.cameras.detections",
    "camera.frame_stats": "ioc.cameras.frame_stats",
    "camera.keyframe": "ioc.cameras.keyframes",
    "vessel.position": "ioc.vessels.positions",
    "vessel.static": "ioc.vessels.static",
    "security.event": "ioc.security.events",
    "press.article": "ioc.press.articles",
    "field.report": "ioc.reports.requests",
    "storm.warning": "ioc.weather.warnings",
    "alert.signal": "ioc.alerts.signals",
}
ALERT_SIGNALS = TOPIC_BY_KIND["alert.signal"]
DEAD_LETTERS = "ioc.deadletters"
FACT_TOPICS: tuple[str, ...] = tuple(t for k, t in TOPIC_BY_KIND.items() if k != "alert.signal")


def topic_for(event: Event) -> str:
    """The topic a record is published on."""
    return TOPIC_BY_KIND[event.kind]  # type: ignore[attr-defined]


def replay_topic(topic: str, namespace: str) -> str:
    """The topic of a replay run, kept apart from live data."""
    return f"replay.{namespace}.{topic}"
