"""How field reports and their status changes are stored, and the schema steps that create the tables."""

from __future__ import annotations

import json

import psycopg
from psycopg.types.json import Jsonb

from ioc.feeds.reports.records import FieldReport, ReportStatusChange
from ioc.store.capabilities import Capabilities
from ioc.store.tables import Migration, TableSpec


def _report_row(r: FieldReport) -> tuple[object, ...]:
    # a JSON array (Jsonb), never json.dumps' text: binary COPY would store that as a JSON *string*,
    # which the jsonpath of the duplicate check and the page cannot read
    photos = Jsonb([p.model_dump() for p in r.photos])
    return (r.time, r.source_id, r.service_code, r.category, r.description, r.lat, r.lon, r.address,
            r.ward, photos, r.client, r.department, r.assignee_group, r.ack_due, r.resolve_due,
            r.duplicate_of, r.media_url)


def _status_row(s: ReportStatusChange) -> tuple[object, ...]:
    return (s.time, s.source_id, s.status, s.reason, s.actor, s.department, s.assignee_group)


def _report_from_row(row: dict[str, object]) -> FieldReport:
    r = dict(row)
    r["source_id"] = r.pop("request_id")
    photos = r["photos"]
    r["photos"] = tuple((json.loads(photos) if isinstance(photos, str) else photos) or ())
    r["media_url"] = r.get("media_url") or ""
    return FieldReport.model_validate(r)


def _status_from_row(row: dict[str, object]) -> ReportStatusChange:
    r = dict(row)
    r["source_id"] = r.pop("request_id")
    return ReportStatusChange.model_validate(r)


REPORT_TABLE = TableSpec(
    kind="reports.report", table="field_reports",
    columns=(("time", "timestamptz"), ("request_id", "text"), ("service_code", "text"),
             ("category", "text"), ("description", "text"), ("lat", "double precision"),
             ("lon", "double precision"), ("address", "text"), ("ward", "text"), ("photos", "jsonb"),
             ("client", "text"), ("department", "text"), ("assignee_group", "text"),
             ("ack_due", "timestamptz"), ("resolve_due", "timestamptz"), ("duplicate_of", "text"),
             ("media_url", "text")),
    key=("request_id",), to_row=_report_row, from_row=_report_from_row,
)
STATUS_TABLE = TableSpec(
    kind="reports.status", table="field_report_status",
    columns=(("time", "timestamptz"), ("request_id", "text"), ("status", "text"), ("reason", "text"),
             ("actor", "text"), ("department", "text"), ("assignee_group", "text")),
    key=("request_id", "time", "status"), to_row=_status_row, from_row=_status_from_row,
)


def _create(conn: psycopg.Connection, caps: Capabilities) -> None:
    for spec in (REPORT_TABLE, STATUS_TABLE):
        cols = ", ".join(f"{n} {t}" + (" NOT NULL" if n in spec.key or n == "time" else "")
                         for n, t in spec.columns)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {spec.table} ({cols}, PRIMARY KEY ({', '.join(spec.key)}))")
    conn.execute("CREATE INDEX IF NOT EXISTS field_reports_time ON field_reports (time)")
    conn.execute("CREATE INDEX IF NOT EXISTS field_report_status_time ON field_report_status (time)")


def _outbox(conn: psycopg.Connection, caps: Capabilities) -> None:
    # status changes staff make on the pages, stored at once and waiting for the intake to put them
    # on the bus (so the deadline rules see them): written in the same transaction as the change
    conn.execute("CREATE TABLE IF NOT EXISTS field_report_outbox (id bigserial PRIMARY KEY, "
                 "event jsonb NOT NULL, created timestamptz NOT NULL DEFAULT now())")


def _photos_array(conn: psycopg.Connection, caps: Capabilities) -> None:
    conn.execute("UPDATE field_reports SET photos = (photos #>> '{}')::jsonb "
                 "WHERE jsonb_typeof(photos) = 'string'")


def _duplicate_indexes(conn: psycopg.Connection, caps: Capabilities) -> None:
    conn.execute("CREATE INDEX IF NOT EXISTS field_reports_near ON field_reports (service_code, lat, time)")
    conn.execute("CREATE INDEX IF NOT EXISTS field_reports_photos ON field_reports "
                 "USING gin (photos jsonb_path_ops)")


def _media_url(conn: psycopg.Connection, caps: Capabilities) -> None:
    conn.execute("ALTER TABLE field_reports ADD COLUMN IF NOT EXISTS media_url text")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "field reports and their status changes", _create),
    Migration(2, "outbox of staff status changes for the bus", _outbox),
    Migration(3, "photos kept as JSON text by the bulk writer become the arrays they hold", _photos_array),
    Migration(4, "indexes of the duplicate check: a category's box, a photo's hash", _duplicate_indexes),
    Migration(5, "the address of a photo the client application keeps (the spec's media_url)", _media_url),
)
