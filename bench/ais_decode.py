"""Benchmark: AIS decoding plus every vessel rule, on one core, against pyais's raw decode rate.

The corpus is the simulated fleet (``--vessels`` boats reporting every ``--report-seconds``
for ``--hours``, type 1 positions and two-part type 5 statics with tag blocks) followed by the
two real sample logs (gpsd's and aisdb's: other NMEA sentences, other AIS types, multi-part
messages, unusable positions). The rules run with ``--zones`` zones: the sample zones of Huế
plus generated polygons (no-fishing, protected, storm-ban and port areas) scattered over the
fleet's waters, and one storm warning in force.

Three rates are measured on the same lines, in the same run:

* ``pyais``: ``pyais.stream.IterMessages`` + ``decode()`` (pyais's own reassembly), nothing else;
* ``decode``: :class:`ingest.vessels.nmea.AisDecoder` (checks, tag-block time, validated
  ``VesselPosition`` / ``VesselStatic`` records, dead letters);
* ``decode + rules``: the decoder and the five rules (zone dwell, AIS gap, loitering,
  encounter, storm ban): ``--batch`` lines (500) decoded, then their positions observed and the
  rules advanced, as the ingest worker and the detector runner take turns; the rules
  behind one shared per-vessel reorder queue (:class:`detectors.vessels.ruleset.VesselRuleSet`,
  what the registry builds);
* ``decode + rules apart``: the same with each rule ordering its own positions (before the set).

Each path's time is its best wall-clock time and its best CPU time (``time.process_time``):
on a machine shared with other work the CPU time is the steadier figure.

Usage: ``.venv/bin/python bench/ais_decode.py [--vessels 200] [--hours 1] [--zones 50]``.
It prints the details and one markdown table row.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyais.stream import IterMessages  # noqa: E402
from shapely.geometry import Polygon  # noqa: E402

from detectors.vessels.ais_gap import AisGapDetector  # noqa: E402
from detectors.vessels.encounter import EncounterDetector  # noqa: E402
from detectors.vessels.loitering import LoiteringDetector  # noqa: E402
from detectors.vessels.ruleset import VesselRuleSet  # noqa: E402
from detectors.vessels.storm_ban import StormBanDetector  # noqa: E402
from detectors.vessels.zone_dwell import ZoneDwellDetector  # noqa: E402
from detectors.vessels.zones import Zone, ZoneIndex, load_zones  # noqa: E402
from ingest.vessels.nmea import AisDecoder  # noqa: E402
from ingest.vessels.simulator import FleetSimulator  # noqa: E402
from ioc.feeds.vessels.records import VesselPosition  # noqa: E402

SAMPLES = ROOT / "sample_streams" / "vessels"
BATCH = 500  # lines decoded before their positions go to the rules (a detector runner's poll)
START = datetime(2025, 9, 1, tzinfo=UTC)


def corpus(vessels: int, hours: float, report_seconds: int) -> list[tuple[bytes, datetime]]:
    """(line, receive time) of the simulated fleet, then of the two real logs."""
    sim = FleetSimulator(START, vessels=vessels, report_seconds=report_seconds, seed=3)
    begin = START + timedelta(hours=1.5)  # most boats have left port by then
    lines = [
        (line.encode("ascii"), when) for when, line in sim.sentences(begin + timedelta(hours=hours), begin)
    ]
    end = lines[-1][1]
    for name in ("ais-nmea.log", "test_data_20211101.nm4"):
        lines += [(line, end) for line in (SAMPLES / name).read_bytes().splitlines()]
    return lines


def bench_zones(count: int, seed: int = 50) -> ZoneIndex:
    """The sample zones of Huế plus generated ones, ``count`` in all."""
    base = load_zones(SAMPLES / "hue-zones.geojson").zones
    rng = random.Random(seed)
    kinds = ["no_fishing", "protected", "storm_ban", "port"]
    zones = list(base)
    for i in range(max(0, count - len(base))):
        lon, lat = rng.uniform(107.7, 108.3), rng.uniform(16.4, 16.9)
        radius = rng.uniform(0.01, 0.05)
        ring = [
            (
                lon + radius * (0.7 + 0.3 * rng.random()) * math.cos(2 * math.pi * k / 12),
                lat + radius * (0.7 + 0.3 * rng.random()) * math.sin(2 * math.pi * k / 12),
            )
            for k in range(12)
        ]
        kind = kinds[i % len(kinds)]
        zones.append(Zone(f"bench-{i:02d}", f"Bench zone {i}", kind, Polygon(ring)))
    return ZoneIndex(zones)


def rules(zones: ZoneIndex) -> list:
    storm = StormBanDetector(zones)
    storm.warn(
        {
            "time": START.isoformat(),
            "source_id": "bench",
            "warning_id": "bench-storm",
            "zone_id": "storm-ban-offshore",
            "valid_from": START.isoformat(),
            "valid_to": (START + timedelta(days=1)).isoformat(),
        }
    )
    return [
        ZoneDwellDetector(zones),
        AisGapDetector(zones),
        LoiteringDetector(zones),
        EncounterDetector(zones),
        storm,
    ]


Times = tuple[float, float]  # (wall-clock s, CPU s)


def _clock() -> Times:
    return time.perf_counter(), time.process_time()


def _since(start: Times) -> Times:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def run_pyais(lines: list[bytes]) -> tuple[Times, int]:
    decoded = 0
    t0 = _clock()
    for message in IterMessages(lines):
        try:
            message.decode()
            decoded += 1
        except Exception:  # noqa: BLE001 - pyais raises on what it cannot decode
            pass
    return _since(t0), decoded


def run_decoder(lines: list[tuple[bytes, datetime]]) -> tuple[Times, AisDecoder]:
    decoder = AisDecoder()
    t0 = _clock()
    for line, received in lines:
        decoder.feed(line, received)
    decoder.flush(lines[-1][1])
    return _since(t0), decoder


def run_rules(
    lines: list[tuple[bytes, datetime]], zones: ZoneIndex, shared: bool = True, batch: int = BATCH
) -> tuple[Times, AisDecoder, Counter[str]]:
    """Decode ``batch`` lines, hand their positions to the rules, advance them; again to the end.

    As the system runs: the ingest worker decodes what it read and publishes it, the detector
    runner polls a batch from the bus, observes each record, then advances the rules' clocks.
    ``batch=1`` interleaves the two line by line (no process does that; it costs a third more
    here, the decoder's and the rules' working sets taking turns in the CPU's caches).
    """
    decoder = AisDecoder()
    detectors = [VesselRuleSet(rules(zones), plain_positions=True)] if shared else rules(zones)
    signals: Counter[str] = Counter()
    latest: datetime | None = None
    t0 = _clock()
    feed = decoder.feed
    for start in range(0, len(lines), batch):
        records: list = []
        for line, received in lines[start : start + batch]:
            records += feed(line, received)
        for record in records:
            if isinstance(record, VesselPosition):
                for detector in detectors:
                    for signal in detector.observe(record):
                        signals[signal.detector] += 1
                if latest is None or record.time > latest:
                    latest = record.time
        if latest is not None:
            for detector in detectors:
                for signal in detector.advance(latest):
                    signals[signal.detector] += 1
    decoder.flush(lines[-1][1])
    if latest is not None:
        for detector in detectors:
            for signal in detector.advance(latest):
                signals[signal.detector] += 1
    return _since(t0), decoder, signals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vessels", type=int, default=200)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--report-seconds", type=int, default=10)
    parser.add_argument("--zones", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--batch", type=int, default=BATCH,
                        help="lines decoded before their positions go to the rules (1: line by line)")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (Linux)")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    t0 = time.perf_counter()
    lines = corpus(args.vessels, args.hours, args.report_seconds)
    zones = bench_zones(args.zones)
    raw = [line for line, _ in lines]
    print(
        f"corpus: {len(lines):,} lines ({args.vessels} simulated vessels, {args.hours:g} h, "
        f"+ 2 real logs), {len(zones)} zones, built in {time.perf_counter() - t0:.1f} s"
    )

    best: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def keep(name: str, took: Times) -> None:
        best[name] = min(best.get(name, math.inf), took[0])
        cpu[name] = min(cpu.get(name, math.inf), took[1])

    decoder: AisDecoder | None = None
    signals: Counter[str] = Counter()
    apart: Counter[str] = Counter()
    for _ in range(args.repeat):
        gc.collect()
        took, pyais_messages = run_pyais(raw)
        keep("pyais", took)
        gc.collect()
        took, decoder = run_decoder(lines)
        keep("decode", took)
        gc.collect()
        took, _, signals = run_rules(lines, zones, batch=args.batch)
        keep("rules", took)
        gc.collect()
        took, _, apart = run_rules(lines, zones, shared=False, batch=args.batch)
        keep("apart", took)
    assert decoder is not None
    assert signals == apart, (signals, apart)  # one queue or five, the same decisions
    stats = decoder.stats
    n = len(lines)
    rate = {k: n / v for k, v in best.items()}
    cpu_rate = {k: n / v for k, v in cpu.items()}
    what = {
        "pyais": f"pyais IterMessages+decode ({pyais_messages:,} messages)",
        "decode": f"AisDecoder ({stats.positions:,} positions, {stats.statics:,} statics, "
                  f"{stats.dead_letters} dead letters, {stats.lines_ignored:,} ignored)",
        "rules": f"AisDecoder + 5 rules, one queue (signals: {dict(sorted(signals.items()))})",
        "apart": "AisDecoder + 5 rules apart",
    }
    for key, text in what.items():
        print(f"{best[key]:6.2f} s wall {rate[key]:>9,.0f} lines/s | {cpu[key]:6.2f} s CPU "
              f"{cpu_rate[key]:>9,.0f} lines/s | {text}")
    print()
    print("| date | machine | python | lines | vessels | zones | clock | pyais raw (lines/s) "
          "| decode (lines/s) | decode + 5 rules, one queue (lines/s) | ratio to pyais "
          "| decode + 5 rules apart | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for clock, r in (("wall", rate), ("CPU", cpu_rate)):
        print(
            f"| {datetime.now(UTC):%Y-%m-%d} | {platform.machine()} {os.cpu_count()} cpu | "
            f"{platform.python_version()} | {n:,} | {args.vessels} | {len(zones)} | {clock} | "
            f"{r['pyais']:,.0f} | {r['decode']:,.0f} | {r['rules']:,.0f} | {r['rules'] / r['pyais']:.1%} | "
            f"{r['apart']:,.0f} | {r['apart'] / r['pyais']:.1%} |"
        )


if __name__ == "__main__":
    main()
