"""Poll an OpenAQ v3 style API: ``GET {base_url}/v3/locations/{id}/latest`` for each location.

The answer is ``{"meta": {...}, "results": [{"datetime": {"utc": ..., "local": ...}, "value": ...,
"coordinates": {"latitude": ..., "longitude": ...}, "sensorsId": ..., "locationsId": ...}]}``.
Each mapped sensor id becomes a station's metric; sensors that are not mapped are ignored (a
location often has more sensors than a city uses). A value is emitted once: the last datetime
seen per sensor is kept and an older or equal one is not emitted again. The items of one answer
are taken oldest first, so two readings of one sensor in one answer (in any order) are both
emitted when newer than the last datetime. A time that fails the
:class:`~ingest.environment.base.ReadingChecks` (far in the future, before ``earliest_time``) is a
dead letter and does not move the last datetime; a different value at the last datetime is a
conflict (a dead letter). The same bad item is dead-lettered once; what is remembered about
unmapped sensors and bad items is bounded.

A location whose answer is unusable (not JSON, an HTTP error, a bad redirect, or anything
unexpected) is an error (and a dead letter when there is a body) for that location only: the
readings of the other locations are still returned, and the last datetimes move only for the
readings returned.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from ioc.config import FeedSettings, Settings
from ioc.feeds.environment.records import EnvironmentReading

from .base import (
    DEFAULT_CHECKS,
    BadRecord,
    BoundedMemory,
    Clock,
    ReadingChecks,
    SourceBase,
    SourceUnavailable,
    Target,
    check_stations,
    feed_options,
    parse_time,
    utc_now,
)
from .http import BadPayload, JsonClient

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openaq.org"
LATEST = datetime.max.replace(tzinfo=UTC)


class OpenAqSource(SourceBase):
    """Latest values of mapped OpenAQ sensors, polled every ``poll_seconds``."""

    def __init__(
        self,
        base_url: str,
        locations: list[int],
        sensors: dict[int, Target],
        *,
        api_key: str | None = None,
        poll_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        name: str = "openaq",
        session: requests.Session | None = None,
        now: Clock = utc_now,
        checks: ReadingChecks = DEFAULT_CHECKS,
    ) -> None:
        super().__init__(name)
        self.base_url = base_url.rstrip("/")
        self.locations = list(locations)
        self.sensors = dict(sensors)
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.checks = checks
        self.client = JsonClient(
            self.base_url,
            session=session,
            credentials={"X-API-Key": api_key} if api_key else None,
            timeout=timeout_seconds,
        )
        self.last_seen: dict[int, tuple[datetime, Any]] = {}  # per mapped sensor: time and raw value
        self.ignored_sensors = BoundedMemory()  # unmapped sensor ids, logged once each
        self._next_poll = now()

    def due(self, now: datetime) -> list[EnvironmentReading]:
        """Poll every location if the interval has passed; new readings, oldest first."""
        if now < self._next_poll:
            return []
        out: list[EnvironmentReading] = []
        failed = False
        for location in self.locations:
            url = f"{self.base_url}/v3/locations/{location}/latest"
            before = dict(self.last_seen)
            try:
                body = self.client.get_json(url, params={"limit": "1000"})
                out.extend(self._results(body, url, now))
            except SourceUnavailable as exc:
                self.unavailable(exc)
                failed = True
                if exc.retry_after is not None:
                    break  # the server asked us to wait: not the next location either
            except BadPayload as exc:
                self.reject(str(exc), exc.payload)
                self.error(str(exc))
                failed = True
            except Exception as exc:  # a bug must not cost the other locations their readings
                log.exception("%s: the answer from %s failed", self.name, url)
                self.last_seen = before  # nothing of this location is returned
                self.error(f"{type(exc).__name__} reading the answer from {url}: {exc}")
                failed = True
        if not failed:  # on failure the worker's backoff decides when to try again
            self._next_poll = now + timedelta(seconds=self.poll_seconds)
        out.sort(key=lambda r: r.time)
        return out

    def _results(self, body: Any, url: str, now: datetime) -> list[EnvironmentReading]:
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            self.reject_once(url, f"no 'results' list in the answer from {url}", json.dumps(body)[:65536])
            return []
        out = []
        for item in sorted(results, key=self._time_key):  # oldest first: each newer one is new
            try:
                reading = self._reading(item, now)
            except BadRecord as exc:
                payload = json.dumps(item, default=str)
                key = str(item.get("sensorsId"))[:64] if isinstance(item, dict) else None
                self.reject_once(key, f"{url}: {exc}", payload)  # the same bad item: reported once
                continue
            if reading is not None:
                out.append(reading)
        return out

    @staticmethod
    def _time_key(item: Any) -> datetime:
        """An item's datetime for sorting (items without a usable one last, as they came)."""
        stamp = item.get("datetime") if isinstance(item, dict) else None
        try:
            return parse_time(stamp.get("utc") if isinstance(stamp, dict) else stamp)
        except BadRecord:
            return LATEST

    def _reading(self, item: Any, now: datetime) -> EnvironmentReading | None:
        if not isinstance(item, dict):
            raise BadRecord(f"result is not an object: {type(item).__name__}")
        sensor = item.get("sensorsId")
        if not isinstance(sensor, int) or isinstance(sensor, bool):
            raise BadRecord(f"sensorsId is not an integer: {sensor!r}")
        target = self.sensors.get(sensor)
        if target is None:
            if sensor not in self.ignored_sensors:
                log.info("%s: sensor %s is not mapped to a station; ignored", self.name, sensor)
            self.ignored_sensors.remember(sensor)
            return None
        stamp = item.get("datetime")
        when = parse_time(stamp.get("utc") if isinstance(stamp, dict) else stamp)
        self.checks.check_time(when, now)  # before any state: a time in 2999 must not silence the sensor
        value = item.get("value")
        last = self.last_seen.get(sensor)
        if last is not None and when <= last[0]:
            if when == last[0] and value != last[1]:
                raise BadRecord(
                    f"value {value!r} conflicts with {last[1]!r} already read at {when.isoformat()}"
                )
            return None
        self.last_seen[sensor] = (when, value)  # even if the value is bad: reject it once, not every poll
        return self.checks.reading(
            time=when,
            station=target.station,
            metric=target.metric,
            value=value,
            unit=target.unit,
            received=now,
        )


class OpenAqOptions(BaseModel):
    """``[feeds.options]`` of an ``openaq`` feed."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    api_key_env: str | None = "OPENAQ_API_KEY"
    locations: list[int] = Field(min_length=1)
    sensors: dict[int, Target] = Field(min_length=1)
    poll_seconds: float = Field(default=300.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)


def from_feed(
    feed: FeedSettings, settings: Settings, samples_dir: Path, now: Clock = utc_now
) -> OpenAqSource:
    """An :class:`OpenAqSource` from a feed's options (the key from ``api_key`` or ``$api_key_env``)."""
    options = feed_options(OpenAqOptions, feed)
    check_stations(feed, settings, (t.station for t in options.sensors.values()))
    api_key = options.api_key or (os.environ.get(options.api_key_env) if options.api_key_env else None)
    return OpenAqSource(
        options.base_url,
        options.locations,
        options.sensors,
        api_key=api_key,
        poll_seconds=options.poll_seconds,
        timeout_seconds=options.timeout_seconds,
        name=feed.name,
        now=now,
        checks=ReadingChecks.from_settings(settings),
    )
