"""Read-side queries for the pages: small typed results, one or two round trips each.

Pages and reports only read the store, and only through these functions.
Each one stays fast when ``readings`` holds tens of millions of rows,
because none of them scans it: totals come from ``stored_counts`` (kept by
the writer in the same transaction as the rows), current values from
``latest_readings`` (one row per station and metric), and time series and
rates from the ``readings_1m`` / ``readings_1h`` rollups (continuous
aggregates on TimescaleDB with the community licence, tables kept by
:func:`ioc.store.maintenance.refresh_rollups` elsewhere; same columns and
the same SQL at both capability levels).

Every value from a caller travels as a ``%s`` parameter; the only SQL
fragments chosen at run time are constants of this module.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from psycopg_pool import ConnectionPool

from ioc.feeds.environment.schema import READINGS
from ioc.health import FeedHealth
from ioc.i18n import render

DEAD_LETTER_KIND = "dead_letter"  # the ``stored_counts`` kind the writer uses for dead letters
REPORTING_WINDOW = "5 minutes"  # a station "reports" when it sent something this recently
PAYLOAD_PREVIEW_CHARS = 120

Bucket = Literal["1m", "1h"]
_ROLLUP_TABLES: dict[str, str] = {"1m": "readings_1m", "1h": "readings_1h"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Kpis:
    """The wall's headline numbers, all read at one instant (``as_of``, the database's clock).

    ``readings_last_minute`` is a sliding-window estimate over the trailing
    60 s from the 1-minute rollup: the current bucket counts in full and the
    previous bucket by the share of it that lies inside the window.
    """

    as_of: datetime
    readings_stored: int
    readings_last_minute: int
    stations_reporting: int  # stations with a reading in the last 5 minutes
    stations_known: int  # stations that ever reported (rows in latest_readings)
    alerts_critical: int
    alerts_warning: int
    alerts_info: int
    alerts_open: int  # every alert not resolved, whatever its severity
    dead_letters: int
    last_write: datetime | None  # when the writer last stored anything

    @property
    def open_by_severity(self) -> dict[str, int]:
        """Open alerts per known severity, most severe first."""
        return {
            "critical": self.alerts_critical,
            "warning": self.alerts_warning,
            "info": self.alerts_info,
        }


@dataclass(frozen=True)
class LatestValue:
    """The newest reading of one metric at one station."""

    station_id: str
    metric: str
    time: datetime
    value: float
    unit: str


@dataclass(frozen=True)
class SeriesPoint:
    """One rollup bucket of one metric at one station."""

    station_id: str
    metric: str
    bucket: datetime
    avg: float
    min: float
    max: float
    n: int


@dataclass(frozen=True)
class AlertRow:
    """An alert as the pages show it."""

    id: int
    severity: str
    title: str
    state: str
    detector: str
    rule: str
    source_id: str
    area: str | None
    started_at: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    title_template: str | None = None
    title_params: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"

    def title_in(self, lang: str) -> str:
        """The title in ``lang``: rendered from its template and fields, else the stored English."""
        return render("alerts", self.title_template, self.title_params, lang, self.title)


@dataclass(frozen=True)
class DeadLetterRow:
    """A dead letter as the pages show it: the payload only as a short, escaped preview."""

    id: int
    received_at: datetime
    stage: str
    source: str
    key: str | None
    reason: str
    payload_preview: str
    payload_bytes: int
    topic: str | None
    partition: int | None
    offset: int | None


# --------------------------------------------------------------------------- queries

_KPIS = """
WITH counts AS (
    SELECT coalesce(sum(n) FILTER (WHERE kind = %(readings_kind)s), 0)::bigint AS readings,
           coalesce(sum(n) FILTER (WHERE kind = %(dead_kind)s), 0)::bigint AS dead,
           max(last_write) AS last_write
    FROM stored_counts
), stations AS (
    SELECT count(DISTINCT station_id)
               FILTER (WHERE time >= now() - %(window)s::interval) AS reporting,
           count(DISTINCT station_id) AS known
    FROM latest_readings
), rate AS (
    SELECT coalesce(sum(n * CASE
               WHEN bucket >= time_bucket('1 minute', now()) THEN 1.0
               ELSE greatest(0.0, extract(epoch FROM bucket + interval '2 minutes' - now()) / 60.0)
           END), 0)::float8 AS per_minute
    FROM readings_1m
    WHERE bucket >= time_bucket('1 minute', now() - interval '1 minute')
      AND bucket <= time_bucket('1 minute', now())
), open_alerts AS (
    SELECT count(*) FILTER (WHERE severity = 'critical') AS critical,
           count(*) FILTER (WHERE severity = 'warning') AS warning,
           count(*) FILTER (WHERE severity = 'info') AS info,
           count(*) AS total
    FROM alerts WHERE state NOT IN ('resolved', 'silenced')  -- a silenced alert asks nobody to act
)
SELECT now(), counts.readings, rate.per_minute, stations.reporting, stations.known,
       open_alerts.critical, open_alerts.warning, open_alerts.info, open_alerts.total,
       counts.dead, counts.last_write
