"""Detectors as pure functions on recorded event lists: threshold, stale sensor, registry."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.base import Detector
from detectors.registry import DETECTORS, build_detectors
from detectors.stale import StaleSensorDetector
from detectors.threshold import ThresholdDetector
from ioc.config import RuleSettings, Settings, StaleRule, Station
from ioc.events import AlertSignal, Event
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.settings import ThresholdRule
from ioc.feeds.vessels.records import VesselPosition

T0 = datetime(2024, 10, 14, 8, 0, tzinfo=UTC)
SAMPLE_CSV = Path(__file__).resolve().parents[1] / "sample_streams" / "environment" / "readings.csv"

# A classroom CO2 series (ppm, every 2 min): rises above 1000 at 08:08, peaks, dips to 985 (inside
# the 50 ppm hysteresis band), clears at 08:34, then a second, shorter breach that never lasts 10 min.
CO2_DONGBA = [
    812, 870, 931, 985, 1012, 1048, 1090, 1123, 1161, 1140,  # 08:00 .. 08:18
    1108, 1060, 1010, 985, 1020, 960, 990, 940, 905, 880,  # 08:20 .. 08:38
    1004, 1035, 1012, 996, 951, 930,  # 08:40 .. 08:50
]
# Hourly river flow (l/s) at a gauge: a low-flow spell below 30 l/s from 03:00 to 06:00.
FLOW_KIMLONG = [42.1, 38.5, 33.0, 29.4, 27.8, 26.9, 28.5, 31.2, 35.6, 29.9, 36.0]

CO2_RULE = ThresholdRule(name="co2-high", metric="co2", above=1000, for_minutes=10, clear_margin=50)
LOW_FLOW_RULE = ThresholdRule(
    name="low-flow", metric="water_flow", below=30, for_minutes=120, clear_margin=2, severity="critical"
)


def reading(
    at: datetime, value: float, source: str = "hue-air-dongba", metric: str = "co2", unit: str = "ppm"
) -> EnvironmentReading:
    return EnvironmentReading(time=at, source_id=source, metric=metric, value=value, unit=unit)


def series(
    values: Sequence[float],
    step: timedelta,
    source: str = "hue-air-dongba",
    metric: str = "co2",
    unit: str = "ppm",
    start: datetime = T0,
) -> list[EnvironmentReading]:
    return [reading(start + i * step, v, source, metric, unit) for i, v in enumerate(values)]


def co2(source: str = "hue-air-dongba", values: Sequence[float] = CO2_DONGBA) -> list[EnvironmentReading]:
    return series(values, timedelta(minutes=2), source)


def flow() -> list[EnvironmentReading]:
    return series(FLOW_KIMLONG, timedelta(hours=1), "hue-river-kimlong", "water_flow", "l/s")


def sample_stream() -> list[EnvironmentReading]:
    """The recorded sample (``sample_streams/environment``): air stations and river gauges."""
    with SAMPLE_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        reading(T0 + timedelta(seconds=int(r["offset_s"])), float(r["value"]), r["station_id"],
                r["metric"], r["unit"])
        for r in rows
    ]


def feed(detector: Detector, events: Iterable[Event], until: datetime | None = None) -> list[AlertSignal]:
    out: list[AlertSignal] = []
    for event in events:
        out.extend(detector.observe(event))
    if until is not None:
        out.extend(detector.advance(until))
    return out


def brief(signals: Iterable[AlertSignal]) -> list[tuple[str, str, datetime, datetime | None]]:
    return [(s.fingerprint, s.status, s.time, s.started_at) for s in signals]


def canonical(signals: Iterable[AlertSignal]) -> list[dict[str, Any]]:
    """Every field of every signal, in a fixed order (arrival order may differ between keys)."""
    dumps = [s.model_dump(mode="json") for s in signals]
    return sorted(dumps, key=lambda d: (d["time"], d["fingerprint"], d["status"]))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alternates(signals: Iterable[AlertSignal]) -> bool:
    """Per fingerprint, statuses go firing, resolved, firing...: never twice the same in a row."""
    last: dict[str, str] = {}
    for s in signals:
        if last.get(s.fingerprint, "resolved") == s.status:
            return False
        last[s.fingerprint] = s.status
    return True


# -- threshold ---------------------------------------------------------------------------


def test_threshold_fires_once_after_the_duration_not_before() -> None:
    events = co2()
    detector = ThresholdDetector([CO2_RULE], stations={"hue-air-dongba": "Đông Ba"})
    # 08:08 .. 08:16 breach for 8 minutes: not yet.
    assert feed(detector, events[:9]) == []
    fired = detector.observe(events[9])  # 08:18, ten minutes after the first breaching reading
    assert brief(fired) == [("threshold:co2-high:hue-air-dongba", "firing", at(18), at(8))]
    signal = fired[0]
    assert signal.detector == "threshold" and signal.rule == "co2-high" and signal.severity == "warning"
    assert signal.source_id == "hue-air-dongba" and signal.area == "Đông Ba"
    assert signal.title == "CO₂ above 1000 ppm for 10 min at Đông Ba"
    assert signal.details == {
        "metric": "co2", "value": 1140.0, "bound": 1000.0, "direction": "above", "unit": "ppm",
        "for_minutes": 10.0, "clear_margin": 50.0,
    }
    rest = feed(detector, events[10:])
    assert [s.status for s in rest] == ["resolved"]  # never a second firing for the same episode


def test_threshold_resolves_with_hysteresis() -> None:
    signals = feed(ThresholdDetector([CO2_RULE]), co2())
    # 985 and 960 at 08:26/08:30 are back under 1000 but not by 50 ppm: the alert stays up until 940.
    assert brief(signals) == [
        ("threshold:co2-high:hue-air-dongba", "firing", at(18), at(8)),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(34), at(8)),
    ]
    assert signals[1].details["value"] == 940.0
    # Without a margin the first reading back under the bound resolves, and the next breach starts
    # a new episode that has to last its own 10 minutes.
    no_margin = ThresholdRule(name="co2-high", metric="co2", above=1000, for_minutes=10)
    assert brief(feed(ThresholdDetector([no_margin]), co2())) == [
        ("threshold:co2-high:hue-air-dongba", "firing", at(18), at(8)),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(26), at(8)),
    ]
    short = ThresholdRule(name="co2-high", metric="co2", above=1000, for_minutes=4)
    assert brief(feed(ThresholdDetector([short]), co2())) == [
        ("threshold:co2-high:hue-air-dongba", "firing", at(12), at(8)),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(26), at(8)),
        ("threshold:co2-high:hue-air-dongba", "firing", at(44), at(40)),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(46), at(40)),
    ]


def test_threshold_below_bound_on_hourly_river_flow() -> None:
    signals = feed(ThresholdDetector([LOW_FLOW_RULE], stations={"hue-river-kimlong": "Kim Long"}), flow())
    hour = timedelta(hours=1)
    assert brief(signals) == [
        ("threshold:low-flow:hue-river-kimlong", "firing", T0 + 5 * hour, T0 + 3 * hour),
        ("threshold:low-flow:hue-river-kimlong", "resolved", T0 + 8 * hour, T0 + 3 * hour),
    ]
    assert signals[0].severity == "critical"
    assert signals[0].title == "Water flow below 30 l/s for 120 min at Kim Long"
    assert signals[0].details["direction"] == "below" and signals[0].details["value"] == 26.9
    # 31.2 at 07:00 is back over 30 but not by the 2 l/s margin; 29.9 at 09:00 is a single reading.


def test_threshold_per_station_filter_title_template_and_other_metrics() -> None:
    rule = ThresholdRule(
        name="co2-school", metric="co2", above=1000, for_minutes=10, clear_margin=50,
        stations=["hue-air-truongtien"],
        title="{metric} {value:.0f} {unit} at {area} ({station}) > {bound:g}",
    )
    detector = ThresholdDetector([rule], stations={"hue-air-truongtien": "Trường Tiền"})
    events = co2("hue-air-dongba") + co2("hue-air-truongtien") + series([2000] * 20, timedelta(minutes=2),
                                                                         metric="temperature", unit="°C")
    signals = feed(detector, events)
    assert brief(signals) == [
        ("threshold:co2-school:hue-air-truongtien", "firing", at(18), at(8)),
        ("threshold:co2-school:hue-air-truongtien", "resolved", at(34), at(8)),
    ]
    assert signals[0].title == "CO₂ 1140 ppm at Trường Tiền (hue-air-truongtien) > 1000"
    # A broken template falls back to the default title instead of stopping the detector.
    broken = rule.model_copy(update={"title": "{nope} {value:xyz}"})
    fallback = feed(ThresholdDetector([broken]), co2("hue-air-truongtien"))
    assert fallback[0].title == "CO₂ above 1000 ppm for 10 min at hue-air-truongtien"


def test_threshold_titles_read_in_each_screens_language() -> None:
    """The standard title names the metric in the reader's language; a rule's own title may be
    written in each language, and a screen in one not written reads the English."""
    import json

    from ioc.i18n import render

    def titles(rule: ThresholdRule) -> dict[str, str]:
        signal = feed(ThresholdDetector([rule], stations={"hue-river-kimlong": "Kim Long"}), flow())[0]
        stored = json.loads(json.dumps(signal.title_params))  # as the store keeps them
        return {lang: render("alerts", signal.title_template, stored, lang, signal.title)
                for lang in ("vi", "en")}

    assert titles(LOW_FLOW_RULE) == {"vi": "Lưu lượng dưới 30 l/s trong 120 phút tại Kim Long",
                                     "en": "Water flow below 30 l/s for 120 min at Kim Long"}
    own = LOW_FLOW_RULE.model_copy(update={"title": {
        "vi": "{metric} sông thấp: {value:.1f} {unit} tại {area}",
        "en": "River {metric} low: {value:.1f} {unit} at {area}"}})
    assert titles(own) == {"vi": "Lưu lượng sông thấp: 26,9 l/s tại Kim Long",
                           "en": "River Water flow low: 26.9 l/s at Kim Long"}
    english_only = LOW_FLOW_RULE.model_copy(update={"title": "Low flow at {area}"})
    assert titles(english_only) == {"vi": "Low flow at Kim Long", "en": "Low flow at Kim Long"}


def test_threshold_duplicates_change_nothing() -> None:
    events = co2() + flow()
    clean = ThresholdDetector([CO2_RULE, LOW_FLOW_RULE])
    expected = feed(clean, events)
    twice = ThresholdDetector([CO2_RULE, LOW_FLOW_RULE])
    redelivered = [e for e in events for _ in range(2)] + events[20:26]  # at-least-once: repeats
    assert feed(twice, redelivered) == expected
    assert twice.duplicates == len(events) + 6 and twice.late_dropped == 0
    assert twice.state()["tracks"] == clean.state()["tracks"]


def test_threshold_out_of_order_inside_an_undecided_run_counts() -> None:
    detector = ThresholdDetector([CO2_RULE])
    # In time order: 1100 at 08:00, 900 at 08:04, 1100 at 08:06 and 08:11: the run only starts at
    # 08:06, so nothing fires. The 900 arrives late, after 08:06, and must still split the run.
    events = [reading(at(0), 1100), reading(at(6), 1100), reading(at(4), 900), reading(at(11), 1100)]
    assert feed(detector, events) == []
    # A late first reading of a run moves started_at back and completes the duration.
    detector = ThresholdDetector([CO2_RULE])
    assert feed(detector, [reading(at(5), 1100), reading(at(12), 1100)]) == []
    assert brief(detector.observe(reading(at(1), 1050))) == [
        ("threshold:co2-high:hue-air-dongba", "firing", at(12), at(1))
    ]


def test_threshold_shuffled_input_gives_the_signals_of_sorted_input() -> None:
    rng = random.Random(20241014)
    events = co2("hue-air-dongba") + co2("hue-air-truongtien", CO2_DONGBA[::-1]) + flow()
    end = events[-1].time + timedelta(days=1)
    rules = [CO2_RULE, LOW_FLOW_RULE]
    expected = feed(ThresholdDetector(rules), sorted(events, key=lambda e: e.time), until=end)
    assert len(expected) == 6
    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        horizon = timedelta(days=1)  # settle as long as the disorder: decide once nothing can change
        detector = ThresholdDetector(rules, allowed_lateness=horizon, settle=horizon)
        assert canonical(feed(detector, shuffled, until=end)) == canonical(expected)
        assert detector.late_dropped == detector.late_behind_decision == 0


def test_threshold_jittered_recorded_stream_matches_sorted_and_decides_without_waiting() -> None:
    rng = random.Random(7)
    events = sample_stream()
    rules = [
        ThresholdRule(name="co2-high", metric="co2", above=1000, for_minutes=30, clear_margin=50),
        ThresholdRule(name="flow-high", metric="water_flow", above=90, for_minutes=120, clear_margin=5),
        ThresholdRule(name="flow-low", metric="water_flow", below=30, for_minutes=180, clear_margin=2),
    ]
    end = max(e.time for e in events) + timedelta(days=1)
    expected = feed(ThresholdDetector(rules), sorted(events, key=lambda e: e.time), until=end)
    kinds = {(s.rule, s.status) for s in expected}
    assert {("co2-high", "firing"), ("flow-high", "firing"), ("flow-low", "firing")} <= kinds
    # Transport delay of up to 3 h per reading: arrival order is time + delay.
    jitter = timedelta(hours=3)
    arrived = sorted(events, key=lambda e: e.time + rng.random() * jitter)
    assert arrived != sorted(events, key=lambda e: e.time)
    settled = ThresholdDetector(rules, allowed_lateness=jitter, settle=jitter)
    before_end = feed(settled, arrived)
    assert len(before_end) > len(expected) // 2  # decided along the way, not all at the end
    assert canonical(before_end + settled.advance(end)) == canonical(expected)
    # Eager decisions (settle 0) may differ in time from sorted input, but never fire twice.
    eager = feed(ThresholdDetector(rules, allowed_lateness=jitter), arrived, until=end)
    assert alternates(eager) and alternates(expected)


def test_threshold_drops_readings_later_than_allowed_and_counts_them() -> None:
    arrival = [reading(at(45), 900), reading(at(12), 1100), reading(at(0), 1100)]
    detector = ThresholdDetector([CO2_RULE])  # 30 min allowed lateness
    assert feed(detector, arrival) == []
    assert detector.late_dropped == 2
    patient = ThresholdDetector([CO2_RULE], allowed_lateness=timedelta(hours=1))
    # In time order: 1100 at 08:00 and 08:12 fire, 900 at 08:45 resolves; both decided by the last arrival.
    assert brief(feed(patient, arrival)) == [
        ("threshold:co2-high:hue-air-dongba", "firing", at(12), at(0)),
        ("threshold:co2-high:hue-air-dongba", "resolved", at(45), at(0)),
    ]
    assert patient.late_dropped == 0


def test_threshold_never_takes_back_a_decision() -> None:
    events = co2()
    detector = ThresholdDetector([CO2_RULE])
    assert [s.status for s in feed(detector, events[:12])] == ["firing"]  # fired at 08:18
    # A clear reading timed before the decision arrives late: it cannot resolve or undo it.
    assert detector.observe(reading(at(13), 900)) == []
    assert detector.late_behind_decision == 1
    assert detector.observe(reading(at(13), 900)) == []  # and its redelivery is a duplicate
    assert detector.duplicates == 1
    assert brief(feed(detector, events[12:])) == [
        ("threshold:co2-high:hue-air-dongba", "resolved", at(34), at(8))
    ]


def test_threshold_buffer_stays_bounded() -> None:
    detector = ThresholdDetector([CO2_RULE], allowed_lateness=timedelta(minutes=30))
    # A week of 2-minute readings: 80 minutes at 900 ppm, 80 at 1100, and so on: 63 episodes.
    week = series([1100.0 if (i // 40) % 2 else 900.0 for i in range(7 * 24 * 30)], timedelta(minutes=2))
    signals = feed(detector, week)
    assert alternates(signals) and [s.status for s in signals].count("firing") == 63
    readings = detector.state()["tracks"]["co2-high"]["hue-air-dongba"]["readings"]
    assert len(readings) <= 16  # 30 minutes of 2-minute readings


def test_threshold_skips_bad_quality_readings() -> None:
    detector = ThresholdDetector([CO2_RULE])
    bad = [e.model_copy(update={"quality": "bad"}) for e in co2()]
    assert feed(detector, bad) == [] and detector.bad_quality == len(bad)


Step = Event | datetime  # an event to observe, or a watermark to advance to


def play(detector: Detector, steps: Iterable[Step]) -> list[AlertSignal]:
    out: list[AlertSignal] = []
    for step in steps:
        out.extend(detector.advance(step) if isinstance(step, datetime) else detector.observe(step))
    return out


@pytest.mark.parametrize("settle", [timedelta(0), timedelta(minutes=10)])
def test_threshold_state_round_trip_at_every_cut_gives_the_same_signals(settle: timedelta) -> None:
    rng = random.Random(3)
    events = co2() + co2("hue-air-truongtien", CO2_DONGBA[3:]) + flow()
    events.sort(key=lambda e: e.time + rng.random() * settle)
    events += events[10:14]  # some redeliveries
    steps: list[Step] = []
    for i, event in enumerate(events):
        steps.append(event)
        if i % 7 == 6:
            steps.append(event.time)  # the runner's watermark after a batch
    steps.append(max(e.time for e in events) + timedelta(hours=1))
    rules = [CO2_RULE, LOW_FLOW_RULE]

    def fresh() -> ThresholdDetector:
        return ThresholdDetector(rules, stations={"hue-air-dongba": "Đông Ba"}, settle=settle)

    whole = fresh()
    expected = play(whole, steps)
    assert len(expected) == 6
    for cut in range(len(steps) + 1):
        first = fresh()
        head = play(first, steps[:cut])
        snapshot = json.loads(json.dumps(first.state()))
        second = fresh()
        second.restore(snapshot)
        assert second.state() == snapshot
        assert head + play(second, steps[cut:]) == expected, f"cut at {cut}"
        assert second.state() == whole.state()


def test_threshold_restore_drops_rules_no_longer_configured() -> None:
    old = ThresholdDetector([CO2_RULE, LOW_FLOW_RULE])
    feed(old, co2()[:7] + flow()[:5])
    new = ThresholdDetector([LOW_FLOW_RULE])
    new.restore(old.state())
    assert list(new.state()["tracks"]) == ["low-flow"]
    assert brief(feed(new, flow()[5:]))[0][1] == "firing"  # the low-flow run carried over
    with pytest.raises(ValueError):
        new.restore(StaleSensorDetector([]).state())


def test_threshold_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        ThresholdDetector([CO2_RULE, CO2_RULE])
    with pytest.raises(ValueError):
        ThresholdDetector([CO2_RULE], allowed_lateness=timedelta(minutes=5), settle=timedelta(minutes=10))


# -- stale sensor ------------------------------------------------------------------------

STALE_RULE = StaleRule(name="air-silent", after_minutes=15)


def every(minutes: int, until: int, source: str, start: int = 0) -> list[EnvironmentReading]:
    return [reading(at(m), 500, source) for m in range(start, until + 1, minutes)]


def test_stale_fires_on_advance_and_resolves_on_new_data() -> None:
    detector = StaleSensorDetector([STALE_RULE], stations={"hue-air-dainoi": "Đại Nội"})
    assert detector.kinds == frozenset({"environment.reading"})
    feed(detector, every(5, 10, "hue-air-dainoi") + every(5, 20, "hue-air-dongba"))
    assert detector.advance(at(25)) == []  # 08:10 + 15 min is not yet passed
    fired = detector.advance(at(26))
    assert brief(fired) == [("stale:air-silent:hue-air-dainoi", "firing", at(25), at(10))]
    assert fired[0].details["last_seen"] == at(10).isoformat() and fired[0].area == "Đại Nội"
    assert fired[0].detector == "stale" and fired[0].rule == "air-silent"
    assert detector.advance(at(30)) == []  # one signal per silence
    assert detector.observe(reading(at(8), 500, "hue-air-dainoi")) == []  # older than last seen
    resolved = detector.observe(reading(at(40), 500, "hue-air-dainoi"))
    assert brief(resolved) == [("stale:air-silent:hue-air-dainoi", "resolved", at(40), at(10))]
    assert resolved[0].details["silent_minutes"] == 30
    assert brief(detector.advance(at(40))) == [("stale:air-silent:hue-air-dongba", "firing", at(35), at(20))]


def test_stale_last_seen_is_the_largest_event_time() -> None:
    detector = StaleSensorDetector([STALE_RULE])
    feed(detector, [reading(at(20), 1, "a"), reading(at(2), 1, "a")])
    assert detector.advance(at(30)) == []
    assert brief(detector.advance(at(36))) == [("stale:air-silent:a", "firing", at(35), at(20))]


def test_stale_watches_only_its_kind_and_listed_sources() -> None:
    rule = StaleRule(name="gauges", after_minutes=60, sources=["hue-river-kimlong"], severity="critical")
    detector = StaleSensorDetector([rule])
    vessel = VesselPosition(time=at(0), source_id="574001234", mmsi=574001234, lat=16.5, lon=107.6)
    gauges = [reading(at(0), 40, "hue-river-truongtien"), reading(at(0), 40, "hue-river-kimlong")]
    feed(detector, [vessel, *gauges])
    signals = detector.advance(at(240))
    assert brief(signals) == [("stale:gauges:hue-river-kimlong", "firing", at(60), at(0))]
    assert signals[0].severity == "critical"


def test_stale_signals_do_not_depend_on_how_the_stream_is_batched() -> None:
    # Đại Nội goes silent 08:10 .. 08:50; the others keep reporting every 5 minutes.
    events = (every(5, 10, "hue-air-dainoi") + every(5, 90, "hue-air-dainoi", start=50)
              + every(5, 90, "hue-air-dongba") + every(5, 90, "hue-air-truongtien"))
    events.sort(key=lambda e: e.time)
    expected = [
        ("stale:air-silent:hue-air-dainoi", "firing", at(25), at(10)),
        ("stale:air-silent:hue-air-dainoi", "resolved", at(50), at(10)),
    ]
    for batch in (1, 7, 40, len(events)):
        detector = StaleSensorDetector([STALE_RULE])
        signals: list[AlertSignal] = []
        for i in range(0, len(events), batch):
            chunk = events[i : i + batch]
            signals += feed(detector, chunk, until=max(e.time for e in chunk))
        assert brief(signals) == expected, f"batch of {batch}"


def test_stale_state_round_trip() -> None:
    events = every(5, 10, "hue-air-dainoi") + every(5, 30, "hue-air-dongba")
    first = StaleSensorDetector([STALE_RULE])
    assert len(feed(first, events, until=at(30))) == 1
    second = StaleSensorDetector([STALE_RULE])
    second.restore(json.loads(json.dumps(first.state())))
    assert second.state() == first.state()
    later = [reading(at(45), 1, "hue-air-dainoi"), reading(at(45), 1, "hue-air-dongba")]
    assert brief(feed(second, later, until=at(80))) == brief(feed(first, later, until=at(80)))
    assert second.advance(at(80)) == []


# -- registry ----------------------------------------------------------------------------


def test_registry_builds_configured_detectors() -> None:
    settings = Settings(
        stations=[Station(id="hue-air-dongba", name="Chợ Đông Ba", lat=16.47, lon=107.59, area="Đông Ba")],
        rules=RuleSettings(thresholds=[CO2_RULE], stale=[STALE_RULE]),
    )
    detectors = build_detectors(settings)
    assert [d.name for d in detectors] == ["threshold", "stale"]
    assert list(DETECTORS)[:3] == ["threshold", "stale", "vessels"]
    assert all(isinstance(d, Detector) for d in detectors)
    threshold = detectors[0]
    assert isinstance(threshold, ThresholdDetector) and threshold.stations == {"hue-air-dongba": "Đông Ba"}
    assert feed(threshold, co2())[0].area == "Đông Ba"
    only_stale = Settings(rules=RuleSettings(stale=[STALE_RULE]))
    assert [d.name for d in build_detectors(only_stale)] == ["stale"]
    assert build_detectors(Settings()) == []
