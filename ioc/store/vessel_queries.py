"""Read queries of the sea map: where every vessel is now, its recent track, one vessel in full.

Three questions, each one or two round trips, none scanning ``vessel_positions``
without a time bound (it is a hypertable on TimescaleDB, BRIN-indexed on plain
PostgreSQL; the same SQL runs at both capability levels):

* :func:`latest_vessels`: the newest position of each vessel seen recently (from
  ``vessel_latest``, one row per MMSI), its register entry and its open alerts.
  A vessel is "in alert" when an alert that is not resolved names it: by
  ``source_id`` (the vessel rules use the MMSI) or in ``details.mmsis`` (an
  encounter names both vessels).
* :func:`vessel_tracks`: every vessel's track over the last hours, **thinned in
  the database** to a point budget: the window is cut into equal time buckets
  per vessel and only the first position of each bucket, plus the vessel's last
  position, leaves the server; an optional Douglas-Peucker pass (shapely) then
  drops points that a straight line already draws. Each track keeps its first
  and last point.
* :func:`vessel_details`: one vessel's register entry, latest position and
  alerts, and its track at full resolution.

Every value from a caller travels as a ``%s`` parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from ioc.i18n import render

RECENT = timedelta(hours=12)  # a vessel whose newest position is older is not on the map
ALERT_HISTORY = timedelta(hours=24)  # resolved alerts of a vessel shown in its details
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
SEVERITIES = ("critical", "warning", "info", "unknown")  # by rank; index 3 = anything else
MAX_DETAIL_POINTS = 20_000


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class VesselNow:
    """A vessel as the sea map draws it: newest position, register entry, open alerts."""

    mmsi: int
    time: datetime
    lat: float
    lon: float
    sog: float | None
    cog: float | None
    heading: int | None
    nav_status: int | None
    simulated: bool
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    length_m: float | None = None
    beam_m: float | None = None
    destination: str | None = None
    alerts_open: int = 0
    alert_severity: str | None = None  # the worst open alert's severity
    alert_detectors: tuple[str, ...] = ()  # the rules of the open alerts, alphabetical
    alert_title: str | None = None  # the worst (then newest) open alert's title
    alert_title_template: str | None = None  # ... as a catalogue message, and its fields
    alert_title_params: dict[str, Any] = field(default_factory=dict)

    @property
    def in_alert(self) -> bool:
        return self.alerts_open > 0

    def alert_title_in(self, lang: str) -> str:
        """The worst open alert's title in ``lang`` ("" with none)."""
        return render("alerts", self.alert_title_template, self.alert_title_params, lang,
                      self.alert_title or "")

    @property
    def label(self) -> str:
        """The register name, or the MMSI when the vessel never sent one."""
        return (self.name or "").strip() or str(self.mmsi)

    @property
    def course(self) -> float | None:
        """Where the bow points: the true heading when reported, else the course over ground."""
        if self.heading is not None:
            return float(self.heading)
        return self.cog


@dataclass(frozen=True)
class SeaSnapshot:
    """Every recently seen vessel at one instant (``as_of``, the database's clock)."""

    as_of: datetime
    vessels: tuple[VesselNow, ...]


@dataclass(frozen=True)
class TrackLine:
    """One vessel's (thinned) track, oldest point first."""

    mmsi: int
    lons: tuple[float, ...]
    lats: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.lons)


@dataclass(frozen=True)
class Tracks:
    """The tracks of every vessel from ``since`` to ``until``, at most ``budget`` points in all."""

    since: datetime
    until: datetime
    budget: int
    buckets: int  # time buckets per vessel (the thinning's resolution)
    points_in_window: int | None  # positions stored in the window (only when asked for: it costs a scan)
    lines: tuple[TrackLine, ...]

    @property
    def points(self) -> int:
        return sum(len(line) for line in self.lines)


@dataclass(frozen=True)
class TrackPoint:
    """One stored position of one vessel."""

    time: datetime
    lat: float
    lon: float
    sog: float | None
    cog: float | None
    heading: int | None
    nav_status: int | None


@dataclass(frozen=True)
class VesselAlert:
    """An alert about a vessel, for its details panel."""

    id: int
    detector: str
    severity: str
    state: str
    title: str
    started_at: datetime
    last_seen: datetime
    resolved_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)
    title_template: str | None = None
    title_params: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state != "resolved"

    def title_in(self, lang: str) -> str:
        """The title in ``lang``: rendered from its template and fields, else the stored English."""
        return render("alerts", self.title_template, self.title_params, lang, self.title)


@dataclass(frozen=True)
class VesselDetails:
    """One vessel in full: what the map knows of it, its alerts and its full-resolution track."""

    as_of: datetime
    since: datetime
    vessel: VesselNow
    track: tuple[TrackPoint, ...]
    track_truncated: bool  # more than ``max_points`` positions in the window: the oldest were left out
    alerts: tuple[VesselAlert, ...]


