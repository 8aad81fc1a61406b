"""The reports as the store holds them: the one state ``GET requests`` and duplicate grouping read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool


@dataclass(frozen=True)
class Query:
    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    closed: bool | None = None
    limit: int = 1000


class ReportReader(Protocol):
    def requests(self, q: Query) -> list[dict[str, Any]]: ...
    def duplicate_of(self, service_code: str, lat: float, lon: float, since: datetime,
                     metres: float, sha256s: tuple[str, ...]) -> str | None: ...
    def history(self, request_id: str) -> list[dict[str, Any]]: ...


_LATEST = """
SELECT r.*, s.status AS last_status, s.reason AS last_reason, s.time AS updated
FROM field_reports r
LEFT JOIN LATERAL (SELECT status, reason, time FROM field_report_status t WHERE t.request_id = r.request_id
                   ORDER BY time DESC, status LIMIT 1) s ON true
"""


class StoreReportReader:
    """Reads ``field_reports`` and ``field_report_status`` (the latest change of each report)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def requests(self, q: Query) -> list[dict[str, Any]]:
        where, args = [], []
        if q.ids:
            where.append("r.request_id = ANY(%s)")
            args.append(list(q.ids))
        if q.service_codes:
            where.append("r.service_code = ANY(%s)")
            args.append(list(q.service_codes))
        if q.start:
            where.append("r.time >= %s")
            args.append(q.start)
        if q.end:
            where.append("r.time <= %s")
            args.append(q.end)
        if q.closed is not None:
            closed = "coalesce(s.status IN ('resolved','rejected'), false)"
            where.append(closed if q.closed else f"NOT {closed}")
        sql = _LATEST + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.time DESC LIMIT %s"
        args.append(q.limit)
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(sql, args).fetchall())

    def history(self, request_id: str) -> list[dict[str, Any]]:
        """Every status change of a report, oldest first (who made it is kept in the store, not shown)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(
                "SELECT time, status, reason, department, assignee_group FROM field_report_status "
                "WHERE request_id = %s ORDER BY time, status", (request_id,)).fetchall())

    def duplicate_of(self, service_code: str, lat: float, lon: float, since: datetime,
                     metres: float, sha256s: tuple[str, ...]) -> str | None:
        """The earliest recent report of the category within ``metres``, or one with the same photo."""
        dlat = metres / 111_320.0
        dlon = dlat / 0.95  # cos(16.5 deg N) ~ 0.96: a slightly wider box, refined below
        # two parts, each on its own index (reports/4): the category's box, and the same photo
        # anywhere (a re-post; jsonb containment on the GIN index)
        sql = ("SELECT request_id, lat, lon, photos, time FROM field_reports WHERE service_code = %s "
               "AND lat BETWEEN %s AND %s AND lon BETWEEN %s AND %s AND time >= %s")
        args: list[Any] = [service_code, lat - dlat, lat + dlat, lon - dlon, lon + dlon, since]
        for h in sha256s:
            sql += " UNION SELECT request_id, lat, lon, photos, time FROM field_reports " \
                   "WHERE photos @> %s AND time >= %s"
            args += [Jsonb([{"sha256": h}]), since]
        with self.pool.connection() as conn:
            rows = conn.execute(sql + " ORDER BY time LIMIT 50", args).fetchall()
        for rid, rlat, rlon, photos, _ in rows:
            if any(p.get("sha256") in sha256s for p in photos or []):
                return str(rid)
            if _metres(lat, lon, rlat, rlon) <= metres:
                return str(rid)
        return None


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from math import asin, cos, radians, sin, sqrt
    p1, p2 = radians(lat1), radians(lat2)
    a = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos(p2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * asin(sqrt(a))
