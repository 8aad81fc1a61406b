"""A year of simulated city data written server-side (``INSERT ... SELECT`` over ``generate_series``).

Used by ``bench/year_store.py``. Every table is filled one time slice (default 30 days) at a
time, oldest first, so progress prints and a deadline can stop the load early (the store then
holds the newest ``span - stopped`` days less: the slices written are kept and reported).

* readings: ``stations`` x 4 metrics, one a minute (50 x 4 x 525,600 = 105 M a year);
* vessel positions: ``vessels`` vessels, one report every ``vessel_step`` (2,000 every 15 min
  = 70 M a year), each sailing a loop of 2-13 km radius round its own point between 10 and
  60 km off Huế's coast (16.6-17.1 N, 107.8-108.4 E), course and speed from the loop;
* camera counts: per configured camera, two labels, one 1-minute bucket a minute;
* alerts: ``alerts`` a year spread evenly, all resolved but those of the last two days (5 %
  acknowledged, 2 % open),
  from the environment, vessel and camera detectors;
* the derived rows the writer keeps: latest readings and positions, the vessel register,
  stored counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

METRICS = (("pm25", "µg/m³", 25.0, 15.0), ("pm10", "µg/m³", 45.0, 20.0), ("temperature", "°C", 27.0, 5.0),
           ("humidity", "%", 78.0, 12.0))

_READINGS = """
INSERT INTO readings (time, station_id, metric, value, unit, quality)
SELECT t, 'hue-st-' || lpad(s::text, 2, '0'), m.metric,
       round((m.base + m.amp * sin(extract(epoch FROM t) / 86400 * 2 * pi() + s)
              + m.amp * 0.3 * sin(extract(epoch FROM t) / 3700 + s * 7))::numeric, 2)::float8,
       m.unit, 'good'
FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 minute', interval '1 minute') t,
     generate_series(0, %(stations)s - 1) s,
     (VALUES {metrics}) m(metric, unit, base, amp)
"""

_POSITIONS = """
INSERT INTO vessel_positions (time, mmsi, lat, lon, sog, cog, heading, nav_status, msg_type, simulated)
SELECT t, 574000000 + v.v,
       v.blat + v.r * sin(p.ph), v.blon + v.r * cos(p.ph) / cos(radians(v.blat)),
       v.sog, p.cog, p.cog::int %% 360, CASE WHEN v.sog < 5 THEN 7 ELSE 0 END, 1, true
FROM (SELECT v, 16.6 + 0.5 * ((v * 7919) %% 1000) / 1000.0 AS blat,
             107.8 + 0.6 * ((v * 104729) %% 1000) / 1000.0 AS blon,
             0.02 + 0.1 * ((v * 31) %% 100) / 100.0 AS r,
             6 + v %% 20 AS period_h
      FROM generate_series(0, %(vessels)s - 1) v) v0
CROSS JOIN LATERAL (SELECT v0.*,
       round((v0.r * 111.0 * 2 * pi() / v0.period_h / 1.852)::numeric, 1)::real AS sog) v
CROSS JOIN generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 second',
                           %(step)s::interval) t
CROSS JOIN LATERAL (SELECT 2 * pi() * extract(epoch FROM t) / (v.period_h * 3600) + v.v AS ph) p0
CROSS JOIN LATERAL (SELECT p0.ph,
       round(((degrees(atan2(-sin(p0.ph), cos(p0.ph))) + 360)::numeric %% 360), 1)::real AS cog) p
"""

_CAMERA_COUNTS = """
INSERT INTO camera_counts_1m (bucket, camera_id, zone, label, frames, detections, max_count, avg_count,
                              objects)
SELECT t, c.id, '', l.label, 60, n * 60, n + 2, n, n * 3
FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 minute', interval '1 minute') t,
     unnest(%(cameras)s::text[]) c(id),
     (VALUES ('person'), ('motorcycle')) l(label),
     LATERAL (SELECT (4 + 3 * sin(extract(epoch FROM t) / 86400 * 2 * pi()))::int AS n) k
