"""Shared fixtures: real PostgreSQL servers (plain and with TimescaleDB), a fresh database per test."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres, timescaledb_installed
from ioc.store.migrations import migrate
from tests.browser import ChromiumWindows
from tests.browser import require as require_chromium

ARTIFACTS = Path(__file__).parent / "artifacts"
_db_counter = itertools.count()

#: the slowest tests (a running demo, several processes on Kafka, the soak: 20-200 s each, from the
#: suite's ``--durations``), longest first: they start before the rest, so the workers share them and
#: the many short tests fill the end, instead of one worker running the soak alone at the end.
#: scripts/test hands tests out a file at a time (``--dist loadfile``): with xdist's default, the
#: first batch of one worker held all of these, one after the other.
SLOW_FIRST: tuple[str, ...] = (
    "test_soak.py", "test_sea_page.py::test_sea_map_of_a_running_demo", "test_demo_pages.py",
    "test_crash_recovery.py", "test_demo.py::test_demo_for_reports", "test_replay_kafka.py",
    "test_page_languages.py", "test_distributed_e2e.py", "test_replay_page.py", "test_reports_demo.py",
    "test_demo_feeds_clocks.py", "test_db_outage.py", "test_press_page.py", "test_detector_state.py",
    "test_wall_truth.py", "test_press_simulator.py", "test_web_role.py", "test_replay_every_feed.py",
    "test_screens.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run :data:`SLOW_FIRST` first, in its order; every other test keeps its place after them."""
    def rank(item: pytest.Item) -> int:
        node = item.nodeid.rsplit("/", 1)[-1]
        return next((i for i, prefix in enumerate(SLOW_FIRST) if node.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: a module's tests keep their order, and so share its fixtures


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


def _server_url(pg: EmbeddedPostgres) -> str:
    return pg.dsn.rsplit("/", 1)[0]


def fresh_database(pg: EmbeddedPostgres) -> str:
    """A new empty database on ``pg`` (nothing migrated: for tests of the migrations); returns its DSN."""
    name = f"t{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(_server_url(pg) + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _server_url(pg) + f"/{name}"


#: (server's data folder, TimescaleDB wanted) -> name of its migrated template database
_templates: dict[tuple[str, bool], str] = {}


def _migrated_template(pg: EmbeddedPostgres, timescaledb: bool) -> str:
    """The name of a database on ``pg`` migrated once per session, to copy for each test.

    It is marked as a template that takes no connections, so nothing (a TimescaleDB background
    worker included) holds it open when a copy is made.
    """
    key = (str(pg.dsn), timescaledb)
    if key not in _templates:
        name = f"template_ioc_{'tsdb' if timescaledb else 'plain'}_{os.getpid()}"
        with psycopg.connect(_server_url(pg) + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(_server_url(pg) + f"/{name}") as conn:
            migrate(conn, timescaledb)
        with psycopg.connect(_server_url(pg) + "/postgres", autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        _templates[key] = name
    return _templates[key]


def migrated_database(pg: EmbeddedPostgres, timescaledb: bool = False) -> str:
    """A new database on ``pg`` holding the migrated schema and no data; returns its DSN.

    A copy of a template migrated once per session (``CREATE DATABASE ... TEMPLATE``), so each
    test still gets a database of its own without running every migration again.
    ``timescaledb`` is what :func:`~ioc.store.migrations.migrate` was asked for (it needs a
    server with the extension preloaded, as ``pg_timescale``).
    """
    template = _migrated_template(pg, timescaledb)
    name = f"t{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(_server_url(pg) + "/postgres", autocommit=True) as conn:
        # FILE_COPY: a checkpoint and a copy of the files, faster here than logging every page
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return _server_url(pg) + f"/{name}"


@pytest.fixture(params=["plain", "timescaledb"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated store on plain PostgreSQL, then on TimescaleDB (each test runs twice)."""
    timescaledb = request.param == "timescaledb"
    pg = request.getfixturevalue("pg_timescale" if timescaledb else "pg_plain")
    st = open_store(migrated_database(pg, timescaledb), pool_max=4, want_timescaledb=timescaledb)
    assert st.caps.timescaledb == (request.param == "timescaledb")
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def plain_store(pg_plain: EmbeddedPostgres) -> Iterator[Store]:
    """A migrated store of its own on plain PostgreSQL (for tests that need one capability level)."""
    st = open_store(migrated_database(pg_plain), pool_max=6, want_timescaledb=False)
    try:
        yield st
    finally:
        st.close()


class Clock:
    """A clock the test moves by hand: ``clock()`` is the time now."""

    def __init__(self, t: datetime) -> None:
        self.start = self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float = 0.0, **kw: float) -> datetime:
        """Move on by ``seconds`` (or ``minutes=``, ``hours=``...); the new time."""
        self.t += timedelta(seconds=seconds, **kw)
        return self.t

    def at(self, minutes: float) -> datetime:
        """Set the clock to ``minutes`` after where it started."""
        self.t = self.start + timedelta(minutes=minutes)
        return self.t


@pytest.fixture(scope="session")
def chromium() -> Iterator[ChromiumWindows]:
    """One real headless Chromium (Debian's chromium + chromium-driver) per test worker."""
    require_chromium()
    windows = ChromiumWindows()
    try:
        yield windows
    finally:
        windows.close()


@pytest.fixture
def browser(chromium: ChromiumWindows) -> Iterator[object]:
    """A selenium driver on a window of its own in a fresh browser context (cookies, cache and
    storage of its own) of the worker's Chromium, 1920x1080."""
    with chromium.window() as driver:
        yield driver