# --------------------------------------------------------------------------- latest positions

# Open alerts per vessel named in them: by source_id (the vessel rules use the MMSI) or,
# for an encounter, in details.mmsis. ``state <> 'resolved'`` is the predicate of the
# partial unique index on alerts, so this reads only the active alerts.
_OPEN_ALERT_FLAGS = """
flags AS (
    SELECT x.mmsi,
           count(DISTINCT a.id) AS n,
           min(CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END)
               AS rank,
           array_agg(DISTINCT a.detector ORDER BY a.detector) AS detectors,
           (array_agg(a.title ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1
                                                      WHEN 'info' THEN 2 ELSE 3 END,
                      a.last_seen DESC, a.id DESC))[1] AS title,
           (array_agg(jsonb_build_array(a.title_template, a.title_params)
                      ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1
                                               WHEN 'info' THEN 2 ELSE 3 END,
                      a.last_seen DESC, a.id DESC))[1] AS template
    FROM alerts a
    CROSS JOIN LATERAL (
        SELECT a.source_id AS mmsi
        UNION
        SELECT jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(a.details -> 'mmsis') = 'array' THEN a.details -> 'mmsis'
                 ELSE '[]'::jsonb END)
    ) AS x
    WHERE a.state <> 'resolved'
    GROUP BY x.mmsi
)
"""

_VESSEL_COLUMNS = """
    l.mmsi, l.time, l.lat, l.lon, l.sog, l.cog, l.heading, l.nav_status,
    l.simulated OR coalesce(v.simulated, false),
    v.name, v.callsign, v.ship_type, v.length_m, v.beam_m, v.destination,
    coalesce(f.n, 0), f.rank, f.detectors, f.title, f.template
"""

_LATEST = f"""
WITH {_OPEN_ALERT_FLAGS}
SELECT now(), {_VESSEL_COLUMNS}
FROM vessel_latest l
LEFT JOIN vessels v ON v.mmsi = l.mmsi
LEFT JOIN flags f ON f.mmsi = l.mmsi::text
WHERE l.time >= now() - %(recent)s::interval
ORDER BY l.mmsi
"""


def _vessel(row: Sequence[Any]) -> VesselNow:
    (mmsi, time, lat, lon, sog, cog, heading, nav_status, simulated, name, callsign, ship_type,
     length_m, beam_m, destination, n, rank, detectors, title, template) = row
    template = template or [None, {}]
    return VesselNow(
        mmsi=int(mmsi), time=time, lat=float(lat), lon=float(lon),
        sog=None if sog is None else float(sog), cog=None if cog is None else float(cog),
        heading=heading, nav_status=nav_status, simulated=bool(simulated),
        name=name, callsign=callsign, ship_type=ship_type,
        length_m=None if length_m is None else float(length_m),
        beam_m=None if beam_m is None else float(beam_m), destination=destination,
        alerts_open=int(n), alert_severity=None if rank is None else SEVERITIES[min(int(rank), 3)],
        alert_detectors=tuple(detectors or ()), alert_title=title,
        alert_title_template=template[0], alert_title_params=dict(template[1] or {}),
    )


def latest_vessels(pool: ConnectionPool, recent: timedelta = RECENT) -> SeaSnapshot:
    """Every vessel whose newest position is at most ``recent`` old, by MMSI, with its open alerts."""
    with pool.connection() as conn:
        rows = conn.execute(_LATEST, {"recent": recent}).fetchall()
        as_of = rows[0][0] if rows else conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    return SeaSnapshot(as_of=as_of, vessels=tuple(_vessel(r[1:]) for r in rows))


# --------------------------------------------------------------------------- tracks

# First position of each of ``k`` equal time buckets of the window, per vessel, plus the
# vessel's last position. One pass over the window in (mmsi, time) order (the primary key's
# order: no sort on TimescaleDB); the bucket of a row is a binary search among the k - 1
# inner edges. No bucket function of TimescaleDB: the same SQL at both capability levels.
_THINNED = """
SELECT mmsi, lon, lat FROM (
    SELECT mmsi, time, lon, lat, b, lag(b) OVER w AS prev_b, lead(b) OVER w AS next_b
    FROM (
        SELECT mmsi, time, lon, lat, width_bucket(time, %(edges)s::timestamptz[]) AS b
        FROM vessel_positions
        WHERE time >= %(since)s AND time <= %(until)s {only}
    ) AS p
    WINDOW w AS (PARTITION BY mmsi ORDER BY time)
) AS s
WHERE prev_b IS NULL OR b <> prev_b OR next_b IS NULL
ORDER BY mmsi, time
"""
SORT_MEMORY = "32MB"  # where the window must be sorted (plain PostgreSQL): in memory, not on disk


