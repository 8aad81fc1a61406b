"""Poll an OGC SensorThings API (v1.0/v1.1) for new Observations of mapped Datastreams.

``GET {base_url}/Datastreams({id})/Observations?$orderby=phenomenonTime desc&$top=N`` on the first
poll (the newest ``top``); once something has been seen, ``$orderby=phenomenonTime asc`` with
``$filter=phenomenonTime gt <last seen>``, following ``@iot.nextLink`` (up to ``max_pages``) while
pages come back full. The answer is ``{"value": [{"phenomenonTime": ..., "result": ...}, ...],
"@iot.nextLink": ...}``; readings are emitted oldest first. Paging oldest first, the last time seen
moves only to the newest observation actually read: a burst longer than ``max_pages`` pages is
not lost but read on the following polls, and each such poll is counted as a truncation
(:meth:`SensorThingsSource.take_truncations`, the worker's ``truncated``). Observations not newer
than the last one seen are not emitted again, even when a server ignores ``$filter``; a server
seen ignoring it is asked newest first from then on (paging stops at the first page that
reaches what was seen); there, or with a server that does not sort oldest first, paging cut
short may lose observations: it is counted as a truncation and reported as an error. A
``phenomenonTime`` interval ``start/end`` counts at its end.

Within one poll a page is read once and an observation (``@iot.id``) counted once, so a
``nextLink`` that loops back ends the paging; a different result at a time already read in that
poll is a conflict (a dead letter). Observations that fail the checks (a time far in the
future...) are dead-lettered once, not on every poll. Requests go to the ``base_url`` origin only,
with the configured ``headers`` (credentials): a ``nextLink`` (or a redirect) to another scheme,
host or port is refused, as is a ``nextLink`` that is not a usable URL. A datastream whose answer
is unusable is an error (and a dead letter when there is a body) for that datastream only; the
pages already read of it, and the other datastreams' readings, are still returned.
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
        self.truncations = 0  # polls that left new observations unread (since the start)
        self._truncated = 0  # ... since the last take_truncations()
        self._unfiltered: set[int | str] = set()  # datastreams whose server ignores $filter
        self._next_poll = now()

    def take_truncations(self) -> int:
        """Polls of a datastream that left new observations unread (``max_pages`` reached, or a failed
        page where some may be lost) since the last call (and forget them)."""
        out, self._truncated = self._truncated, 0
        return out

    def due(self, now: datetime) -> list[EnvironmentReading]:
        """Poll every datastream if the interval has passed; new readings, oldest first."""
        if now < self._next_poll:
            return []
        out: list[EnvironmentReading] = []
        failed = False
        for datastream, target in self.datastreams.items():
            try:
                self._poll(datastream, target, now, out)
            except SourceUnavailable as exc:
                self.unavailable(exc)
                failed = True
                if exc.retry_after is not None:
                    break  # the server asked us to wait: not the next datastream either
            except BadPayload as exc:
                self.reject(str(exc), exc.payload)
                self.error(str(exc))
                failed = True
            except Exception as exc:  # a bug must not cost the other datastreams their readings
                log.exception("%s: polling %s failed", self.name, datastream_path(datastream))
                self.error(f"{type(exc).__name__} polling {datastream_path(datastream)}: {exc}")
                failed = True
        if not failed:  # on failure the worker's backoff decides when to try again
            self._next_poll = now + timedelta(seconds=self.poll_seconds)
        out.sort(key=lambda r: r.time)
        return out

    def _poll(
        self, datastream: int | str, target: Target, now: datetime, out: list[EnvironmentReading]
    ) -> None:
        """New observations of one datastream into ``out``, following ``@iot.nextLink`` while pages
        are full. What was read before a failure is kept (and the last time seen moved to it)."""
        url = f"{self.base_url}/{datastream_path(datastream)}/Observations"
        last = self.last_seen.get(datastream)
        ascending = last is not None and datastream not in self._unfiltered
        params: dict[str, str] | None = {
            "$orderby": f"phenomenonTime {'asc' if ascending else 'desc'}",
            "$top": str(self.top),
        }
        floor = None  # what the filter keeps out: the last time seen, to the millisecond
        if last is not None:
            params["$filter"] = f"phenomenonTime gt {iso_z(last)}"
            floor = last.replace(microsecond=last.microsecond // 1000 * 1000)
        read: list[EnvironmentReading] = []
        newest = last
        in_order = True  # the new observations came oldest first
        previous: datetime | None = None
        complete = False  # paging ended on its own (not by max_pages or a failure)
        capped = False
        pages: set[str] = set()
        ids: set[str] = set()
        values: dict[datetime, object] = {}  # result per time read in this poll
        page = self._page_url(url, params)
        try:
            for number in range(self.max_pages):
                if page in pages:
                    complete = True
                    break  # a nextLink back to a page already read
                pages.add(page)
                body = self.client.get_json(url, params=params)
                items = body.get("value") if isinstance(body, dict) else None
                if not isinstance(items, list):
                    self.reject_once(
                        page, f"no 'value' list in the answer from {url}", json.dumps(body)[:65536]
                    )
                    complete = True
                    break
                fresh = 0
                stale = False
                for item in items:
                    if isinstance(item, dict) and "@iot.id" in item:
                        key = json.dumps(item["@iot.id"], default=str)[:256]
                        if key in ids:
                            continue  # already read in this poll (pages that overlap or repeat)
                        ids.add(key)
                    fresh += 1
                    passed = None  # the time of an observation read (good or rejected for its value)
                    try:
                        if not isinstance(item, dict):
                            raise BadRecord(f"observation is not an object: {type(item).__name__}")
                        when = parse_time(item.get("phenomenonTime"))
                        self.checks.check_time(when, now)  # before newest moves
                        if last is not None and when <= last:
                            stale = True
                            if floor is not None and when <= floor:
                                self._unfiltered.add(datastream)  # the server ignored $filter
                            continue  # already seen
                        if previous is not None and when < previous:
                            in_order = False
                        previous = when
                        result = item.get("result")
                        if when in values:
                            if values[when] != result:
                                raise BadRecord(
                                    f"result {result!r} conflicts with {values[when]!r} at the same time"
                                )
                            continue  # the same observation again
                        values[when] = result
                        passed = when
                        read.append(
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
                    if passed is not None:  # bad values too: rejected once, not every poll
                        newest = passed if newest is None else max(newest, passed)
                link = body.get("@iot.nextLink")
                if last is None or len(items) < self.top or not isinstance(link, str) or not fresh:
                    complete = True
                    break  # first poll: the newest page is enough; later: stop once a page is not full
                if stale and not ascending:
                    complete = True
                    break  # newest first: the next pages are older still
                if number == self.max_pages - 1:
                    capped = True
                    break
                url, params = self._next_link(url, link), None
                page = url
        finally:
            if newest is not None:  # up to what was read: published, or rejected for its value
                self.last_seen[datastream] = newest
            out.extend(read)
            lossless = ascending and in_order  # what was read is all there was up to its newest
            if not complete and newest != last and (capped or not lossless):
                self._truncation(datastream, capped, lossless)

    def _truncation(self, datastream: int | str, capped: bool, lossless: bool) -> None:
        """Count a poll that left new observations unread; an error where some may be lost for good."""
        self.truncations += 1
        self._truncated += 1
        where = f"{self.base_url}/{datastream_path(datastream)}"
        stop = f"after {self.max_pages} pages" if capped else "at a failed page"
        if lossless:
            log.warning("%s: %s: paging stopped %s; the newer observations come on the next poll",
                        self.name, where, stop)
        else:
            self.error(
                f"{where}: paging stopped {stop} and the pages were not oldest first: "
                "observations older than those read may be lost"
            )

    @staticmethod
    def _page_url(url: str, params: dict[str, str] | None) -> str:
        """The full URL of a page (with its query): how a page read before is recognised."""
        return requests.Request("GET", url, params=params).prepare().url or url

    def _next_link(self, url: str, link: str) -> str:
        """The absolute URL of a ``nextLink``; :class:`BadPayload` if it is not a usable URL."""
        try:
            return self._page_url(urljoin(url, link), None)
        except (ValueError, requests.RequestException) as exc:  # "http://[::1/x", "http://"
            reason = f"@iot.nextLink from {url} is not a usable URL: {str(exc)[:200]}"
            raise BadPayload(reason, json.dumps({"@iot.nextLink": link})) from None


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
