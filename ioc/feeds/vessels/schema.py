"""Vessel tables: AIS positions (time series), static reports and the vessel register.

* ``vessel_positions``: one row per position report, natural key ``(mmsi, time)``;
  a hypertable on TimescaleDB, BRIN on plain PostgreSQL. ``vessel_latest`` keeps the
  newest position of each vessel (what the live sea map draws), upserted by the writer.
* ``vessel_static_reports``: each static/voyage report as received, key ``(mmsi, time)``;
  ``vessels`` is the register (name, call sign, type, size), upserted from the newest
  report that carries each field.
"""

from __future__ import annotations

import psycopg

from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin

RAW_VESSEL_TABLES = ("vessel_positions", "vessel_static_reports")


def apply_vessels(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration: vessel positions, static reports, the register and latest positions."""
    conn.execute(
        """
        CREATE TABLE vessel_positions (
            time        timestamptz      NOT NULL,
            mmsi        bigint           NOT NULL,
            lat         double precision NOT NULL,
            lon         double precision NOT NULL,
            sog         real,
            cog         real,
            heading     smallint,
            nav_status  smallint,
            msg_type    smallint,
            simulated   boolean          NOT NULL DEFAULT false,
            PRIMARY KEY (mmsi, time)
        )
        """
    )
    hypertable_or_brin(conn, caps, "vessel_positions", "1 day")
    conn.execute(
        """
        CREATE TABLE vessel_latest (
            mmsi        bigint PRIMARY KEY,
            time        timestamptz      NOT NULL,
            lat         double precision NOT NULL,
            lon         double precision NOT NULL,
            sog         real,
            cog         real,
            heading     smallint,
            nav_status  smallint,
            simulated   boolean          NOT NULL DEFAULT false
        );
        CREATE INDEX vessel_latest_time ON vessel_latest (time DESC);
        CREATE TABLE vessel_static_reports (
            time        timestamptz NOT NULL,
            mmsi        bigint      NOT NULL,
            name        text,
            callsign    text,
            imo         bigint,
            ship_type   smallint,
            length_m    real,
            beam_m      real,
            destination text,
            simulated   boolean     NOT NULL DEFAULT false,
            PRIMARY KEY (mmsi, time)
        );
        CREATE TABLE vessels (
            mmsi        bigint PRIMARY KEY,
            name        text,
            callsign    text,
            imo         bigint,
            ship_type   smallint,
            length_m    real,
            beam_m      real,
            destination text,
            simulated   boolean     NOT NULL DEFAULT false,
            updated_at  timestamptz NOT NULL
        );
        """
    )
    hypertable_or_brin(conn, caps, "vessel_static_reports", "7 days")


def _tenth(value: float | None) -> float | None:
    """A ``real`` column's value at the tenth AIS sends (12.3 kn, not 12.300000190734863)."""
    return None if value is None else round(value, 1)


VESSEL_POSITIONS = TableSpec(
    kind="vessel.position",
    table="vessel_positions",
    columns=(
        ("time", "timestamptz"), ("mmsi", "int8"), ("lat", "float8"), ("lon", "float8"),
        ("sog", "float4"), ("cog", "float4"), ("heading", "int2"), ("nav_status", "int2"),
        ("msg_type", "int2"), ("simulated", "bool"),
    ),
    key=("mmsi", "time"),
    to_row=lambda e: (e.time, e.mmsi, e.lat, e.lon, e.sog, e.cog, e.heading, e.nav_status, e.msg_type,
                      e.simulated),
    from_row=lambda r: VesselPosition(time=r["time"], source_id=str(r["mmsi"]), mmsi=r["mmsi"],
                                      lat=r["lat"], lon=r["lon"], sog=_tenth(r["sog"]), cog=_tenth(r["cog"]),
                                      heading=r["heading"], nav_status=r["nav_status"],
                                      msg_type=r["msg_type"], simulated=r["simulated"]),
    after_insert=(
        """
        INSERT INTO vessel_latest AS l (mmsi, time, lat, lon, sog, cog, heading, nav_status, simulated)
        SELECT DISTINCT ON (mmsi) mmsi, time, lat, lon, sog, cog, heading, nav_status, simulated
        FROM stage_vessel_positions ORDER BY mmsi, time DESC
        ON CONFLICT (mmsi) DO UPDATE SET time = excluded.time, lat = excluded.lat, lon = excluded.lon,
            sog = excluded.sog, cog = excluded.cog, heading = excluded.heading,
            nav_status = excluded.nav_status, simulated = excluded.simulated
            WHERE excluded.time > l.time
        """,
    ),
)

VESSEL_STATIC = TableSpec(
    kind="vessel.static",
    table="vessel_static_reports",
    columns=(
        ("time", "timestamptz"), ("mmsi", "int8"), ("name", "text"), ("callsign", "text"),
        ("imo", "int8"), ("ship_type", "int2"), ("length_m", "float4"), ("beam_m", "float4"),
        ("destination", "text"), ("simulated", "bool"),
    ),
    key=("mmsi", "time"),
    to_row=lambda e: (e.time, e.mmsi, e.name, e.callsign, e.imo, e.ship_type, e.length_m, e.beam_m,
                      e.destination, e.simulated),
    from_row=lambda r: VesselStatic(time=r["time"], source_id=str(r["mmsi"]), mmsi=r["mmsi"], name=r["name"],
                                    callsign=r["callsign"], imo=r["imo"], ship_type=r["ship_type"],
                                    length_m=_tenth(r["length_m"]), beam_m=_tenth(r["beam_m"]),
                                    destination=r["destination"], simulated=r["simulated"]),
    after_insert=(
        # type 24 arrives in two parts (A: name; B: call sign, type, size): keep what each carries
        """
        INSERT INTO vessels AS v (mmsi, name, callsign, imo, ship_type, length_m, beam_m, destination,
                                  simulated, updated_at)
        SELECT mmsi, (array_agg(name ORDER BY time DESC) FILTER (WHERE name IS NOT NULL))[1],
               (array_agg(callsign ORDER BY time DESC) FILTER (WHERE callsign IS NOT NULL))[1],
               (array_agg(imo ORDER BY time DESC) FILTER (WHERE imo IS NOT NULL))[1],
               (array_agg(ship_type ORDER BY time DESC) FILTER (WHERE ship_type IS NOT NULL))[1],
               (array_agg(length_m ORDER BY time DESC) FILTER (WHERE length_m IS NOT NULL))[1],
               (array_agg(beam_m ORDER BY time DESC) FILTER (WHERE beam_m IS NOT NULL))[1],
               (array_agg(destination ORDER BY time DESC) FILTER (WHERE destination IS NOT NULL))[1],
               bool_or(simulated), max(time)
        FROM stage_vessel_static_reports GROUP BY mmsi
        ON CONFLICT (mmsi) DO UPDATE SET
            name = coalesce(excluded.name, v.name), callsign = coalesce(excluded.callsign, v.callsign),
            imo = coalesce(excluded.imo, v.imo), ship_type = coalesce(excluded.ship_type, v.ship_type),
            length_m = coalesce(excluded.length_m, v.length_m), beam_m = coalesce(excluded.beam_m, v.beam_m),
            destination = coalesce(excluded.destination, v.destination),
            simulated = excluded.simulated, updated_at = greatest(v.updated_at, excluded.updated_at)
        """,
    ),
)