def track_buckets(budget: int, vessels: int) -> int:
    """Time buckets per vessel so that ``vessels`` tracks fit ``budget`` points (0: not even 2 each).

    A vessel keeps at most the first point of each bucket and its last point:
    ``buckets + 1`` points, so ``vessels * (buckets + 1) <= budget``.
    """
    if vessels <= 0:
        return max(1, budget - 1)
    per_vessel = budget // vessels
    return per_vessel - 1 if per_vessel >= 2 else 0


def vessel_tracks(
    pool: ConnectionPool,
    hours: float = 3.0,
    budget: int = 50_000,
    until: datetime | None = None,
    tolerance_deg: float = 0.0,
    count_window: bool = False,
) -> Tracks:
    """Every vessel's track over the ``hours`` before ``until`` (default: now), thinned to ``budget`` points.

    The window is cut into the same number of equal time buckets for every vessel,
    as many as the budget allows for the vessels seen in the window; the database
    returns the first position of each bucket and each vessel's last position, so the
    thinning costs one sort there and never ships the raw points. With more than
    ``budget / 2`` vessels only the ``budget // 2`` seen most recently get a track (two
    points each). ``tolerance_deg`` > 0 then simplifies each track (Douglas-Peucker,
    shapely; first and last points kept). ``count_window`` also counts the raw
    positions in the window (for benchmarks and tests: it costs a scan).
    """
    if hours <= 0:
        raise ValueError("hours must be positive")
    budget = max(2, int(budget))
    with pool.connection() as conn:
        if until is None:
            until = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        assert until is not None
        since = until - timedelta(hours=hours)
        # every vessel with a position in the window has its newest position at or after ``since``
        seen = conn.execute(
            "SELECT mmsi FROM vessel_latest WHERE time >= %(since)s ORDER BY time DESC, mmsi",
            {"since": since},
        ).fetchall()
        k = track_buckets(budget, len(seen))
        params: dict[str, Any] = {"since": since, "until": until}
        only = ""
        if k == 0:  # too many vessels for the budget: first and last point of the newest ones
            k = 1
            params["only"] = [r[0] for r in seen[: budget // 2]]
            only = "AND mmsi = ANY(%(only)s::bigint[])"
        params["edges"] = [since + (until - since) * i / k for i in range(1, k)]
        conn.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")  # until the end of this transaction
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(_THINNED.format(only=only), params).fetchall()  # type: ignore[arg-type]
        total = None
        if count_window:
            total = int(conn.execute(
                "SELECT count(*) FROM vessel_positions WHERE time >= %(since)s AND time <= %(until)s",
                {"since": since, "until": until},
            ).fetchone()[0])  # type: ignore[index]
    lines = _group(rows)
    if tolerance_deg > 0:
        lines = simplify_lines(lines, tolerance_deg)
    lines = cap_points(lines, budget)  # a vessel first seen between the two queries could overshoot
    return Tracks(since=since, until=until, budget=budget, buckets=k, points_in_window=total, lines=lines)


def _group(rows: Iterable[Sequence[Any]]) -> tuple[TrackLine, ...]:
    """Rows of (mmsi, lon, lat), ordered by mmsi then time, as one line per vessel."""
    out: list[TrackLine] = []
    current: int | None = None
    lons: list[float] = []
    lats: list[float] = []
    for mmsi, lon, lat in rows:
        if mmsi != current:
            if current is not None:
                out.append(TrackLine(current, tuple(lons), tuple(lats)))
            current, lons, lats = mmsi, [], []
        lons.append(lon)
        lats.append(lat)
    if current is not None:
        out.append(TrackLine(current, tuple(lons), tuple(lats)))
    return tuple(out)


def simplify_lines(lines: Sequence[TrackLine], tolerance_deg: float) -> tuple[TrackLine, ...]:
    """Each line simplified by Douglas-Peucker within ``tolerance_deg`` (vectorised, shapely).

    Endpoints are kept; lines of fewer than three points are left as they are.
    """
    import numpy as np
    import shapely

    long = [i for i, line in enumerate(lines) if len(line) >= 3]
    if not long:
        return tuple(lines)
    coords = np.concatenate([np.column_stack((lines[i].lons, lines[i].lats)) for i in long])
    index = np.repeat(np.arange(len(long)), [len(lines[i]) for i in long])
    geoms = shapely.linestrings(coords, indices=index)
    simple = shapely.simplify(geoms, tolerance_deg, preserve_topology=False)
    xy, which = shapely.get_coordinates(simple, return_index=True)
    out = list(lines)
    bounds = np.searchsorted(which, np.arange(len(long) + 1))
    for j, i in enumerate(long):
        part = xy[bounds[j]:bounds[j + 1]]
        if len(part) < 2:  # a vessel that did not move collapses to nothing: keep its endpoints
            src = lines[i]
            part = np.array([[src.lons[0], src.lats[0]], [src.lons[-1], src.lats[-1]]])
        out[i] = TrackLine(lines[i].mmsi, tuple(part[:, 0].tolist()), tuple(part[:, 1].tolist()))
    return tuple(out)


def cap_points(lines: Sequence[TrackLine], budget: int) -> tuple[TrackLine, ...]:
    """``lines`` with at most ``budget`` points in all: interior points dropped evenly, endpoints kept.

    Lines are dropped whole (those listed last first) only when even two points each do not fit.
    """
    total = sum(len(line) for line in lines)
    if total <= budget:
        return tuple(lines)
    keep_lines = list(lines[: max(0, budget // 2)]) if 2 * len(lines) > budget else list(lines)
    ends = sum(min(2, len(line)) for line in keep_lines)
    interior = sum(max(0, len(line) - 2) for line in keep_lines)
    room = max(0, budget - ends)
    ratio = min(1.0, room / interior) if interior else 0.0
    out = []
    for line in keep_lines:
        n = len(line)
        if n <= 2:
            out.append(line)
            continue
        inner = math.floor((n - 2) * ratio)
        picks = [0] + [1 + (j * (n - 2)) // inner for j in range(inner)] + [n - 1]
        lons, lats = line.lons, line.lats
        out.append(TrackLine(line.mmsi, tuple(lons[p] for p in picks), tuple(lats[p] for p in picks)))
    return tuple(out)


# --------------------------------------------------------------------------- one vessel

_ONE = f"""
WITH {_OPEN_ALERT_FLAGS}
SELECT now(), {_VESSEL_COLUMNS}
FROM vessel_latest l
LEFT JOIN vessels v ON v.mmsi = l.mmsi
LEFT JOIN flags f ON f.mmsi = l.mmsi::text
WHERE l.mmsi = %(mmsi)s
"""

_TRACK = """
SELECT time, lat, lon, sog, cog, heading, nav_status FROM (
    SELECT time, lat, lon, sog, cog, heading, nav_status FROM vessel_positions
    WHERE mmsi = %(mmsi)s AND time >= %(since)s AND time <= %(until)s
    ORDER BY time DESC LIMIT %(limit)s
) AS newest ORDER BY time
"""

_ALERTS = """
SELECT id, detector, severity, state, title, started_at, last_seen, resolved_at, details,
       title_template, title_params FROM alerts
WHERE (source_id = %(key)s OR details -> 'mmsis' @> to_jsonb(%(mmsi)s::bigint))
  AND (state <> 'resolved' OR last_seen >= %(history)s)
ORDER BY state = 'resolved',
         CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END,
         last_seen DESC, id DESC
LIMIT %(limit)s
"""


def vessel_details(
    pool: ConnectionPool,
    mmsi: int,
    hours: float = 3.0,
    max_points: int = MAX_DETAIL_POINTS,
    alerts_limit: int = 20,
    alert_history: timedelta = ALERT_HISTORY,
) -> VesselDetails | None:
    """One vessel: latest position and register entry, its track of the last ``hours`` at full resolution
    (the newest ``max_points`` positions), and its alerts (open ones, then those resolved within
    ``alert_history``); ``None`` for a vessel never seen."""
    with pool.connection() as conn:
        row = conn.execute(_ONE, {"mmsi": int(mmsi)}).fetchone()
        if row is None:
            return None
        as_of = row[0]
        vessel = _vessel(row[1:])
        since = as_of - timedelta(hours=hours)
        with conn.cursor(binary=True) as cur:
            points = cur.execute(
                _TRACK, {"mmsi": int(mmsi), "since": since, "until": as_of, "limit": int(max_points) + 1}
            ).fetchall()
        alerts = conn.execute(
            _ALERTS,
            {"key": str(int(mmsi)), "mmsi": int(mmsi), "history": as_of - alert_history,
             "limit": max(0, int(alerts_limit))},
        ).fetchall()
    truncated = len(points) > max_points
    if truncated:
        points = points[1:]
    return VesselDetails(
        as_of=as_of,
        since=since,
        vessel=vessel,
        track=tuple(
            TrackPoint(t, float(lat), float(lon), None if sog is None else float(sog),
                       None if cog is None else float(cog), heading, status)
            for t, lat, lon, sog, cog, heading, status in points
        ),
        track_truncated=truncated,
        alerts=tuple(VesselAlert(*a[:8], details=dict(a[8] or {}), title_template=a[9],
                                title_params=dict(a[10] or {})) for a in alerts),
    )
