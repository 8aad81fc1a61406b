"""The field-report page's figures from the SIMULATED week: queues by deadline, on-time rates."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

from dashboards.reports311.figures import cases, on_time_rate, queue, week_start
from ingest.reports.simulator import SAMPLE, simulate
from ioc.feeds.reports.settings import ReportsFeed


def test_queue_and_on_time_rate_of_a_simulated_week() -> None:
    cfg = ReportsFeed.model_validate(tomllib.loads(SAMPLE.read_text()))
    start = datetime(2026, 11, 23, tzinfo=UTC)
    now = start + timedelta(days=7, hours=12)
    events = [e for e in simulate(cfg, start, days=8) if e.time <= now]
    all_cases = cases(events)
    q = queue(all_cases, "urban_works")
    assert q and all(c.status in ("received", "assigned", "in_progress") for c in q)
    assert [c.next_due() for c in q] == sorted(c.next_due() for c in q)
    assert week_start(now) == datetime(2026, 11, 30, 0, 0, tzinfo=week_start(now).tzinfo)
    rates = on_time_rate(all_cases, now)
    assert set(rates) <= {c.department for c in cfg.categories.values()}
    good, total = map(sum, zip(*rates.values(), strict=True))
    assert 0 < good < total  # some late, most on time
    assert 0.7 < good / total < 0.95


def test_the_week_starts_on_monday_in_the_city_s_own_zone() -> None:
    """Sunday 20:00 UTC is already Monday in Huế (the week just began) but still Sunday in Lisbon."""
    from zoneinfo import ZoneInfo

    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    hue, lisbon = ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("Europe/Lisbon")
    assert week_start(now, hue) == datetime(2026, 11, 30, 0, 0, tzinfo=hue)
    assert week_start(now, lisbon) == datetime(2026, 11, 23, 0, 0, tzinfo=lisbon)
    assert week_start(now) == week_start(now, hue)  # the sample city's zone by default
