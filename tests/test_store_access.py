"""Who may connect to the embedded PostgreSQL: only whoever holds the generated superuser password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from ioc.store.database import public_dsn
from ioc.store.embedded import PASSWORD_FILE, EmbeddedPostgres


def _without_password(pg: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connect as the superuser the way any local process could: no password, no passfile."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", passfile=os.devnull, connect_timeout=5
    ):
        pass


def _refused(pg: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        _without_password(pg, monkeypatch)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://postgres:guess@127.0.0.1:{pg.port}/postgres", connect_timeout=5)


def test_superuser_needs_the_generated_password(
    pg_plain: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refused(pg_plain, monkeypatch)
    with psycopg.connect(pg_plain.dsn, connect_timeout=5) as conn:  # the DSN carries the password
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    secret = pg_plain.password_file
    assert secret.parent == pg_plain.data_dir and secret.name == PASSWORD_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(pg_plain.password) >= 24
    hba = (pg_plain.data_dir / "pg_hba.conf").read_text().splitlines()
    methods = {ln.split()[-1] for ln in hba if ln.strip() and not ln.lstrip().startswith("#")}
    assert methods == {"scram-sha-256"}
    assert pg_plain.password not in public_dsn(pg_plain.dsn)
    assert public_dsn(pg_plain.dsn) == f"postgresql://postgres@127.0.0.1:{pg_plain.port}/ioc"


def test_a_cluster_made_trusting_is_locked_on_its_next_start(
    pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = EmbeddedPostgres(pg_root / "trusting", timescaledb=False)
    old._prepare_dir()
    old._run([old.bindir / "initdb", "-D", old.data_dir, "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--no-locale", "--no-sync"])  # what earlier versions made
    try:
        old.start()
        _refused(old, monkeypatch)
        with psycopg.connect(old.dsn, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        old.stop()
        old.start()  # and it stays so
        _refused(old, monkeypatch)
    finally:
        old.remove()
