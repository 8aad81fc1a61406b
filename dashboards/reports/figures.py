"""What the store says of one period: the numbers and tables a report shows, from SQL alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from ioc.feeds.services import queries as services

_BY = """
SELECT {col}, severity, count(*) FROM alerts
WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1, 2 ORDER BY 1, 2
"""
_PER_OFFICER = """
SELECT who, count(*) FILTER (WHERE what = 'ack'), avg(took) FILTER (WHERE what = 'ack'),
       count(*) FILTER (WHERE what = 'resolve'), avg(took) FILTER (WHERE what = 'resolve')
FROM (
    SELECT acknowledged_by AS who, 'ack' AS what, acknowledged_at - opened_at AS took FROM alerts
    WHERE acknowledged_at >= %(start)s AND acknowledged_at < %(end)s AND acknowledged_by IS NOT NULL
    UNION ALL
    SELECT resolved_by, 'resolve', closed_at - opened_at FROM alerts
    WHERE closed_at >= %(start)s AND closed_at < %(end)s AND resolved_by IS NOT NULL
) t GROUP BY who ORDER BY who
"""
_TOTALS = """
SELECT count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s),
       count(*) FILTER (WHERE acknowledged_at >= %(start)s AND acknowledged_at < %(end)s),
       avg(acknowledged_at - opened_at) FILTER (WHERE acknowledged_at >= %(start)s
                                                  AND acknowledged_at < %(end)s),
       count(*) FILTER (WHERE closed_at >= %(start)s AND closed_at < %(end)s),
       avg(closed_at - opened_at) FILTER (WHERE closed_at >= %(start)s AND closed_at < %(end)s)
FROM alerts WHERE created_at < %(end)s
"""
_OPEN_CRITICAL = """
SELECT id, title, source_id, area, created_at, coalesce(assignee, acknowledged_by), state, title_template,
       title_params FROM alerts
WHERE severity = 'critical' AND created_at < %(end)s AND (closed_at IS NULL OR closed_at >= %(end)s)
ORDER BY created_at LIMIT %(top)s
"""
_INCIDENTS = """
SELECT i.id, i.detector, i.area, i.first_at, i.last_at, i.alerts FROM incidents i
WHERE EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id
              AND a.created_at < %(end)s AND (a.closed_at IS NULL OR a.closed_at >= %(start)s))
ORDER BY i.first_at DESC LIMIT %(top)s
"""
#: the first entries of each incident's timeline (and how many it has): a report stays printable
_TIMELINE = """
SELECT incident_id, alert_id, at, actor, action, from_state, to_state, note, total FROM (
    SELECT a.incident_id, u.alert_id, u.at, u.actor, u.action, u.from_state, u.to_state, u.note,
           row_number() OVER (PARTITION BY a.incident_id ORDER BY u.at, u.id) AS n,
           count(*) OVER (PARTITION BY a.incident_id) AS total
    FROM alert_audit u
    JOIN alerts a ON a.id = u.alert_id
    WHERE a.incident_id = ANY(%(ids)s) AND u.at >= %(start)s AND u.at < %(timeline_end)s) entries
