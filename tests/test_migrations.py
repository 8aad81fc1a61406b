"""Migrations numbered per namespace (the core's and each feed's), and databases of the old numbering."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest
from conftest import fresh_database, migrated_database

from ioc.feeds import FEEDS
from ioc.store.capabilities import enable
from ioc.store.embedded import EmbeddedPostgres
from ioc.store.migrations import LEGACY_VERSIONS, migrate, plan
from ioc.store.tables import Migration


def tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_plan_runs_the_core_first_then_each_feed_in_its_own_namespace() -> None:
    steps = plan()
    namespaces = [ns for ns, _ in steps]
    assert namespaces[0] == "core" and set(namespaces) == {"core", *(f.name for f in FEEDS)}
    for ns in set(namespaces):
        assert [m.version for n, m in steps if n == ns] == list(range(1, namespaces.count(ns) + 1))
    # a feed that migrates after another comes after it, whatever the registry order
    late = replace(FEEDS[0], name="late", after=("core", FEEDS[-1].name))
    order = [ns for ns, _ in plan([late, *FEEDS])]
    assert order.index("late") > max(i for i, ns in enumerate(order) if ns == FEEDS[-1].name)
    with pytest.raises(ValueError, match="cycle"):
        plan([replace(FEEDS[0], name="a", after=("b",)), replace(FEEDS[0], name="b", after=("a",))])
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        plan([replace(FEEDS[0], migrations=(Migration(2, "x", lambda c, k: None),))])


def legacy(conn: psycopg.Connection, versions: list[int]) -> None:
    """Turn the ledger back into the single numbering of before (as an old database has it)."""
    conn.execute("DROP TABLE IF EXISTS schema_migrations")
    conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, description text NOT NULL, "
                 "capability text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
    for v in versions:
        conn.execute("INSERT INTO schema_migrations (version, description, capability) VALUES (%s, 'old', "
                     "'plain PostgreSQL')", (v,))


def old_database(pg: EmbeddedPostgres, versions: list[int]) -> str:
    """A database as the old single-numbered code left it after ``versions``; its DSN."""
    dsn = fresh_database(pg)
    with psycopg.connect(dsn, autocommit=True) as conn:
        steps = {(ns, m.version): m for ns, m in plan()}
        caps = enable(conn, False)
        for v in versions:
            for key in LEGACY_VERSIONS[v]:
                steps[key].apply(conn, caps)
        legacy(conn, versions)
    return dsn


def test_a_database_of_the_old_numbering_upgrades_without_running_anything_twice(
        pg_plain: EmbeddedPostgres) -> None:
    with psycopg.connect(migrated_database(pg_plain), autocommit=True) as conn:
        current = tables(conn)
    with psycopg.connect(old_database(pg_plain, list(LEGACY_VERSIONS)), autocommit=True) as conn:
        migrate(conn, want_timescaledb=False)  # would fail (tables exist) if an old step ran again
        done = set(conn.execute("SELECT namespace, version FROM schema_migrations").fetchall())
        assert done == {(ns, m.version) for ns, m in plan()}
        assert tables(conn) == current | {"schema_migrations_legacy"}
        migrate(conn, want_timescaledb=False)  # and again: nothing to do


def test_an_old_database_half_way_gets_the_steps_it_missed(pg_plain: EmbeddedPostgres) -> None:
    """A database the old code migrated to version 3 (readings, rollups, alert lifecycle) only."""
    with psycopg.connect(old_database(pg_plain, [1, 2, 3]), autocommit=True) as conn:
        assert "vessel_positions" not in tables(conn)
        migrate(conn, want_timescaledb=False)
        assert {"vessel_positions", "camera_detections", "reports", "role_health"} <= tables(conn)
        done = set(conn.execute("SELECT namespace, version FROM schema_migrations").fetchall())
        assert done == {(ns, m.version) for ns, m in plan()}
