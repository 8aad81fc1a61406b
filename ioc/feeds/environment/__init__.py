"""The environment feed: air, water and weather sensors (OpenAQ, SensorThings, CSV), as readings."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.environment.schema import (
    READINGS,
    ROLLUPS,
    apply_reading_rollups,
    apply_readings,
    refresh_reading_rollups,
)
from ioc.feeds.environment.settings import EnvironmentRules
from ioc.store.tables import Migration

SPEC = FeedSpec(
    name="environment",
    rule_titles={
        "threshold": "Threshold exceeded",
    },
    title="Environment",
    short_title="Environ.",
    events=(EnvironmentReading,),
    topics={"environment.reading": "ioc.environment.readings"},
    tables=(READINGS,),
    migrations=(
        Migration(1, "readings and the latest value of each series", apply_readings),
        Migration(2, "1-minute and 1-hour reading rollups", apply_reading_rollups),
    ),
    raw_tables=("readings",),
    refresh=refresh_reading_rollups,
    rollup_tables=tuple(ROLLUPS),
    rules=EnvironmentRules,
)
