"""The public-services feed's tables: every dossier status change, each dossier's current state, and
rollups per department, procedure and level by day and by month (local days, Asia/Ho_Chi_Minh).

``services_dossier_events``: one row per status change, natural key ``(dossier_id, time, status)``
(a redelivered change is stored once); a hypertable on TimescaleDB, a BRIN index elsewhere.
``services_dossiers``: the latest change of each dossier (the writer upserts it from the batch; a
later change wins, at equal times a final one). ``services_daily`` / ``services_monthly``: received,
finished, on time, returned and the summed handling time (``services_department_daily`` / ``_monthly``:
the same without the procedure, for the page); the writer recomputes, in the same
transaction, every day its batch touched from the stored rows, then those days' months (exact under
duplicates and batches out of order, the same SQL at both levels).
"""

from __future__ import annotations

import psycopg

from ioc.feeds.services.records import DossierEvent
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin

RAW_SERVICES_TABLES = ("services_dossier_events",)
ZONE = "Asia/Ho_Chi_Minh"


def apply_services(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 1: the events, the dossiers' current state and the daily and monthly rollups."""
    conn.execute(
        """
        CREATE TABLE services_dossier_events (
            time            timestamptz NOT NULL,
            source          text        NOT NULL,
            dossier_id      text        NOT NULL,
            status          text        NOT NULL,
            procedure_code  text        NOT NULL,
            procedure_name  text        NOT NULL DEFAULT '',
            level           text        NOT NULL,
            department      text        NOT NULL,
            received        timestamptz NOT NULL,
            due             timestamptz NOT NULL,
            finished        timestamptz,
            simulated       boolean     NOT NULL DEFAULT false,
            PRIMARY KEY (dossier_id, time, status)
        );
        CREATE TABLE services_dossiers (
            dossier_id      text        PRIMARY KEY,
            updated         timestamptz NOT NULL,
            status          text        NOT NULL,
            procedure_code  text        NOT NULL,
            procedure_name  text        NOT NULL,
            level           text        NOT NULL,
            department      text        NOT NULL,
            received        timestamptz NOT NULL,
            due             timestamptz NOT NULL,
            finished        timestamptz,
            simulated       boolean     NOT NULL
        );
        CREATE INDEX services_dossiers_open ON services_dossiers (due) WHERE finished IS NULL;
        CREATE TABLE services_daily (
            day             date        NOT NULL,
            department      text        NOT NULL,
            procedure_code  text        NOT NULL,
            level           text        NOT NULL,
            received        bigint      NOT NULL,
            finished        bigint      NOT NULL,
            on_time         bigint      NOT NULL,
            returned        bigint      NOT NULL,
            handling_s      double precision NOT NULL,
            PRIMARY KEY (day, department, procedure_code, level)
        );
        CREATE TABLE services_monthly (
            month           date        NOT NULL,
            department      text        NOT NULL,
            procedure_code  text        NOT NULL,
            level           text        NOT NULL,
            received        bigint      NOT NULL,
            finished        bigint      NOT NULL,
            on_time         bigint      NOT NULL,
            returned        bigint      NOT NULL,
            handling_s      double precision NOT NULL,
            PRIMARY KEY (month, department, procedure_code, level)
        );
        CREATE TABLE services_department_daily (
            day date NOT NULL, department text NOT NULL, level text NOT NULL, received bigint NOT NULL,
            finished bigint NOT NULL, on_time bigint NOT NULL, returned bigint NOT NULL,
            handling_s double precision NOT NULL, PRIMARY KEY (day, department, level)
        );
        CREATE TABLE services_department_monthly (
            month date NOT NULL, department text NOT NULL, level text NOT NULL, received bigint NOT NULL,
            finished bigint NOT NULL, on_time bigint NOT NULL, returned bigint NOT NULL,
            handling_s double precision NOT NULL, PRIMARY KEY (month, department, level)
        );
        """
    )
    hypertable_or_brin(conn, caps, "services_dossier_events", "7 days")


_LOCAL = f"(time AT TIME ZONE '{ZONE}')"
_DAYS = f"(SELECT DISTINCT {_LOCAL}::date AS day FROM stage_services_dossier_events)"
_MONTHS = f"(SELECT DISTINCT date_trunc('month', {_LOCAL})::date AS month FROM stage_services_dossier_events)"
_AFTER = (
    """
INSERT INTO services_dossiers (dossier_id, updated, status, procedure_code, procedure_name, level, department,
                               received, due, finished, simulated)
SELECT DISTINCT ON (dossier_id) dossier_id, time, status, procedure_code, procedure_name, level, department,
       received, due, finished, simulated
FROM stage_services_dossier_events
ORDER BY dossier_id, time DESC, (status IN ('resolved', 'returned')) DESC
ON CONFLICT (dossier_id) DO UPDATE SET
    updated = excluded.updated, status = excluded.status, procedure_code = excluded.procedure_code,
    procedure_name = excluded.procedure_name, level = excluded.level, department = excluded.department,
    received = excluded.received, due = excluded.due, finished = excluded.finished,
    simulated = excluded.simulated
WHERE excluded.updated > services_dossiers.updated
   OR (excluded.updated = services_dossiers.updated AND services_dossiers.finished IS NULL)
""",
    f"DELETE FROM services_daily r USING {_DAYS} t WHERE r.day = t.day",
    f"""
INSERT INTO services_daily (day, department, procedure_code, level, received, finished, on_time, returned,
                            handling_s)
SELECT {_LOCAL.replace("time", "e.time")}::date, e.department, e.procedure_code, e.level,
       count(*) FILTER (WHERE e.status = 'received'),
       count(*) FILTER (WHERE e.finished IS NOT NULL),
       count(*) FILTER (WHERE e.finished IS NOT NULL AND e.finished <= e.due),
       count(*) FILTER (WHERE e.status = 'returned'),
       coalesce(sum(extract(epoch FROM e.finished - e.received)) FILTER (WHERE e.finished IS NOT NULL), 0)
FROM services_dossier_events e JOIN {_DAYS} t
  ON e.time >= (t.day::timestamp AT TIME ZONE '{ZONE}')
 AND e.time < ((t.day + 1)::timestamp AT TIME ZONE '{ZONE}')
GROUP BY 1, 2, 3, 4
""",
    f"DELETE FROM services_monthly r USING {_MONTHS} t WHERE r.month = t.month",
    f"""
INSERT INTO services_monthly (month, department, procedure_code, level, received, finished, on_time, returned,
                              handling_s)
SELECT date_trunc('month', d.day)::date, d.department, d.procedure_code, d.level, sum(d.received),
       sum(d.finished), sum(d.on_time), sum(d.returned), sum(d.handling_s)
FROM services_daily d JOIN {_MONTHS} t ON d.day >= t.month AND d.day < (t.month + interval '1 month')
GROUP BY 1, 2, 3, 4
""",
    # the page's figures per department (no procedure): a few dozen rows a day instead of a thousand
    f"DELETE FROM services_department_daily r USING {_DAYS} t WHERE r.day = t.day",
    f"""
INSERT INTO services_department_daily
SELECT d.day, d.department, d.level, sum(d.received), sum(d.finished), sum(d.on_time), sum(d.returned),
       sum(d.handling_s)
FROM services_daily d JOIN {_DAYS} t ON d.day = t.day GROUP BY 1, 2, 3
""",
    f"DELETE FROM services_department_monthly r USING {_MONTHS} t WHERE r.month = t.month",
    f"""
INSERT INTO services_department_monthly
SELECT d.month, d.department, d.level, sum(d.received), sum(d.finished), sum(d.on_time), sum(d.returned),
       sum(d.handling_s)
FROM services_monthly d JOIN {_MONTHS} t ON d.month = t.month GROUP BY 1, 2, 3
""",
)

DOSSIER_EVENTS = TableSpec(
    kind="services.dossier",
    table="services_dossier_events",
    columns=(
        ("time", "timestamptz"),
        ("source", "text"),
        ("dossier_id", "text"),
        ("status", "text"),
        ("procedure_code", "text"),
        ("procedure_name", "text"),
        ("level", "text"),
        ("department", "text"),
        ("received", "timestamptz"),
        ("due", "timestamptz"),
        ("finished", "timestamptz"),
        ("simulated", "bool"),
    ),
    key=("dossier_id", "time", "status"),
    to_row=lambda e: (
        e.time,
        e.source_id,
        e.dossier_id,
        e.status,
        e.procedure_code,
        e.procedure_name,
        e.level,
        e.department,
        e.received,
        e.due,
        e.finished,
        e.simulated,
    ),
    from_row=lambda r: DossierEvent(
        time=r["time"], source_id=r["source"], dossier_id=r["dossier_id"], status=r["status"],
        procedure_code=r["procedure_code"], procedure_name=r["procedure_name"], level=r["level"],
        department=r["department"], received=r["received"], due=r["due"], finished=r["finished"],
        simulated=r["simulated"]),
    after_insert=_AFTER,
)
