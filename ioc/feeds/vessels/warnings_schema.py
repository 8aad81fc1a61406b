"""Storm warnings as rows: every warning that reached the bus is kept, so a replay raises the
storm-ban alerts the live run raised (a warning is a fact of the record like a position).

``storm_warnings``: one row per warning as issued, natural key ``(warning_id, time)`` (a re-issued
warning with the same id is a new row); its area is GeoJSON text.
"""

from __future__ import annotations

import json

import psycopg

from ioc.feeds.vessels.records import StormWarning
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec


def apply_storm_warnings(conn: psycopg.Connection, caps: Capabilities) -> None:  # noqa: ARG001
    """Migration: the table of storm warnings (few rows: a plain table at both capability levels)."""
    conn.execute(
        """
        CREATE TABLE storm_warnings (
            time        timestamptz NOT NULL,
            warning_id  text        NOT NULL,
            issuer      text        NOT NULL,
            title       text        NOT NULL DEFAULT '',
            zone_id     text,
            area        text,
            valid_from  timestamptz NOT NULL,
            valid_to    timestamptz NOT NULL,
            severity    text        NOT NULL,
            PRIMARY KEY (warning_id, time)
        );
        CREATE INDEX storm_warnings_time ON storm_warnings (time);
        """
    )


STORM_WARNINGS = TableSpec(
    kind="storm.warning",
    table="storm_warnings",
    columns=(
        ("time", "timestamptz"), ("warning_id", "text"), ("issuer", "text"), ("title", "text"),
        ("zone_id", "text"), ("area", "text"), ("valid_from", "timestamptz"), ("valid_to", "timestamptz"),
        ("severity", "text"),
    ),
    key=("warning_id", "time"),
    to_row=lambda e: (e.time, e.warning_id, e.source_id, e.title, e.zone_id,
                      json.dumps(e.area) if e.area is not None else None, e.valid_from, e.valid_to,
                      e.severity),
    from_row=lambda r: StormWarning(time=r["time"], source_id=r["issuer"], warning_id=r["warning_id"],
                                    title=r["title"], zone_id=r["zone_id"],
                                    area=json.loads(r["area"]) if r["area"] is not None else None,
                                    valid_from=r["valid_from"], valid_to=r["valid_to"],
                                    severity=r["severity"]),
)