"""

_ALERTS = """
INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, state, started_at, first_seen,
                    last_seen, resolved_at, count, details, opened_at, closed_at, acknowledged_at,
                    acknowledged_by, resolved_by)
SELECT a.detector || ':' || a.source || ':' || i, a.detector, a.detector, a.source,
       (ARRAY['info', 'warning', 'critical'])[1 + i %% 3], a.detector || ' at ' || a.source,
       a.state, a.t, a.t, a.t + interval '20 minutes',
       CASE WHEN a.state = 'resolved' THEN a.t + interval '40 minutes' END, 1 + i %% 7,
       CASE WHEN a.detector LIKE 'vessel%%' THEN jsonb_build_object('mmsi', a.source::bigint)
            ELSE '{}'::jsonb END,
       a.t, CASE WHEN a.state = 'resolved' THEN a.t + interval '40 minutes' END,
       CASE WHEN a.state <> 'open' THEN a.t + interval '5 minutes' END,
       CASE WHEN a.state <> 'open' THEN 'operator' END,
       CASE WHEN a.state = 'resolved' THEN 'operator' END
FROM generate_series(%(first)s::bigint, %(last)s::bigint - 1) i
CROSS JOIN LATERAL (SELECT %(lo)s::timestamptz + (i - %(first)s) * %(gap)s::interval AS t) ti
CROSS JOIN LATERAL (
    SELECT ti.t,
           (ARRAY['threshold', 'rate_of_change', 'vessel_loitering', 'vessel_ais_gap', 'camera_crowd'])
               [1 + i %% 5] AS detector,
           CASE WHEN i %% 5 < 2 THEN 'hue-st-' || lpad((i %% %(stations)s)::text, 2, '0')
                WHEN i %% 5 < 4 THEN (574000000 + i %% %(vessels)s)::text
                ELSE %(camera)s END AS source,
           CASE WHEN ti.t > %(recent)s AND i %% 100 >= 98 THEN 'open'
                WHEN ti.t > %(recent)s AND i %% 100 >= 93 THEN 'acknowledged' ELSE 'resolved' END AS state) a
"""


@dataclass
class YearSpec:
    """What to generate: the span ending ``end`` and the sizes of each source."""

    end: datetime
    days: float
    stations: int = 50
    vessels: int = 2000
    vessel_step: timedelta = timedelta(minutes=15)
    alerts_per_year: int = 100_000
    cameras: list[str] = field(default_factory=list)
    slice_days: int = 30

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass
class Loaded:
    """What was written, how long it took, and where the load stopped if a deadline cut it short."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    start: datetime | None = None
    stopped_early: bool = False


def _slices(spec: YearSpec) -> list[tuple[datetime, datetime]]:
    """Time slices of ``slice_days``, newest first."""
    out = []
    hi = spec.end
    while hi > spec.start:
        lo = max(spec.start, hi - timedelta(days=spec.slice_days))
        out.append((lo, hi))
        hi = lo
    return out  # newest first: a load cut short still holds the most recent data the pages read


