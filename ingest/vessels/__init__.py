"""Vessel feed: AIS NMEA 0183 from a file, a TCP stream, UDP datagrams or the simulated fleet.

:mod:`.nmea` decodes lines into :class:`~ioc.feeds.vessels.records.VesselPosition` /
:class:`~ioc.feeds.vessels.records.VesselStatic` records (or counted ignores, or dead letters with a reason);
:mod:`.sources` reads lines; :mod:`.simulator` makes a simulated fleet speak real AIS;
:class:`~ingest.vessels.worker.VesselWorker` publishes what a source yields.

:func:`build_worker` builds the worker of one ``[[feeds]]`` entry; its ``kind`` picks the
source and ``options`` are checked by that kind's options model (unknown keys refused)::

    [[feeds]]
    name = "ais-hue"
    kind = "ais_tcp"            # ais_file | ais_tcp | ais_udp | ais_simulator
    [feeds.options]
    host = "10.0.0.5"
    port = 4001
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.bus.base import Publisher
from ioc.config import FeedSettings
from ioc.feeds.vessels.records import StormWarning
from ioc.time_zones import TimeZoneName

from .nmea import AisDecoder, DeadLetter, DecodeStats, TooLong, VesselRecord
from .simulator import FleetSimulator, SimulatedFleetSource
from .sources import Clock, FileSource, LineSource, TcpSource, UdpSource, utc_now
from .worker import VesselWorker


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_line_bytes: int = Field(default=1024, ge=82, le=1 << 20)
    fragment_timeout_seconds: float = Field(default=10.0, gt=0)
    max_future_minutes: float | None = Field(default=5.0, ge=0)
    log_timezone: TimeZoneName = "UTC"
    """Zone of the times a logger wrote before each line without a zone of their own (gpsd's
    ``gpspipe -t`` writes the logging machine's local time, ``-Z`` UTC)."""


class FileOptions(_Options):
    """``kind = "ais_file"``: a recorded log, path relative to the sample streams folder."""

    path: str
    speed: float | None = Field(default=None, gt=0)
    loop: bool = False


class TcpOptions(_Options):
    """``kind = "ais_tcp"``: a TCP client of an AIS receiver or aggregator."""

    host: str
    port: int = Field(ge=1, le=65535)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=1.0, gt=0)
    backoff_initial: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)


class UdpOptions(_Options):
    """``kind = "ais_udp"``: a UDP listener (bind address and port)."""

    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    read_timeout: float = Field(default=1.0, gt=0)


class SimulatorOptions(_Options):
    """``kind = "ais_simulator"``: the SIMULATED fleet, starting at the current time."""

    vessels: int = Field(default=40, ge=6, le=5000)
    seed: int = 1
    speed: float = Field(default=1.0, gt=0)
    report_seconds: int = Field(default=60, ge=1)
    hours: float = Field(default=14.0, gt=0)
    loop: bool = True
    backfill_hours: float = Field(default=0.0, ge=0)  # scenario history played at once on start


OPTIONS: dict[str, type[_Options]] = {
    "ais_file": FileOptions,
    "ais_tcp": TcpOptions,
    "ais_udp": UdpOptions,
    "ais_simulator": SimulatorOptions,
}
KINDS: frozenset[str] = frozenset(OPTIONS)


class FeedConfigError(ValueError):
    """A vessel feed's kind or options are invalid."""


def feed_options(feed: FeedSettings) -> _Options:
    """The checked options of a vessel feed."""
    model = OPTIONS.get(feed.kind)
    if model is None:
        raise FeedConfigError(
            f"feed {feed.name!r}: unknown vessel feed kind {feed.kind!r} (known: {sorted(KINDS)})"
        )
    try:
        return model.model_validate(feed.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise FeedConfigError(f"feed {feed.name!r} ({feed.kind}): {where}: {first['msg']}") from None


def build_source(feed: FeedSettings, samples_dir: Path, clock: Clock = utc_now) -> LineSource:
    """The line source of one vessel feed."""
    options = feed_options(feed)
    if isinstance(options, FileOptions):
        return FileSource(
            Path(samples_dir) / options.path,
            name=feed.name,
            speed=options.speed,
            loop=options.loop,
            clock=clock,
        )
    if isinstance(options, TcpOptions):
        return TcpSource(
            options.host,
            options.port,
            name=feed.name,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            backoff_initial=options.backoff_initial,
            backoff_max=options.backoff_max,
            clock=clock,
        )
    if isinstance(options, UdpOptions):
        return UdpSource(
            options.host, options.port, name=feed.name, read_timeout=options.read_timeout, clock=clock
        )
    assert isinstance(options, SimulatorOptions)
    backfill = timedelta(hours=options.backfill_hours)
    simulator = FleetSimulator(
        clock() - backfill, vessels=options.vessels, seed=options.seed, report_seconds=options.report_seconds
    )
    return SimulatedFleetSource(
        simulator, speed=options.speed, hours=options.hours, loop=options.loop, name=feed.name,
        head_start=backfill,
    )


def build_worker(
    feed: FeedSettings,
    publisher: Publisher,
    samples_dir: Path,
    clock: Clock = utc_now,
    **worker_options: Any,
) -> VesselWorker:
    """The worker of one vessel feed (records of ``ais_simulator`` are marked simulated)."""
    options = feed_options(feed)
    future = options.max_future_minutes
    decoder = AisDecoder(
        simulated=feed.kind == "ais_simulator",
        max_line_bytes=options.max_line_bytes,
        fragment_timeout=timedelta(seconds=options.fragment_timeout_seconds),
        max_future=None if future is None else timedelta(minutes=future),
        log_timezone=ZoneInfo(options.log_timezone),
    )
    source = build_source(feed, samples_dir, clock)
    worker = VesselWorker(source, publisher, feed=feed.name, decoder=decoder, clock=clock, **worker_options)
    if isinstance(source, SimulatedFleetSource):  # the scenario's (simulated) storm warning
        worker.announce([StormWarning(**w) for w in source.simulator.storm_warnings()])
    return worker


__all__ = [
    "KINDS",
    "OPTIONS",
    "AisDecoder",
    "DeadLetter",
    "DecodeStats",
    "FeedConfigError",
    "FileSource",
    "FleetSimulator",
    "LineSource",
    "SimulatedFleetSource",
    "TcpSource",
    "TooLong",
    "UdpSource",
    "VesselRecord",
    "VesselWorker",
    "build_source",
    "build_worker",
    "feed_options",
]
