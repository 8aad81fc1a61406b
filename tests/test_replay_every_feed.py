"""Determinism on every feed: an hour of every feed that has rules, run live through the embedded
mode's own pieces with the Huế configuration's rules, recorded (a file per feed and hour) and
replayed, raises exactly the alerts of the live run: same fingerprints, first-seen times,
severities and resolution times; in the embedded mode's replay and on Kafka (distributed mode's
bus, four partitions a topic, rules per partition as the distributed mode runs them).

The live run publishes the feeds as concurrent ingest workers do: each feed's records in its own
order, the feeds interleaved in uneven batches (a feed's backfill published while another is an
hour ahead). The recording is read back in event-time order across feeds. That the two orders give
the same alerts is what the per-feed clock domains of the detector runner promise.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import migrated_database

from detectors.registry import build_detectors
from ioc.app.replay import ReplayedAlert, replay_database, replayed_alerts, run_replay
from ioc.config import Settings, load_settings
from ioc.events import Event
from ioc.feeds import FEEDS
from ioc.recording import read_manifest, read_recording, write_recording
from ioc.store.database import open_store
from ioc.store.embedded import EmbeddedPostgres
from tests.hour_of_every_feed import HOUR, hour_of_every_feed, services_hour
from tests.test_replay import fingerprints, live_run
from tests.test_replay_kafka import replay_on_kafka

pytest_plugins = ["kafka_broker"]

FEED_OF_KIND = {cls.model_fields["kind"].default: spec.name for spec in FEEDS for cls in spec.events}


def feeds_of_detectors(settings: Settings) -> dict[str, str]:
    """``detector name -> feed`` of every detector the settings build (a rule family's members too:
    their signals carry their own names), from the feed whose record kinds it reads."""
    out: dict[str, str] = {}
    for detector in build_detectors(settings):
        feeds = {FEED_OF_KIND[kind] for kind in detector.kinds}
        assert len(feeds) == 1, (detector.name, feeds)
        for name in [detector.name, *(m.name for m in getattr(detector, "members", []))]:
            out[name] = next(iter(feeds))
    return out


def ingest_order(per_feed: dict[str, list[Event]], seed: int = 15) -> list[Event]:
    """Every feed's records in its own order, the feeds interleaved in uneven batches."""
    rnd = random.Random(seed)
    left = {name: list(records) for name, records in per_feed.items() if records}
    out: list[Event] = []
    while left:
        name = rnd.choice(sorted(left))
        size = rnd.randint(1, 600)
        out += left[name][:size]
        left[name] = left[name][size:]
        if not left[name]:
            del left[name]
    return out


class Hour:
    """The hour of every feed, its rules and the alerts its live run raised."""

    def __init__(self, settings: Settings, start: datetime, per_feed: dict[str, list[Event]],
                 live: list[ReplayedAlert], live_dsn: str, live_count: int) -> None:
        self.settings, self.start, self.per_feed = settings, start, per_feed
        self.live, self.live_dsn, self.live_count = live, live_dsn, live_count

    @property
    def records(self) -> list[Event]:
        return sorted((r for records in self.per_feed.values() for r in records), key=lambda r: r.time)


@pytest.fixture(scope="module")
def hour(pg_plain: EmbeddedPostgres) -> Hour:
    settings = load_settings()  # the Huế configuration: every feed's rules
    start = services_hour(settings)  # the hour the dossier sample's export ends in
    per_feed = hour_of_every_feed(settings, start)
    dsn = migrated_database(pg_plain)
    live = open_store(dsn, 1, 4, want_timescaledb=False)
    try:
        live_run(ingest_order(per_feed), settings, live)
        alerts = replayed_alerts(live.pool)
        with live.pool.connection() as conn:
            count = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
    finally:
        live.close()
    return Hour(settings, start, per_feed, alerts, dsn, count)


