"""The press rules as one detector: a story spreading to N outlets within T, a burst on a watched
hazard topic or a place, a negative story about a watched agency or place. Each alert names the
department that must answer (``[rules.press] departments``). Pure and event-time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from detectors.base import check_version, dump_time, load_time
from detectors.press.bursts import HourlyCounts, find_bursts
from detectors.press.stories import Story, StoryGrouper
from ioc.events import AlertSignal, Event
from ioc.feeds.press.records import TERMS_DOMAIN, PressArticle
from ioc.feeds.press.settings import PressRuleSettings
from ioc.i18n import TERM_DOMAINS

VERSION = 1

# alert titles: messages of the ``alerts`` catalogue, rendered in the reader's language, by rule
PRESS_TITLES: dict[str, str] = {
    "spreading": "Story carried by {outlets} outlets: {story}",
    "negative": "Negative story about {about}: {story}",
    "burst": "Burst of {term}: {count} articles in an hour (baseline {baseline})",
}


class PressDetector:
    """Stories, spreading, bursts and negative coverage of the press feed."""

    name = "press"

    def __init__(self, cfg: PressRuleSettings) -> None:
        self.cfg = cfg
        self.kinds = frozenset({"press.article"})
        self._reset()

    def _reset(self) -> None:
        cfg = self.cfg
        self.grouper = StoryGrouper(cfg.story_similarity, cfg.spread_outlets, cfg.spread_minutes)
        self.counts = HourlyCounts()
        self.since: datetime | None = None
        self.fired: set[str] = set()
        self.kept: list[dict[str, Any]] = []

    @classmethod
    def from_settings(cls, settings: Any) -> PressDetector:
        cfg = settings.rules.press
        detector = cls(cfg or PressRuleSettings())
        if cfg is None:
            detector.kinds = frozenset()
        return detector

    def department(self, names: list[str]) -> str:
        for n in names:
            if n in self.cfg.departments:
                return self.cfg.departments[n]
        return self.cfg.default_department

    def _signal(self, e: PressArticle, rule: str, fp: str, severity: str, params: dict[str, Any],
                details: dict[str, Any]) -> list[AlertSignal]:
        if fp in self.fired:
            return []
        self.fired.add(fp)
        template = PRESS_TITLES[rule]
        return [AlertSignal(time=e.time, source_id=e.source_id, detector=self.name, rule=rule,
                            fingerprint=fp, status="firing", severity=severity,  # type: ignore[arg-type]
                            title=template.format(**params)[:512], title_template=template,
                            title_params=params, started_at=e.time, details=details)]

    def observe(self, event: Event) -> list[AlertSignal]:
        if not isinstance(event, PressArticle):
            return []
        e = event
        self.since = e.time if self.since is None else min(self.since, e.time)
        key = f"{e.source_id}:{e.hash}"
        story = self.grouper.add(key, e.outlet, e.time, e.title, e.text or e.summary, e.url)
        self.kept.append({"key": key, "outlet": e.outlet, "time": dump_time(e.time), "title": e.title,
                          "text": (e.text or e.summary)[:4000], "url": e.url})
        watched = [*e.topics, *e.agencies, *e.places]
        out: list[AlertSignal] = []
        if story.spread_at is not None:
            out += self._signal(e, "spreading", f"press:spreading:{story.id}", "warning",
                                {"outlets": len(story.outlets), "story": story.title},
                                self._story(story, watched))
        if e.tone == "negative" and (e.agencies or e.places):
            out += self._signal(e, "negative", f"press:negative:{story.id}", "info",
                                {"about": ", ".join(e.agencies or e.places), "story": story.title},
                                self._story(story, watched))
        terms = [f"topic:{t}" for t in e.topics if t in self.cfg.hazards] + [f"place:{p}" for p in e.places]
        self.counts.add(e.time, terms)
        series = {t: self.counts.counts[t] for t in terms}
        for burst in find_bursts(series, z=self.cfg.burst_z, min_count=self.cfg.burst_min_count,
                                 baseline_hours=self.cfg.baseline_hours, since=self.since):
            name = burst.term.split(":", 1)[1]
            out += self._signal(e, "burst", f"press:burst:{burst.term}:{burst.hour.isoformat()}",
                                "critical" if burst.term.startswith("topic:") else "warning",
                                {"term": name, "count": burst.count, "baseline": round(burst.baseline, 2),
                                 TERM_DOMAINS: {"term": TERMS_DOMAIN}},  # a topic in the reader's words
                                {"term": burst.term, "count": burst.count, "baseline": burst.baseline,
                                 "z": burst.z, "hour": burst.hour.isoformat(),
                                 "department": self.department([name])})
        return out

    def _story(self, story: Story, watched: list[str]) -> dict[str, Any]:
        return {"story": story.id, "outlets": sorted(story.outlets),
                "first_seen": dump_time(story.first_seen),
                "articles": len(story.articles), "urls": [u for _, _, u in story.articles][:20],
                "department": self.department(watched)}

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        """Forget articles older than ``keep_hours`` (the story index is rebuilt from the rest)."""
        horizon = watermark - timedelta(hours=self.cfg.keep_hours)
        old = [k for k in self.kept if load_time(k["time"]) < horizon]  # type: ignore[operator]
        if old:
            state = self.state()
            state["kept"] = [k for k in self.kept if load_time(k["time"]) >= horizon]  # type: ignore[operator]
            self.restore(state)
        return []

    def state(self) -> dict[str, Any]:
        return {"detector": self.name, "version": VERSION, "kept": list(self.kept),
                "fired": sorted(self.fired), "since": dump_time(self.since),
                "counts": {t: {h.isoformat(): n for h, n in s.items()}
                           for t, s in self.counts.counts.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        check_version(state, self.name, VERSION)
        self._reset()
        for k in state["kept"]:
            when = load_time(k["time"])
            assert when is not None
            self.grouper.add(k["key"], k["outlet"], when, k["title"], k["text"], k["url"])
            self.kept.append(k)
        self.fired = set(state["fired"])
        self.since = load_time(state["since"])
        for term, series in state["counts"].items():
            for hour, n in series.items():
                self.counts.counts[term][datetime.fromisoformat(hour)] = n
