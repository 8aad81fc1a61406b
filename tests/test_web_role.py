"""The web role under gunicorn: several workers, an access log, a graceful restart, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from conftest import migrated_database

from ioc.store.embedded import EmbeddedPostgres
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebRole:
    """``ioc run web`` as a child process with its output in a file."""

    def __init__(self, dsn: str, log: Path, port: int | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.dsn = dsn
        self.log_path = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        env.update({"IOC_DATABASE__DSN": dsn, "IOC_WEB__WORKERS": "2", "IOC_WEB__THREADS": "4",
                    "IOC_WEB__GRACEFUL_TIMEOUT_S": "5", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                    **(extra_env or {})})
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ioc.app.cli", "run", "web", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def booted(self) -> int:
        return self.log().count("Booting worker with pid")

    def get(self, path: str) -> requests.Response | None:
        assert self.proc.poll() is None, f"the web role ended:\n{self.log()[-3000:]}"
        try:
            return requests.get(self.url + path, timeout=10)
        except requests.ConnectionError:
            return None

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def web_role(pg_plain: EmbeddedPostgres, tmp_path: Path) -> Iterator[WebRole]:
    role = WebRole(migrated_database(pg_plain), tmp_path / "web.log")
    yield role
    role.end()


def test_web_role_serves_with_workers_logs_access_restarts_gracefully_and_stops(web_role: WebRole) -> None:
    ok = lambda: (r := web_role.get("/healthz")) is not None and r.status_code == 200  # noqa: E731
    wait_for(ok, "the web role answers /healthz")
    assert web_role.proc.poll() is None
    wait_for(lambda: web_role.booted() == 2, "two gunicorn workers")
    response = web_role.get("/healthz")
    assert response is not None and response.headers["X-Content-Type-Options"] == "nosniff"
    assert "werkzeug" not in response.headers.get("Server", "").lower()
    # the access log: one combined-format line per request
    wait_for(lambda: '"GET /healthz HTTP/1.1" 200' in web_role.log(), "access log line")
    # each worker records the web role's heartbeat in the store
    def web_beats() -> int:
        with psycopg.connect(web_role.dsn) as conn:
            row = conn.execute("SELECT count(DISTINCT pid) FROM role_health WHERE role = 'web'").fetchone()
        return int(row[0]) if row else 0

    wait_for(lambda: web_beats() == 2, "a heartbeat from each web worker")

    # graceful restart: new workers boot, requests keep being answered, the master stays
    os.kill(web_role.proc.pid, signal.SIGHUP)
    wait_for(lambda: web_role.booted() >= 4, "new workers after SIGHUP")
    wait_for(ok, "answers after the restart")
    assert web_role.proc.poll() is None

    os.kill(web_role.proc.pid, signal.SIGTERM)
    assert web_role.proc.wait(timeout=60) == 0
    assert "Shutting down: Master" in web_role.log()
