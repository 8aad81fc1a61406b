"""Poll an OGC SensorThings API (v1.0/v1.1) for new Observations of mapped Datastreams.

``GET {base_url}/Datastreams({id})/Observations?$orderby=phenomenonTime desc&$top=N`` with
``$filter=phenomenonTime gt <last seen>`` once something has been seen; the answer is
``{"value": [{"phenomenonTime": ..., "result": ...}, ...], "@iot.nextLink": ...}``. Newest first
on the wire; emitted oldest first. The first poll takes the newest ``top``; later polls follow
``@iot.nextLink`` (up to ``max_pages``) while pages come back full, so a burst between polls is
not lost. Observations not newer than the last one seen are not emitted again, even when a
server ignores ``$filter``. A ``phenomenonTime`` interval ``start/end`` counts at its end.

Within one poll a page is read once and an observation (``@iot.id``) counted once, so a
``nextLink`` that loops back ends the paging; a different result at a time already read in that
poll is a conflict (a dead letter). Observations that fail the checks (a time far in the
future...) are dead-lettered once, not on every poll. Configured ``headers`` (credentials) go to
the ``base_url`` origin only, never to another host a ``nextLink`` names.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import requests
from pydantic import BaseModel, ConfigDict, Field

from ioc.config import FeedSettings, Settings
from ioc.feeds.environment.records import EnvironmentReading

from .base import (
    DEFAULT_CHECKS,
    BadRecord,
    Clock,
    ReadingChecks,
    SourceBase,
    SourceUnavailable,
    Target,
    check_stations,
    feed_options,
    fingerprint,
    parse_time,
    utc_now,
)
from .http import BadPayload, JsonClient

log = logging.getLogger(__name__)


def datastream_path(datastream: int | str) -> str:
    """``Datastreams(7)`` for a numeric id, ``Datastreams('abc')`` for a text one."""
    if isinstance(datastream, int) or str(datastream).isdigit():
        return f"Datastreams({int(datastream)})"
    return "Datastreams('{}')".format(str(datastream).replace("'", "''"))


def iso_z(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as SensorThings filters expect."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SensorThingsSource(SourceBase):
    """New observations of mapped datastreams, polled every ``poll_seconds``."""

    def __init__(
        self,
        base_url: str,
        datastreams: dict[int | str, Target],
        *,
        top: int = 100,
        poll_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        headers: dict[str, str] | None = None,
        max_pages: int = 10,
        name: str = "sensorthings",
        session: requests.Session | None = None,
        now: Clock = utc_now,
        checks: ReadingChecks = DEFAULT_CHECKS,
    ) -> None:
        super().__init__(name)
        self.base_url = base_url.rstrip("/")
        self.datastreams = dict(datastreams)
        self.top = top
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.checks = checks
        self.client = JsonClient(self.base_url, session=session, credentials=headers, timeout=timeout_seconds)
        self.max_pages = max_pages
        self.last_seen: dict[int | str, datetime] = {}
        self._next_poll = now()

    def due(self, now: datetime) -> list[EnvironmentReading]:
        """Poll every datastream if the interval has passed; new readings, oldest first."""
        if now < self._next_poll:
            return []
        out: list[EnvironmentReading] = []
        failed = False
        for datastream, target in self.datastreams.items():
            try:
                out.extend(self._poll(datastream, target, now))
            except SourceUnavailable as exc:
                self.unavailable(exc)
                failed = True
                if exc.retry_after is not None:
                    break  # the server asked us to wait: not the next datastream either
            except BadPayload as exc:
                self.reject(str(exc), exc.payload)
                self.error(str(exc))
                failed = True
        if not failed:  # on failure the worker's backoff decides when to try again
            self._next_poll = now + timedelta(seconds=self.poll_seconds)
        out.sort(key=lambda r: r.time)
        return out

    def _poll(self, datastream: int | str, target: Target, now: datetime) -> list[EnvironmentReading]:
        """New observations of one datastream, following ``@iot.nextLink`` while pages are full."""
        url = f"{self.base_url}/{datastream_path(datastream)}/Observations"
        params: dict[str, str] | None = {"$orderby": "phenomenonTime desc", "$top": str(self.top)}
        last = self.last_seen.get(datastream)
        if last is not None:
            params["$filter"] = f"phenomenonTime gt {iso_z(last)}"
        out: list[EnvironmentReading] = []
        newest = last
        pages: set[str] = set()
        ids: set[str] = set()
        values: dict[datetime, object] = {}  # result per time read in this poll
        for _ in range(self.max_pages):
            page = requests.Request("GET", url, params=params).prepare().url or url
            if page in pages:
                break  # a nextLink back to a page already read
            pages.add(page)
            body = self.client.get_json(url, params=params)
            items = body.get("value") if isinstance(body, dict) else None
            if not isinstance(items, list):
                self.reject_once(page, f"no 'value' list in the answer from {url}", json.dumps(body)[:65536])
                break
            fresh = 0
            for item in items:
                if isinstance(item, dict) and "@iot.id" in item:
                    key = json.dumps(item["@iot.id"], default=str)[:256]
                    if key in ids:
                        continue  # already read in this poll (pages that overlap or repeat)
                    ids.add(key)
                fresh += 1
                try:
                    if not isinstance(item, dict):
                        raise BadRecord(f"observation is not an object: {type(item).__name__}")
                    when = parse_time(item.get("phenomenonTime"))
                    self.checks.check_time(when, now)  # before newest moves
                    if last is not None and when <= last:
                        continue  # already seen (a server that ignores $filter)
                    result = item.get("result")
                    if when in values:
                        if values[when] != result:
                            raise BadRecord(
                                f"result {result!r} conflicts with {values[when]!r} at the same time"
                            )
                        continue  # the same observation again
                    values[when] = result
                    newest = when if newest is None else max(newest, when)
                    out.append(
                        self.checks.reading(
                            time=when,
                            station=target.station,
                            metric=target.metric,
                            value=result,
                            unit=target.unit,
                            received=now,
                        )
                    )
                except BadRecord as exc:
                    payload = json.dumps(item, default=str)
                    self.reject_once((datastream, fingerprint(payload)), f"{url}: {exc}", payload)
            link = body.get("@iot.nextLink")
            if last is None or len(items) < self.top or not isinstance(link, str) or not fresh:
                break  # first poll: the newest page is enough; later: stop once a page is not full
            url, params = urljoin(url, link), None
        if newest is not None:  # bad observations are passed too: rejected once, not every poll
            self.last_seen[datastream] = newest
        return out


class SensorThingsOptions(BaseModel):
    """``[feeds.options]`` of a ``sensorthings`` feed."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=1)
    datastreams: dict[str, Target] = Field(min_length=1)
    top: int = Field(default=100, ge=1, le=10_000)
    poll_seconds: float = Field(default=60.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_pages: int = Field(default=10, ge=1)
    headers: dict[str, str] = Field(default_factory=dict)


def from_feed(
    feed: FeedSettings, settings: Settings, samples_dir: Path, now: Clock = utc_now
) -> SensorThingsSource:
    """A :class:`SensorThingsSource` from a feed's options."""
    options = feed_options(SensorThingsOptions, feed)
    check_stations(feed, settings, (t.station for t in options.datastreams.values()))
    return SensorThingsSource(
        options.base_url,
        dict(options.datastreams),
        top=options.top,
        poll_seconds=options.poll_seconds,
        timeout_seconds=options.timeout_seconds,
        max_pages=options.max_pages,
        headers=options.headers,
        name=feed.name,
        now=now,
        checks=ReadingChecks.from_settings(settings),
    )