def test_the_hour_is_of_every_feed_with_rules_and_its_live_run_raised_alerts_of_each(hour: Hour) -> None:
    feed_of = feeds_of_detectors(hour.settings)
    with_rules = set(feed_of.values())
    assert with_rules == set(hour.per_feed), "a feed with rules is missing from the hour (or one is extra)"
    assert with_rules == {spec.name for spec in FEEDS if spec.rules is not None}
    for name, records in hour.per_feed.items():
        in_hour = [r for r in records if hour.start <= r.time < hour.start + HOUR]
        assert in_hour, f"{name}: nothing in the hour"
        assert all(FEED_OF_KIND[r.kind] == name for r in records)  # type: ignore[attr-defined]
    raised = {feed_of[a.detector] for a in hour.live}
    assert raised == with_rules, f"no alert of {sorted(with_rules - raised)}"
    # and every rule of them: a detector (a rule family's members for their family), and each
    # enabled rule of the security and press detectors
    rules = {m.name for d in build_detectors(hour.settings) for m in getattr(d, "members", [d])}
    assert rules - {a.detector for a in hour.live} == set()
    security = hour.settings.rules.security
    assert security is not None
    # (brute force brings "compromise", web attack "web_errors")
    raised_by_security = {a.rule for a in hour.live if a.detector == "security"}
    assert raised_by_security == {*security.enabled, "compromise", "web_errors"}
    assert {a.rule for a in hour.live if a.detector == "press"} == {"spreading", "negative", "burst"}


def test_a_recorded_hour_of_every_feed_replays_to_the_alerts_raised_live(
        pg_plain: EmbeddedPostgres, hour: Hour, tmp_path: Path) -> None:
    records = hour.records
    write_recording(tmp_path / "rec", [(FEED_OF_KIND[r.kind], r) for r in records])  # type: ignore[attr-defined]
    files = read_manifest(tmp_path / "rec")
    assert {f.feed for f in files if f.hour == hour.start} == set(hour.per_feed)  # a file per feed and hour
    assert len({(f.feed, f.hour) for f in files}) == len(files)
    window = (min(r.time for r in records) - timedelta(hours=1), hour.start + 2 * HOUR)
    recorded = [r for _, r in read_recording(tmp_path / "rec", *window)]
    assert sorted(r.to_wire() for r in recorded) == sorted(r.to_wire() for r in records)
    with replay_database(pg_plain.dsn) as replay:
        run = run_replay(recorded, hour.settings, replay.pool)
    assert run.events == len(records) and run.signals > 0
    assert fingerprints(run.alerts) == fingerprints(hour.live)
    with psycopg.connect(hour.live_dsn) as conn:  # the live store was never written by the replay
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (hour.live_count,)


# On Kafka the hour is replayed in two parts of the feeds (each part several feeds at once, each feed
# its own clock domain): all seven at once stalled the test broker (tansu, in memory): the producer
# delivered nothing for two minutes to the replay's first topic once the rules' group read every
# feed's topics, four partitions each, on a busy two-core machine. Security's "expected host
# silent" rule is judged only by the instance of the partition that carries the host
# (``tests/test_security_partitions.py``), so it replays on Kafka as live.
KAFKA_PARTS = (("services", "reports", "press", "cameras"), ("environment", "vessels", "security"))


@pytest.mark.parametrize("feeds", KAFKA_PARTS, ids=["+".join(p) for p in KAFKA_PARTS])
def test_the_hour_of_every_feed_replayed_on_kafka_raises_the_alerts_raised_live(
        pg_plain: EmbeddedPostgres, hour: Hour, kafka_broker: str, feeds: tuple[str, ...]) -> None:
    assert {f for part in KAFKA_PARTS for f in part} == set(hour.per_feed)
    feed_of = feeds_of_detectors(hour.settings)
    records = sorted((r for f in feeds for r in hour.per_feed[f]), key=lambda r: r.time)
    live = [a for a in hour.live if feed_of[a.detector] in feeds]
    assert {feed_of[a.detector] for a in live} == set(feeds)
    on_kafka = replay_on_kafka(records, hour.settings, pg_plain, kafka_broker)
    assert on_kafka.events == len(records) and on_kafka.signals > 0
    assert fingerprints(on_kafka.alerts) == fingerprints(live)