FROM counts, stations, rate, open_alerts
"""


def kpis(pool: ConnectionPool) -> Kpis:
    """The headline numbers of the wall, in one round trip."""
    with pool.connection() as conn:
        row = conn.execute(
            _KPIS,
            {"readings_kind": READINGS.kind, "dead_kind": DEAD_LETTER_KIND, "window": REPORTING_WINDOW},
        ).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    as_of, stored, rate, reporting, known, crit, warn, info, total, dead, last_write = row
    return Kpis(
        as_of=as_of,
        readings_stored=int(stored),
        readings_last_minute=int(round(rate)),
        stations_reporting=int(reporting),
        stations_known=int(known),
        alerts_critical=int(crit),
        alerts_warning=int(warn),
        alerts_info=int(info),
        alerts_open=int(total),
        dead_letters=int(dead),
        last_write=last_write,
    )


def latest_values(pool: ConnectionPool) -> list[LatestValue]:
    """The newest value of every metric at every station, ordered by station then metric."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT station_id, metric, time, value, unit FROM latest_readings ORDER BY station_id, metric"
        ).fetchall()
    return [LatestValue(*r) for r in rows]


def station_series(
    pool: ConnectionPool,
    since: datetime,
    bucket: Bucket = "1m",
    station_ids: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[SeriesPoint]:
    """Rollup buckets from the one containing ``since`` onwards, for all (or the given) stations.

    One query for every station; ordered by station, metric, then bucket. An
    empty ``station_ids`` or ``metrics`` sequence selects nothing.
    """
    table = _ROLLUP_TABLES.get(bucket)
    if table is None:
        raise ValueError(f"bucket must be one of {sorted(_ROLLUP_TABLES)}, not {bucket!r}")
    width = "1 minute" if bucket == "1m" else "1 hour"
    where = ["bucket >= time_bucket(%(width)s::interval, %(since)s::timestamptz)"]
    params: dict[str, object] = {"width": width, "since": since}
    if station_ids is not None:
        where.append("station_id = ANY(%(stations)s::text[])")
        params["stations"] = list(station_ids)
    if metrics is not None:
        where.append("metric = ANY(%(metrics)s::text[])")
        params["metrics"] = list(metrics)
    sql = (
        f"SELECT station_id, metric, bucket, avg, min, max, n FROM {table} "
        f"WHERE {' AND '.join(where)} ORDER BY station_id, metric, bucket"
    )
    with pool.connection() as conn, conn.cursor(binary=True) as cur:  # binary: a third faster on big series
        rows = cur.execute(sql, params).fetchall()  # type: ignore[arg-type]
    return [SeriesPoint(s, m, b, float(a), float(lo), float(hi), int(n)) for s, m, b, a, lo, hi, n in rows]


_ALERT_COLUMNS = (
    "id, severity, title, state, detector, rule, source_id, area, started_at, last_seen, resolved_at, count, "
    "title_template, title_params"
)


def recent_alerts(
    pool: ConnectionPool, limit: int = 20, include_resolved: bool = True, open_first: bool = False
) -> list[AlertRow]:
    """The most recently active alerts, newest (by last seen) first.

    With ``open_first`` every alert still open comes before any resolved one
    (each group newest first), so a long-running open alert is never pushed
    off a short list by a burst of resolved ones.
    """
    limit = max(0, int(limit))
    if not include_resolved:
        sql = (
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state <> 'resolved' "
            "ORDER BY last_seen DESC, id DESC LIMIT %(limit)s"
        )
    elif open_first:
        sql = f"""
            SELECT {_ALERT_COLUMNS} FROM (
                (SELECT {_ALERT_COLUMNS}, 0 AS grp FROM alerts WHERE state <> 'resolved'
                 ORDER BY last_seen DESC, id DESC LIMIT %(limit)s)
                UNION ALL
                (SELECT {_ALERT_COLUMNS}, 1 AS grp FROM alerts WHERE state = 'resolved'
                 ORDER BY last_seen DESC, id DESC LIMIT %(limit)s)
            ) AS a ORDER BY grp, last_seen DESC, id DESC LIMIT %(limit)s
            """
    else:
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY last_seen DESC, id DESC LIMIT %(limit)s"
    with pool.connection() as conn:
        rows = conn.execute(sql, {"limit": limit}).fetchall()  # type: ignore[arg-type]
    return [AlertRow(*r) for r in rows]


def recent_dead_letters(pool: ConnectionPool, limit: int = 20) -> list[DeadLetterRow]:
    """The newest dead letters first; only the head of each payload leaves the database."""
    head = PAYLOAD_PREVIEW_CHARS * 4  # bytes: enough for the preview even in 4-byte characters
    with pool.connection() as conn:
        rows = conn.execute(
            """
            SELECT id, received_at, stage, source, key, reason,
                   substring(payload FROM 1 FOR %(head)s), coalesce(octet_length(payload), 0),
                   topic, partition, "offset"
            FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT %(limit)s
            """,
            {"head": head, "limit": max(0, int(limit))},
        ).fetchall()
    return [
        DeadLetterRow(
            id=r[0], received_at=r[1], stage=r[2], source=r[3], key=r[4], reason=r[5],
            payload_preview=escape_preview(bytes(r[6] or b""), complete=int(r[7]) <= head),
            payload_bytes=int(r[7]),
            topic=r[8], partition=r[9], offset=r[10],
        )
        for r in rows
    ]


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def source_names(pool: ConnectionPool, source_ids: Sequence[str]) -> dict[str, str]:
    """Display names of alert sources that are vessels (by MMSI, from the register)."""
    mmsis = sorted({int(s) for s in source_ids if s.isdigit() and len(s) <= 9})
    if not mmsis:
        return {}
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT mmsi, name FROM vessels WHERE mmsi = ANY(%s) AND name IS NOT NULL", (mmsis,)
        ).fetchall()
    return {str(m): f"{n.strip()} ({m})" for m, n in rows if n and n.strip()}


