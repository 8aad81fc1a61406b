"""Shared fixtures: real PostgreSQL servers (plain and with TimescaleDB), a fresh database per test."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres, timescaledb_installed
from tests.browser import headless_chromium
from tests.browser import require as require_chromium

ARTIFACTS = Path(__file__).parent / "artifacts"
_db_counter = itertools.count()


def _server(tmp_root: Path, name: str, timescaledb: bool) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(
        tmp_root / name,
        timescaledb=timescaledb,
        server_options={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
    )
    pg.start()
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture(scope="session")
def pg_root() -> Iterator[Path]:
    base = Path(os.environ.get("IOC_TEST_TMP", "/var/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ioc-tests-", dir=base) as d:
        os.chmod(d, 0o755)
        yield Path(d)


@pytest.fixture(scope="session")
def pg_plain(pg_root: Path) -> Iterator[EmbeddedPostgres]:
    yield from _server(pg_root, "plain", timescaledb=False)


@pytest.fixture(scope="session")
def pg_timescale(pg_root: Path) -> Iterator[EmbeddedPostgres]:
    probe = EmbeddedPostgres(pg_root / "probe")
    if not timescaledb_installed(probe.bindir):
        if os.environ.get("IOC_REQUIRE_TIMESCALEDB"):
            pytest.fail("TimescaleDB is required (IOC_REQUIRE_TIMESCALEDB) but not installed")
        pytest.skip("TimescaleDB is not installed (scripts/build_timescaledb.sh installs it)")
    yield from _server(pg_root, "timescale", timescaledb=True)


def fresh_database(pg: EmbeddedPostgres) -> str:
    """A new empty database on ``pg``; returns its DSN."""
    name = f"t{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(pg.dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg.dsn.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["plain", "timescaledb"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated store on plain PostgreSQL, then on TimescaleDB (each test runs twice)."""
    pg = request.getfixturevalue("pg_plain" if request.param == "plain" else "pg_timescale")
    st = open_store(fresh_database(pg), pool_max=4, want_timescaledb=request.param == "timescaledb")
    assert st.caps.timescaledb == (request.param == "timescaledb")
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def browser() -> Iterator[object]:
    """A real headless Chromium (Debian's chromium + chromium-driver) driven by selenium."""
    require_chromium()
    with headless_chromium() as driver:
        yield driver
