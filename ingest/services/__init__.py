"""Public-services ingest: ``[[feeds]]`` of kind ``services-http`` (the one-stop-shop API, polled) or
``services-csv`` (an export read once); ``options`` as :class:`ServicesFeedOptions`."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ingest.services.csv_import import read_csv_file, to_recent_weeks
from ingest.services.poller import DossierPoller
from ingest.services.worker import ServicesWorker
from ioc.bus.base import Publisher
from ioc.config import FeedSettings
from ioc.feeds.services.records import DossierEvent
from ioc.time_zones import TimeZoneName

KINDS: frozenset[str] = frozenset({"services-http", "services-csv"})


class ServicesFeedOptions(BaseModel):
    """``[feeds.options]`` of a services feed."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = None  # services-http: the dossier endpoint
    path: str | None = None  # services-csv: the export (relative paths from sample_streams/)
    #: services-csv: the export's character encoding. Excel's plain "CSV" on a Vietnamese Windows writes
    #: windows-1258 (its "CSV UTF-8" writes UTF-8 with a BOM, which is always read as such)
    encoding: str = "utf-8"
    interval_s: float = Field(default=60.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=5000)
    since: datetime | None = None
    api_key: str | None = None  # sent as X-API-Key
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"  # of times written without an offset
    simulated: bool = False
    #: services-csv of a SIMULATED sample only: move its times forward by whole weeks so its last week
    #: covers the start (weekdays and times of day kept), and publish what then lies ahead as its
    #: time comes, so the demo's pages show today and this month; real exports are never moved
    shift_to_recent: bool = False

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown character encoding {value!r}") from None

    @model_validator(mode="after")
    def _only_simulated_moves(self) -> ServicesFeedOptions:
        if self.shift_to_recent and not self.simulated:
            raise ValueError("shift_to_recent moves a SIMULATED sample's times: set simulated = true")
        return self


def feed_options(feed: FeedSettings) -> ServicesFeedOptions:
    try:
        options = ServicesFeedOptions.model_validate(feed.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(
            f"feed {feed.name!r}: options.{'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
    if feed.kind == "services-http" and options.url is None:
        raise ValueError(f"feed {feed.name!r}: a services-http feed needs options.url")
    if feed.kind == "services-csv" and not options.path:
        raise ValueError(f"feed {feed.name!r}: a services-csv feed needs options.path")
    return options


def build_worker(feed: FeedSettings, publisher: Publisher, samples_dir: Path) -> ServicesWorker:
    options = feed_options(feed)
    tz = ZoneInfo(options.timezone)
    if feed.kind == "services-http":
        poller = DossierPoller(
            str(options.url),
            source=feed.name,
            tz=tz,
            since=options.since,
            page_size=options.page_size,
            simulated=options.simulated,
            headers={"X-API-Key": options.api_key} if options.api_key else None,
        )
        return ServicesWorker(
            feed.name,
            poller.poll,
            publisher,
            interval=options.interval_s,
            status=lambda: {
                "cursor": poller.cursor,
                "failures": poller.failures,
                "poll_error": poller.last_error,
            },
        )
    path = Path(samples_dir) / str(options.path)

    def read() -> tuple[list[DossierEvent], list[tuple[str, str]]]:
        items = list(read_csv_file(path, source=feed.name, tz=tz, simulated=options.simulated,
                                   encoding=options.encoding))
        events = [i for i in items if isinstance(i, DossierEvent)]
        if options.shift_to_recent:
            events = to_recent_weeks(events, datetime.now(UTC))
        return events, [i for i in items if isinstance(i, tuple)]

    return ServicesWorker(feed.name, read, publisher, once=True, as_time_passes=options.shift_to_recent)


__all__ = ["KINDS", "ServicesFeedOptions", "ServicesWorker", "build_worker", "feed_options"]
