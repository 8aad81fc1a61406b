"""The demo's SIMULATED press stream: the newsroom script, served as real RSS over HTTP by the
``press-simulator`` worker, polled like real outlets, and found by the press rules (spreading,
burst, negative coverage) with the demo's configuration. The clock is injected: event time moves
in steps, the HTTP, parsing, page extraction and rules are real."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from detectors.press import PressDetector
from ingest.press.newsroom import EVERYDAY, HAZARDS, OUTLETS, newsroom_script
from ingest.press.worker import SimulatedPressWorker, feed_options
from ioc.bus.memory import MemoryBus
from ioc.config import load_settings
from ioc.events import decode

T0 = datetime(2026, 12, 5, 2, 7, tzinfo=UTC)


def test_script_backfills_a_baseline_then_spreads_a_hazard_story_each_cycle() -> None:
    items = newsroom_script(T0, T0 + timedelta(seconds=1300), backfill_hours=26, every_s=180, cycle_s=600)
    assert [i.published for i in items] == sorted(i.published for i in items)
    assert len({(i.outlet, i.slug) for i in items}) == len(items)
    before = [i for i in items if i.published < T0]
    assert len(before) == 26 * 20 and before[0].published == T0 - timedelta(hours=26)
    hazards = Counter(i.title for i in items if i.published > T0 and i.text in {h.report for h in HAZARDS})
    assert set(hazards) == {*HAZARDS[0].titles, *HAZARDS[1].titles, *HAZARDS[2].titles}
    for cycle, hazard in enumerate(HAZARDS):  # each story on every outlet within 90 s
        at = T0 + timedelta(seconds=600 * cycle)
        carried = {i.outlet for i in items if i.text == hazard.report and at <= i.published < at + timedelta(
            seconds=90)}
        assert carried == {o[0] for o in OUTLETS}
    # everyday news never reaches three outlets: it must not look like a spreading story
    outlets_of = {title: {i.outlet for i in items if i.title == title} for title, _ in EVERYDAY}
    assert max(len(v) for v in outlets_of.values()) == 2


def test_simulated_outlets_over_http_polled_and_judged_by_the_demo_rules() -> None:
    settings = load_settings()
    feed = next(f for f in settings.feeds if f.kind == "press-simulator")
    now = [T0]
    bus = MemoryBus()
    sub = bus.subscribe(["ioc.press.articles", "ioc.deadletters"], "t")
    worker = SimulatedPressWorker(feed.name, feed_options(feed), bus.publisher(), clock=lambda: now[0])
    thread = threading.Thread(target=worker.server.serve_forever, daemon=True)
    thread.start()
    try:
        assert worker.round(now[0]) == 26 * 20 + 1  # the backfill and the everyday article at T0
        assert worker.health["live"] and worker.health["dead_letters"] == 0
        assert worker.round(now[0] + timedelta(seconds=10)) == 0  # 304 from every outlet: nothing new
        for step in range(1, 13):  # two minutes, polled every 10 s
            now[0] = T0 + timedelta(seconds=10 * step)
            worker.round(now[0])
    finally:
        worker.server.shutdown()
        worker.server.server_close()
    articles = []
    while batch := sub.poll(1000, 0.05):
        articles += [decode(m.value) for m in batch]
    assert {a.kind for a in articles} == {"press.article"}
    assert {a.outlet for a in articles} == {o[1] for o in OUTLETS} and all(a.simulated for a in articles)
    flood = [a for a in articles if a.time > T0 and "flood" in a.topics]
    assert {a.outlet for a in flood} == {o[1] for o in OUTLETS}
    assert all("Phú Hội" in a.places for a in flood if a.text == HAZARDS[0].report)
    report = next(a for a in flood if a.text == HAZARDS[0].report)
    assert {"LOC:Phú Hội", "LOC:Vỹ Dạ", "LOC:sông Hương"} <= set(report.entities)  # named entities kept
    # the summary-only outlet's text comes from its article page, without the page's menus
    page_text = next(a.text for a in flood if a.outlet == "SIM Sông Hương")
    assert page_text == HAZARDS[0].report  # no menus, no footer, no headline run into the text
    detector = PressDetector.from_settings(settings)
    signals = [s for a in sorted(articles, key=lambda a: a.time) for s in detector.observe(a)]
    rules = {s.rule for s in signals}
    assert {"spreading", "burst", "negative"} <= rules, [s.title for s in signals]
    spread = next(s for s in signals if s.rule == "spreading")
    assert len(spread.details["outlets"]) >= 3 and spread.details["department"] == "Ban Chỉ huy PCTT"
    burst_terms = {s.details["term"] for s in signals if s.rule == "burst"}
    assert "topic:flood" in burst_terms
    # the everyday baseline bursts on nothing but the hazard's own places and topics
    assert burst_terms <= {"topic:flood", "topic:complaint", "place:Phú Hội", "place:Vỹ Dạ"}, burst_terms
