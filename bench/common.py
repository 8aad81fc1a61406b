"""Shared helpers of the benchmarks: a private PostgreSQL and a machine description."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres


def machine() -> str:
    """One line describing the machine the figures were measured on."""
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = platform.python_version()
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, {mem:.0f} GiB, Python {py}"


@contextmanager
def private_store(timescaledb: bool = True, **server_options: str) -> Iterator[Store]:
    """A throwaway PostgreSQL (with TimescaleDB when asked and installed), migrated."""
    with tempfile.TemporaryDirectory(prefix="ioc-bench-", dir="/var/tmp") as d:
        os.chmod(d, 0o755)
        pg = EmbeddedPostgres(Path(d) / "pgdata", timescaledb=timescaledb,
                              server_options=server_options or None)
        pg.start()
        try:
            store = open_store(pg.dsn, pool_max=4, want_timescaledb=timescaledb)
            try:
                yield store
            finally:
                store.close()
        finally:
            pg.remove()