@dataclass(frozen=True)
class RoleHealth:
    """One running (or stopped) worker of one process, from its latest heartbeat."""

    role: str
    instance: str
    beat_age_s: float  # seconds since its last heartbeat, by the database's clock
    lag: int
    last_write_age_s: float | None
    errors: int
    waits: int
    last_error: str | None
    stopped: bool
    feed: FeedHealth | None = None  # an ingest worker's typed record (ioc.health), from its heartbeat


def role_health(pool: ConnectionPool, forget_after: str = "1 hour") -> list[RoleHealth]:
    """Every role instance that beat within ``forget_after`` (the system panel)."""
    with pool.connection() as conn:
        rows = conn.execute(
            """
            SELECT role, instance, extract(epoch FROM now() - beat_at), lag,
                   extract(epoch FROM now() - last_write), errors, waits, last_error, stopped, details
            FROM role_health WHERE beat_at > now() - %s::interval
            ORDER BY stopped, role, instance
            """,
            (forget_after,),
        ).fetchall()
    return [RoleHealth(r[0], r[1], float(r[2]), int(r[3]), None if r[4] is None else float(r[4]),
                       int(r[5]), int(r[6]), r[7], bool(r[8]), FeedHealth.from_details(r[9])) for r in rows]


def escape_preview(payload: bytes, limit: int = PAYLOAD_PREVIEW_CHARS, complete: bool = True) -> str:
    """A payload as one short line of printable text.

    Valid UTF-8 stays readable; invalid bytes become ``\\xNN``; control,
    format (bidi overrides, zero-width) and other invisible characters
    become ``\\n``, ``\\t``, ``\\xNN`` or ``\\uNNNN``. Longer results end in ``…``,
    as do those of a payload that is only the head of a longer one (``complete=False``;
    a character cut in two at its end is dropped).
    """
    if not complete:
        payload = _drop_cut_character(payload)
    text = payload.decode("utf-8", errors="surrogateescape")
    out: list[str] = []
    size = 0
    for ch in text:
        if "\udc80" <= ch <= "\udcff":  # a byte that is not UTF-8
            piece = f"\\x{ord(ch) - 0xDC00:02x}"
        elif ch in _ESCAPES:
            piece = _ESCAPES[ch]
        elif ch == " " or (ch.isprintable() and unicodedata.category(ch)[0] not in "CZ"):
            piece = ch
        elif ord(ch) < 0x100:
            piece = f"\\x{ord(ch):02x}"
        elif ord(ch) < 0x10000:
            piece = f"\\u{ord(ch):04x}"
        else:
            piece = f"\\U{ord(ch):08x}"
        if size + len(piece) > limit:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    else:
        if not complete:
            out.append("…")
    return "".join(out)


def _drop_cut_character(head: bytes) -> bytes:
    """``head`` without a trailing UTF-8 sequence that the cut left incomplete."""
    for back in range(1, min(4, len(head)) + 1):
        byte = head[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return head[:-back] if need > back else head
    return head
