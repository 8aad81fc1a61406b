"""Press rules: stories across outlets (MinHash LSH), spreading, bursts on recorded hourly counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from detectors.press.bursts import HourlyCounts, find_bursts
from detectors.press.rules import PressDetector
from detectors.press.stories import StoryGrouper
from ioc.feeds.press.records import PressArticle
from ioc.feeds.press.settings import PressRuleSettings

T0 = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
FLOOD = ("Lũ lụt gây ngập sâu nhiều tuyến đường ở phường Phú Hội",
         "Mưa lớn kéo dài từ đêm qua khiến nước sông Hương dâng cao, nhiều tuyến đường ở phường Phú Hội "
         "bị ngập sâu, người dân phải di chuyển tài sản lên cao, chính quyền sơ tán các hộ dân")


def test_near_duplicates_from_outlets_form_one_spreading_story():
    g = StoryGrouper(threshold=0.5, spread_outlets=3, spread_minutes=120)
    a = g.add("a1", "SIM Tin Huế", T0, *FLOOD)
    # another outlet: same story, a sentence edited and diacritics dropped
    b = g.add("b1", "SIM Báo Sông Hương", T0 + timedelta(minutes=20), FLOOD[0],
              FLOOD[1].replace("chính quyền sơ tán các hộ dân", "chinh quyen so tan cac ho dan"))
    other = g.add("c1", "SIM Tin Huế", T0 + timedelta(minutes=30), "Chợ Đông Ba đón khách kỷ lục",
                  "Tiểu thương chợ Đông Ba vui mừng khi lượng khách du lịch tăng mạnh dịp cuối tuần")
    assert a.id == b.id and other.id != a.id
    assert a.spread_at is None
    c = g.add("d1", "SIM Thời sự Huế", T0 + timedelta(minutes=90), *FLOOD)
    assert c.id == a.id and c.outlets == {"SIM Tin Huế", "SIM Báo Sông Hương", "SIM Thời sự Huế"}
    assert c.spread_at == T0 + timedelta(minutes=90) and c.first_seen == T0


def test_outlets_outside_the_window_do_not_spread_a_story():
    g = StoryGrouper(spread_outlets=3, spread_minutes=60)
    for i, outlet in enumerate(("A", "B", "C")):
        story = g.add(f"k{i}", outlet, T0 + timedelta(hours=2 * i), *FLOOD)
    assert len(story.outlets) == 3 and story.spread_at is None


def test_burst_on_recorded_hourly_counts():
    counts = HourlyCounts()
    # a recorded day: about one flood mention every other hour, then twelve in one hour
    for h in range(24):
        if h % 2 == 0:
            counts.add(T0 + timedelta(hours=h, minutes=5), ["topic:flood"])
    burst_hour = T0 + timedelta(hours=24)
    for m in range(12):
        counts.add(burst_hour + timedelta(minutes=m * 4), ["topic:flood", "place:Phú Hội"])
    found = find_bursts(counts.counts, z=4.0, min_count=3, baseline_hours=24)
    assert [(b.term, b.hour, b.count) for b in found] == [
        ("topic:flood", burst_hour, 12), ("place:Phú Hội", burst_hour, 12)] or \
        sorted((b.term, b.count) for b in found) == [("place:Phú Hội", 12), ("topic:flood", 12)]
    # steady traffic is not a burst
    steady = HourlyCounts()
    for h in range(48):
        for _ in range(5):
            steady.add(T0 + timedelta(hours=h), ["topic:traffic"])
    assert find_bursts(steady.counts) == []


def _article(outlet: str, when: datetime, title: str, text: str, **kw) -> PressArticle:
    from ingest.press.feeds import content_hash
    url = f"http://127.0.0.1/{outlet}/{when:%H%M}"
    return PressArticle(time=when, source_id=outlet, outlet=outlet, url=url,
                        title=title, text=text, hash=content_hash(title, text), **kw)


def test_press_detector_alerts_with_departments_and_survives_a_snapshot():
    cfg = PressRuleSettings(spread_outlets=3, spread_minutes=120,
                            departments={"flood": "Ban Chỉ huy PCTT"})
    d = PressDetector(cfg)
    kw = {"topics": ["flood"], "places": ["Phú Hội"], "tone": "negative", "tone_score": -0.6}
    first = d.observe(_article("SIM A", T0, *FLOOD, **kw))
    assert [s.rule for s in first] == ["negative"] and first[0].details["department"] == "Ban Chỉ huy PCTT"
    assert d.observe(_article("SIM B", T0 + timedelta(minutes=10), *FLOOD, **kw)) == []  # one alert a story
    restored = PressDetector(cfg)
    restored.restore(json.loads(json.dumps(d.state())))
    third = restored.observe(_article("SIM C", T0 + timedelta(minutes=40), *FLOOD, **kw))
    assert [s.rule for s in third] == ["spreading"]
    assert third[0].details["outlets"] == ["SIM A", "SIM B", "SIM C"]
    assert third[0].details["department"] == "Ban Chỉ huy PCTT"


def test_hue_config_press_sections_validate() -> None:
    """The Huế config's [rules.press] and its demo press feed parse as settings; every hazard is watched."""
    import tomllib
    from pathlib import Path

    from ingest.press.worker import SimulatedPressOptions

    path = Path(__file__).parents[1] / "ioc/app/config/hue.toml"
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = PressRuleSettings.model_validate(config["rules"]["press"])
    assert rules.departments["flood"] == "Ban Chỉ huy PCTT"
    [feed] = [f for f in config["feeds"] if f["kind"] == "press-simulator"]
    options = SimulatedPressOptions.model_validate(feed["options"])
    assert {t.name for t in options.topics} >= set(rules.hazards)


def test_the_two_simulated_outlets_carry_one_flood_story():
    from pathlib import Path

    from ingest.press.feeds import parse_feed

    root = Path(__file__).parents[1] / "sample_streams/press"
    g = StoryGrouper(threshold=0.5)
    stories = {}
    for name in ("sim_tin_hue.xml", "sim_song_huong.xml"):
        for e in parse_feed((root / name).read_bytes()):
            stories[e.guid] = g.add(e.guid, name, e.published, e.title, e.text or e.summary).id
    assert stories["sim-tin-hue-001"] == stories["sim-song-huong-101"]
    assert len(set(stories.values())) == 3
