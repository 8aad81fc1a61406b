"""Build ``readings.csv``: real sensor series from the ``river`` wheel, mapped onto stations in Huế.

Sources (read from the installed ``river`` package, never downloaded):

* ``river/drift/datasets/occupancy.csv``: UCI Occupancy Detection (Candanedo & Feldheim 2016),
  one office room, every 16th sample kept by river; ``V1..V4`` are temperature (°C),
  relative humidity (%), light (lux) and CO2 (ppm), in the order river's ``Occupancy``
  docstring and the UCI file give them.
* ``river/datasets/water-flow.csv``: hourly water flow (l/s) of a pipeline branch, March to May
  2022, donated by Tecnojest s.r.l. to river.

Each series is cut into consecutive equal segments and each segment becomes one station. Values
are copied as text, unchanged; ``offset_s`` is the seconds since the segment's first sample, in the
original spacing (gaps kept). Run ``python sample_streams/environment/make_sample.py`` to rebuild;
``--check`` exits 1 when the committed file differs from a fresh build.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import sys
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "readings.csv"
HEADER = ("offset_s", "station_id", "metric", "value", "unit")

OCCUPANCY = "drift/datasets/occupancy.csv"
WATER_FLOW = "datasets/water-flow.csv"

# Column of the occupancy file -> (metric, unit).
OCCUPANCY_METRICS: dict[str, tuple[str, str]] = {
    "V1": ("temperature", "°C"),
    "V2": ("relative_humidity", "%"),
    "V3": ("illuminance", "lx"),
    "V4": ("co2", "ppm"),
}
# Segments in series order: first third, second third, last third.
AIR_STATIONS = ("hue-air-dainoi", "hue-air-dongba", "hue-air-truongtien")
# Segments in series order: first half, second half.
RIVER_STATIONS = ("hue-river-kimlong", "hue-river-truongtien")


def river_dir() -> Path:
    """Folder of the installed ``river`` package (without importing it: it is slow)."""
    spec = importlib.util.find_spec("river")
    if spec is None or spec.origin is None:
        raise SystemExit("the 'river' package is not installed: pip install river")
    return Path(spec.origin).parent


def river_version() -> str:
    """Installed version of ``river``."""
    from importlib.metadata import version

    return version("river")


def segments(n: int, parts: int) -> list[range]:
    """Split ``range(n)`` into ``parts`` consecutive ranges whose sizes differ by at most one."""
    out, start = [], 0
    for k in range(parts):
        size = n // parts + (1 if k < n % parts else 0)
        out.append(range(start, start + size))
        start += size
    return out


def _offsets(times: list[datetime]) -> list[int]:
    first = times[0]
    return [round((t - first).total_seconds()) for t in times]


def occupancy_rows(path: Path) -> list[tuple[int, str, str, str, str]]:
    """Rows of the three air stations."""
    with path.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    out = []
    for station, seg in zip(AIR_STATIONS, segments(len(records), len(AIR_STATIONS)), strict=True):
        part = [records[i] for i in seg]
        offsets = _offsets([datetime.strptime(r["time"], "%Y-%m-%d %H:%M:%S") for r in part])
        for offset, record in zip(offsets, part, strict=True):
            for column, (metric, unit) in OCCUPANCY_METRICS.items():
                out.append((offset, station, metric, record[column], unit))
    return out


def water_flow_rows(path: Path) -> list[tuple[int, str, str, str, str]]:
    """Rows of the two river gauges."""
    with path.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    out = []
    for station, seg in zip(RIVER_STATIONS, segments(len(records), len(RIVER_STATIONS)), strict=True):
        part = [records[i] for i in seg]
        offsets = _offsets([datetime.fromisoformat(r["Time"]) for r in part])
        for offset, record in zip(offsets, part, strict=True):
            out.append((offset, station, "water_flow", record["Water flow [l/s]"], "l/s"))
    return out


def build(base: Path | None = None) -> str:
    """The text of ``readings.csv``."""
    base = base or river_dir()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(occupancy_rows(base / OCCUPANCY))
    writer.writerows(water_flow_rows(base / WATER_FLOW))
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``readings.csv`` and print the provenance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args(argv)
    base = river_dir()
    text = build(base)
    print(f"river {river_version()} at {base}")
    for rel in (OCCUPANCY, WATER_FLOW):
        digest = hashlib.sha256((base / rel).read_bytes()).hexdigest()
        print(f"  river/{rel} sha256={digest}")
    if args.check:
        same = OUTPUT.is_file() and OUTPUT.read_text(encoding="utf-8") == text
        print("readings.csv is up to date" if same else "readings.csv differs from a fresh build")
        return 0 if same else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text.encode()):,} bytes, {text.count(chr(10)) - 1:,} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
