"""Replay of a recorded day at full speed, against the live rate of the same events, and its daily report.

A SIMULATED day: the Huế fleet simulator scaled up (``--vessels`` boats reporting every
``--report-seconds``) and environment stations reporting every minute, written as a recording
(one file per feed and hour), then replayed through the Huế rules into a replay database at
``--speed max``. The live rate of the same events is their count over the 86,400 s of the day;
the ratio is how many days the replay gets through per day. Then the daily report of that day
(figures, HTML, PDF) is made on the replay database.

    .venv/bin/python -m bench.replay_day                      # about 5 million records
    .venv/bin/python -m bench.replay_day --vessels 60         # a quick run
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import machine, private_store
from dashboards.reports.figures import gather
from dashboards.reports.pdf import html_to_pdf
from dashboards.reports.render import render_html
from ingest.vessels.simulator import FleetSimulator
from ioc.app.replay import replay_database, run_replay
from ioc.config import load_settings
from ioc.events import Event
from ioc.feeds.environment.records import EnvironmentReading
from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.recording import read_recording, write_recording

DAY = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # midnight in Huế
METRICS = {"co2": (600, 400), "temperature": (27, 4), "relative_humidity": (80, 10),
           "pm25": (30, 20), "water_flow": (12, 6), "illuminance": (300, 300)}


def vessels(count: int, report_seconds: int) -> Iterator[tuple[str, Event]]:
    sim = FleetSimulator(DAY, vessels=count, report_seconds=report_seconds,
                         moored_report_seconds=max(report_seconds, 60))
    for when, f in sim.messages(DAY + timedelta(days=1)):
        if f["type"] == 5:
            yield "vessels", VesselStatic(time=when, source_id=str(f["mmsi"]), mmsi=f["mmsi"],
                                          name=f["shipname"], callsign=f["callsign"], ship_type=30,
                                          simulated=True)
        else:
            yield "vessels", VesselPosition(
                time=when, source_id=str(f["mmsi"]), mmsi=f["mmsi"], lat=f["lat"], lon=f["lon"],
                sog=f["speed"], cog=f["course"] % 360, heading=None if f["heading"] == 511 else f["heading"],
                nav_status=f["status"], msg_type=1, simulated=True)


def readings(stations: list[str]) -> Iterator[tuple[str, Event]]:
    for minute in range(24 * 60):
        when = DAY + timedelta(minutes=minute)
        for i, station in enumerate(stations):
            for metric, (mean, swing) in METRICS.items():
                value = mean + swing * math.sin(2 * math.pi * (minute / 1440 + i / 7))
                yield "environment", EnvironmentReading(time=when, source_id=station, metric=metric,
                                                        value=round(max(0.0, value), 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vessels", type=int, default=550)
    parser.add_argument("--report-seconds", type=int, default=10)
    args = parser.parse_args()
    settings = load_settings()
    stations = [s.id for s in settings.stations]
    with tempfile.TemporaryDirectory(prefix="ioc-replay-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "recording"
        t = time.perf_counter()
        files = write_recording(root, vessels(args.vessels, args.report_seconds), ordered=True)
        files += write_recording(root, readings(stations), ordered=True)
        write_s = time.perf_counter() - t
        total = sum(f.records for f in files)
        size = sum((root / f.path).stat().st_size for f in files)
        print(f"machine: {machine()}")
        print(f"recorded day: {total:,} records in {len(files)} hour files, {size / 2**20:.0f} MiB, "
              f"written in {write_s:.0f} s")
        with private_store(timescaledb=False) as server:
            with replay_database(server.dsn) as replay:
                stream = (r for _, r in read_recording(root, DAY, DAY + timedelta(days=1)))
                run = run_replay(stream, settings, replay.pool)
                live_rate = total / 86_400
                print(f"replay --speed max: {run.events:,} records in {run.wall_s:.0f} s = "
                      f"{run.rate:,.0f} records/s; live rate of the same day {live_rate:,.1f} records/s; "
                      f"ratio {run.rate / live_rate:,.0f}x ({86_400 / run.wall_s:,.0f} days per day); "
                      f"{run.signals} signals, {len(run.alerts)} alerts")
                t = time.perf_counter()
                figures = gather(replay.pool, DAY, DAY + timedelta(days=1))
                html = render_html("daily", figures, "vi", settings.timezone, settings.city, simulated=True)
                html_s = time.perf_counter() - t
                pdf = html_to_pdf(html)
                report_s = time.perf_counter() - t
                print(f"daily report of that day: figures + HTML {html_s:.2f} s, with the PDF "
                      f"({len(pdf) / 1024:.0f} KiB) {report_s:.1f} s (target < 30 s)")


if __name__ == "__main__":
    main()