WHERE n <= %(per_incident)s ORDER BY at
"""
TIMELINE_ENTRIES = 200  # entries of one incident's timeline a report shows; it says how many more
_DEAD_LETTERS = """
SELECT source, stage, count(*), max(reason) FROM dead_letters
WHERE received_at >= %(start)s AND received_at < %(end)s GROUP BY 1, 2 ORDER BY 3 DESC LIMIT %(top)s
"""
_ROLES = """
SELECT role, count(*), sum(errors), max(beat_at), bool_or(stopped) FROM role_health
GROUP BY role ORDER BY role
"""
_HOURLY = """
SELECT date_trunc('hour', created_at), count(*) FROM alerts
WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1 ORDER BY 1
"""


@dataclass
class OfficerFigures:
    """How fast one officer answered in the period."""

    name: str
    acknowledged: int
    mean_ack: timedelta | None
    resolved: int
    mean_resolve: timedelta | None


@dataclass
class ReportFigures:
    """Everything one report shows, for ``[start, end)``."""

    start: datetime
    end: datetime
    raised: int = 0
    acknowledged: int = 0
    mean_ack: timedelta | None = None
    resolved: int = 0
    mean_resolve: timedelta | None = None
    by_detector: dict[str, dict[str, int]] = field(default_factory=dict)  # detector -> severity -> n
    by_area: dict[str, dict[str, int]] = field(default_factory=dict)
    officers: list[OfficerFigures] = field(default_factory=list)
    open_critical: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    timeline: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # incident id -> audit rows
    timeline_left: dict[int, int] = field(default_factory=dict)  # incident id -> later rows not shown
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    hourly: list[tuple[datetime, int]] = field(default_factory=list)
    # public services: per department, dossiers finished in the period and on time; overdue at its end
    services_on_time: list[dict[str, Any]] = field(default_factory=list)
    services_overdue: int = 0


def _nested(rows: list[tuple[Any, ...]], missing: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, severity, n in rows:
        out.setdefault(key or missing, {})[severity] = int(n)
    return out


def gather(pool: ConnectionPool, start: datetime, end: datetime, top: int = 10,
           incident_id: int | None = None) -> ReportFigures:
    """The figures of ``[start, end)`` (of one incident only when ``incident_id`` is given: its timeline
    then runs on to what officers did until now, its acknowledgement and resolution often coming long
    after its last alert)."""
    args: dict[str, Any] = {"start": start, "end": end, "top": top,
                            "timeline_end": end if incident_id is None else datetime.max.replace(tzinfo=UTC)}
    f = ReportFigures(start, end)
    with pool.connection() as conn:
        t = conn.execute(_TOTALS, args).fetchone()
        assert t is not None
        f.raised, f.acknowledged, f.resolved = int(t[0]), int(t[1]), int(t[3])
        f.mean_ack, f.mean_resolve = t[2], t[4]
        f.by_detector = _nested(conn.execute(_BY.format(col="detector"), args).fetchall(), "-")
        f.by_area = _nested(conn.execute(_BY.format(col="area"), args).fetchall(), "-")
        f.officers = [OfficerFigures(r[0], int(r[1]), r[2], int(r[3]), r[4])
                      for r in conn.execute(_PER_OFFICER, args).fetchall()]
        keys = ("id", "title", "source_id", "area", "created_at", "holder", "state", "title_template",
                "title_params")
        f.open_critical = [dict(zip(keys, r, strict=True)) for r in conn.execute(_OPEN_CRITICAL, args)]
        keys = ("id", "detector", "area", "first_at", "last_at", "alerts")
        incidents = conn.execute(_INCIDENTS, args).fetchall()
        if incident_id is not None:
            incidents = conn.execute(
                "SELECT id, detector, area, first_at, last_at, alerts FROM incidents WHERE id = %s",
                (incident_id,)).fetchall()
        f.incidents = [dict(zip(keys, r, strict=True)) for r in incidents]
        args["ids"] = [i["id"] for i in f.incidents]
        keys = ("alert_id", "at", "actor", "action", "from_state", "to_state", "note")
        for r in conn.execute(_TIMELINE, {**args, "per_incident": TIMELINE_ENTRIES}).fetchall():
            f.timeline.setdefault(int(r[0]), []).append(dict(zip(keys, r[1:-1], strict=True)))
            f.timeline_left[int(r[0])] = max(0, int(r[-1]) - TIMELINE_ENTRIES)
        keys = ("source", "stage", "count", "reason")
        f.dead_letters = [dict(zip(keys, r, strict=True)) for r in conn.execute(_DEAD_LETTERS, args)]
        keys = ("role", "instances", "errors", "last_beat", "stopped")
        f.roles = [dict(zip(keys, r, strict=True)) for r in conn.execute(_ROLES)]
        f.hourly = [(r[0], int(r[1])) for r in conn.execute(_HOURLY, args)]
    f.services_on_time = services.on_time_between(pool, start, end)
    f.services_overdue = services.overdue_at(pool, end)
    return f