def load_year(conn: psycopg.Connection, spec: YearSpec, deadline: float,
              say: Callable[[str], None] = print) -> Loaded:
    """Fill the store for ``spec``, newest slice first, stopping before ``deadline`` (monotonic)."""
    conn.autocommit = True
    metrics = ", ".join(f"('{m}', '{u.replace('%', '%%')}', {b}, {a})" for m, u, b, a in METRICS)
    readings_sql = _READINGS.format(metrics=metrics)
    out = Loaded(start=spec.end)
    alerts_total = int(spec.alerts_per_year * spec.days / 365)
    gap = timedelta(days=spec.days) / max(1, alerts_total)
    recent_cut = spec.end - timedelta(days=2)  # only the last days' alerts are still open
    for n, (lo, hi) in enumerate(_slices(spec)):
        if time.monotonic() > deadline:
            out.stopped_early = True
            say(f"deadline reached: stopping with data from {out.start:%Y-%m-%d} on")
            break
        params = {"lo": lo, "hi": hi, "stations": spec.stations, "vessels": spec.vessels,
                  "step": spec.vessel_step, "cameras": spec.cameras}
        steps = (("readings", readings_sql, params), ("vessel_positions", _POSITIONS, params))
        if spec.cameras:
            steps += (("camera_counts_1m", _CAMERA_COUNTS, params),)
        first = int((lo - spec.start) / gap) if alerts_total else 0
        last = int((hi - spec.start) / gap) if alerts_total else 0
        if last > first:
            steps += (("alerts", _ALERTS, {
                "first": first, "last": last, "lo": spec.start + first * gap, "gap": gap,
                "stations": spec.stations, "vessels": spec.vessels,
                "camera": spec.cameras[0] if spec.cameras else "hue-cam-0", "recent": recent_cut}),)
        line = []
        for table, sql, p in steps:
            t = time.perf_counter()
            rows = conn.execute(sql, p).rowcount
            dt = time.perf_counter() - t
            out.rows[table] = out.rows.get(table, 0) + rows
            out.seconds[table] = out.seconds.get(table, 0.0) + dt
            line.append(f"{table} {rows:,} in {dt:.0f} s")
        out.start = lo
        say(f"slice {n + 1} {lo:%Y-%m-%d}..{hi:%Y-%m-%d}: " + "; ".join(line))
    _derived(conn, spec, out)
    return out


def _derived(conn: psycopg.Connection, spec: YearSpec, out: Loaded) -> None:
    """The rows the writer keeps beside the raw ones: latest values, register, counts, camera status."""
    conn.execute("""
        INSERT INTO latest_readings (station_id, metric, time, value, unit)
        SELECT DISTINCT ON (station_id, metric) station_id, metric, time, value, unit FROM readings
        WHERE time > %s - interval '1 hour' ORDER BY station_id, metric, time DESC
        ON CONFLICT (station_id, metric) DO NOTHING""", (spec.end,))
    conn.execute("""
        INSERT INTO vessel_latest (mmsi, time, lat, lon, sog, cog, heading, nav_status, simulated)
        SELECT DISTINCT ON (mmsi) mmsi, time, lat, lon, sog, cog, heading, nav_status, simulated
        FROM vessel_positions WHERE time > %s - interval '1 day' ORDER BY mmsi, time DESC
        ON CONFLICT (mmsi) DO NOTHING""", (spec.end,))
    conn.execute("""
        INSERT INTO vessels (mmsi, name, callsign, ship_type, length_m, beam_m, destination, simulated,
                             updated_at)
        SELECT 574000000 + v, 'TTH ' || (90000 + v) || ' TS', 'XV' || lpad(v::text, 4, '0'), 30,
               12 + v %% 13, 4 + v %% 4, 'THUAN AN', true, %s
        FROM generate_series(0, %s - 1) v ON CONFLICT (mmsi) DO NOTHING""", (spec.end, spec.vessels))
    for kind, n in (("environment.reading", out.rows.get("readings", 0)),
                    ("vessel.position", out.rows.get("vessel_positions", 0))):
        conn.execute("""INSERT INTO stored_counts (kind, n, last_write) VALUES (%s, %s, %s)
                        ON CONFLICT (kind) DO UPDATE SET n = excluded.n, last_write = excluded.last_write""",
                     (kind, n, spec.end))
    for cam in spec.cameras:
        conn.execute("""INSERT INTO camera_status (camera_id, time, connected, brightness, sharpness, change,
                            motion, fps_in, last_frame) VALUES (%s, %s, true, 0.5, 0.6, 0.01, 0.02, 5, %s)
                        ON CONFLICT (camera_id) DO NOTHING""", (cam, spec.end, spec.end))
