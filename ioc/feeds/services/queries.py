"""What the ``/services/`` page reads, from the rollups and the open dossiers only (never a scan of the
raw events): on-time rate by department, overdue dossiers, online share by level, monthly trend, tiles."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg_pool import ConnectionPool

from ioc.feeds.services.schema import ZONE


def _rows(
    pool: ConnectionPool, sql: str, args: dict[str, Any], keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return [dict(zip(keys, r, strict=True)) for r in conn.execute(sql, args).fetchall()]


def department_on_time(pool: ConnectionPool, since: date) -> list[dict[str, Any]]:
    """Per department since the local day ``since``: finished, on time and the rate, worst first."""
    return _rows(
        pool,
        "SELECT department, sum(finished)::bigint, sum(on_time)::bigint, "
        "sum(on_time)::float / nullif(sum(finished), 0) AS rate FROM services_department_daily "
        "WHERE day >= %(since)s GROUP BY 1 HAVING sum(finished) > 0 ORDER BY rate ASC, 1",
        {"since": since},
        ("department", "finished", "on_time", "rate"),
    )


def overdue(pool: ConnectionPool, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Open dossiers past their due time, the longest overdue first."""
    return _rows(
        pool,
        "SELECT dossier_id, department, procedure_code, procedure_name, status, due, %(now)s - due "
        "FROM services_dossiers WHERE finished IS NULL AND due < %(now)s ORDER BY due LIMIT %(limit)s",
        {"now": now, "limit": limit},
        ("dossier_id", "department", "procedure_code", "procedure_name", "status", "due", "age"),
    )


def level_share(pool: ConnectionPool, since: date) -> list[dict[str, Any]]:
    """Dossiers received since ``since`` per level (in person, online level 3, level 4)."""
    return _rows(
        pool,
        "SELECT level, sum(received)::bigint FROM services_department_daily WHERE day >= %(since)s "
        "GROUP BY 1 ORDER BY 1",
        {"since": since},
        ("level", "received"),
    )


def monthly_trend(pool: ConnectionPool, since: date) -> list[dict[str, Any]]:
    """Per month since ``since``: received, finished, on time, mean handling hours."""
    return _rows(
        pool,
        "SELECT month, sum(received)::bigint, sum(finished)::bigint, sum(on_time)::bigint, "
        "sum(handling_s) / nullif(sum(finished), 0) / 3600 FROM services_department_monthly "
        "WHERE month >= %(since)s GROUP BY 1 ORDER BY 1",
        {"since": since},
        ("month", "received", "finished", "on_time", "handling_h"),
    )


def tiles(pool: ConnectionPool, now: datetime) -> dict[str, Any]:
    """The wall's tiles: open and overdue dossiers now, received today, on-time rate this month."""
    with pool.connection() as conn:
        open_, late = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE due < %s) FROM services_dossiers WHERE finished IS NULL",
            (now,),
        ).fetchone() or (0, 0)
        local = f"(%s::timestamptz AT TIME ZONE '{ZONE}')"
        today, month_finished, month_on_time = conn.execute(
            f"SELECT coalesce(sum(received) FILTER (WHERE day = {local}::date), 0), "
            "coalesce(sum(finished), 0), coalesce(sum(on_time), 0) FROM services_department_daily "
            f"WHERE day >= date_trunc('month', {local})::date",
            (now, now),
        ).fetchone() or (0, 0, 0)
        simulated = conn.execute("SELECT EXISTS (SELECT 1 FROM services_dossiers WHERE simulated)").fetchone()
    return {
        "open": int(open_),
        "overdue": int(late),
        "received_today": int(today),
        "on_time_month": (float(month_on_time) / float(month_finished)) if month_finished else None,
        "simulated": bool(simulated and simulated[0]),
    }


def on_time_between(pool: ConnectionPool, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per department, dossiers finished in ``[start, end)``: finished, on time and the rate, worst first
    (what a scheduled report of any period, a shift included, shows)."""
    return _rows(
        pool,
        "SELECT department, count(*), count(*) FILTER (WHERE finished <= due), "
        "count(*) FILTER (WHERE finished <= due)::float / count(*) AS rate FROM services_dossiers "
        "WHERE finished >= %(start)s AND finished < %(end)s GROUP BY 1 ORDER BY rate ASC, 1",
        {"start": start, "end": end},
        ("department", "finished", "on_time", "rate"),
    )


def overdue_at(pool: ConnectionPool, at: datetime) -> int:
    """Dossiers that were open and past their due time at ``at``."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM services_dossiers WHERE received <= %(at)s AND due < %(at)s "
            "AND (finished IS NULL OR finished > %(at)s)",
            {"at": at},
        ).fetchone()
    return int(row[0]) if row else 0
