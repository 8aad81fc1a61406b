"""A private PostgreSQL cluster for the embedded mode and the tests.

Started from the server binaries already on the machine, in a data
directory of its own, listening on 127.0.0.1 only (no Unix socket). As root,
``initdb`` and ``postgres`` refuse to run, so they run as the ``postgres`` user
with the data directory owned by it. TimescaleDB is preloaded when its library
is installed. :meth:`EmbeddedPostgres.stop` (or leaving the ``with`` block)
stops the server.

No connection is trusted: the superuser has a generated password (SCRAM-SHA-256
in ``pg_hba.conf``), kept in ``ioc-superuser.password`` (mode 0600) inside the
data directory, and :attr:`EmbeddedPostgres.dsn` carries it. So another local
process cannot connect as superuser (and, say, make itself admin in ``users``)
without reading a file only the cluster's owner may read. A cluster made before
this (``initdb -A trust``) gets a password and SCRAM on its next start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "No PostgreSQL server binaries were found (looked for initdb/pg_ctl on PATH and in "
    "/usr/lib/postgresql/*/bin). Install them with `apt-get install -y postgresql`, "
    "or set IOC_DATABASE__DSN to an existing PostgreSQL/TimescaleDB."
)


PASSWORD_FILE = "ioc-superuser.password"  # inside the data directory, mode 0600
SUPERUSER = "postgres"
_TRUST = re.compile(r"\btrust\s*$")


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries are installed on this machine."""


class EmbeddedPostgresError(RuntimeError):
    """The private cluster could not be initialised or started; the message says why."""


def find_bindir() -> Path:
    """The newest PostgreSQL server ``bin`` folder on this machine."""
    env = os.environ.get("IOC_PG_BINDIR")
    candidates = [Path(env)] if env else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.split(".")[0].isdigit()),
            key=lambda p: float(p.name),
            reverse=True,
        )
        candidates += [v / "bin" for v in versions]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists() and (cand / "postgres").exists():
            return cand
    raise PostgresNotFound(INSTALL_HINT)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_by_others(path: Path) -> bool:
    for parent in [path, *path.parents]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            return False
    return True


def timescaledb_installed(bindir: Path) -> bool:
    """True when the TimescaleDB library and control file are installed for this server."""
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        return False
    libdir = subprocess.run([pg_config, "--pkglibdir"], capture_output=True, text=True).stdout.strip()
    sharedir = subprocess.run([pg_config, "--sharedir"], capture_output=True, text=True).stdout.strip()
    return (Path(libdir) / "timescaledb.so").exists() and (
        Path(sharedir) / "extension" / "timescaledb.control"
    ).exists()


class EmbeddedPostgres:
    """One private PostgreSQL server; a context manager that yields its DSN."""

    def __init__(
        self,
        data_dir: str | Path,
        port: int | None = None,
        timescaledb: bool | None = None,
        server_options: dict[str, str] | None = None,
        database: str = "ioc",
    ) -> None:
        self.bindir = find_bindir()
        self.requested_dir = Path(data_dir).absolute()
        self.port = port or free_port()
        self.database = database
        self.timescaledb = timescaledb_installed(self.bindir) if timescaledb is None else timescaledb
        self.server_options = {"fsync": "on", **(server_options or {})}
        self._run_as: str | None = None
        self.data_dir = self.requested_dir
        if os.geteuid() == 0:
            self._run_as = "postgres"
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise EmbeddedPostgresError(
                    "running as root needs the 'postgres' system user (created by "
                    "`apt-get install -y postgresql`) to own the private cluster"
                ) from None
            if not _reachable_by_others(self.requested_dir.parent):
                digest = hashlib.sha1(str(self.requested_dir).encode()).hexdigest()[:12]
                self.data_dir = Path("/var/tmp/ioc-pg") / digest / self.requested_dir.name
                log.info("data dir %s is not reachable by the postgres user; using %s",
                         self.requested_dir, self.data_dir)
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.started = False

    @property
    def password_file(self) -> Path:
        """The superuser's password (mode 0600, inside the data directory)."""
        return self.data_dir / PASSWORD_FILE

    @property
    def password(self) -> str:
        """The superuser's generated password (read from :attr:`password_file`)."""
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise EmbeddedPostgresError(
                f"{self.password_file} is missing: the cluster has not been started by this version"
            ) from None

    @property
    def dsn(self) -> str:
        """A DSN of the superuser on :attr:`database`, with the password (keep it out of logs)."""
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        """A DSN of the superuser on ``database`` (with the password)."""
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _write_private(self, path: Path, text: str) -> None:
        """Write ``text`` to a new file only the cluster's owner may read (0600 from the start)."""
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _run(self, args: list[str | Path], check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._run_as:
            kwargs = {"user": self._run_as, "group": self._run_as}
        return subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, check=check, cwd="/", **kwargs
        )

    def _prepare_dir(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            for d in [self.data_dir.parent, *self.data_dir.parent.parents]:
                if d == Path("/"):
                    break
                if d.stat().st_uid == 0 and d.stat().st_mode & 0o001 == 0:
                    d.chmod(d.stat().st_mode | 0o001)
            os.chown(self.data_dir.parent, pw.pw_uid, pw.pw_gid)
            if self.data_dir.exists():
                os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def start(self) -> str:
        """Initialise (first time) and start the server; return its DSN."""
        self._prepare_dir()
        if not self.initialised():
            self._initdb()
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            self._run([self.bindir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "stop"], check=False)
        opts = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "100",
            "shared_buffers": "128MB",
            **self.server_options,
        }
        if self.timescaledb:
            opts["shared_preload_libraries"] = "timescaledb"
            opts["timescaledb.telemetry_level"] = "off"
        option_str = " ".join(f"-c {k}={v}" if v else f"-c {k}=''" for k, v in opts.items())
        res = self._run(
            [self.bindir / "pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60",
             "-o", option_str, "start"],
            check=False,
        )
        if res.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise EmbeddedPostgresError(f"PostgreSQL did not start: {res.stderr.strip()}\n{tail}")
        self.started = True
        if not self.password_file.exists():
            self._secure_trusting_cluster()
        self._ensure_database()
        return self.dsn

    def _initdb(self) -> None:
        """A new cluster whose superuser has a generated password, checked with SCRAM-SHA-256."""
        password = secrets.token_urlsafe(24)
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.initdb-password"
        self._write_private(pwfile, password)
        try:
            res = self._run(
                [self.bindir / "initdb", "-D", self.data_dir, "-U", SUPERUSER, "-A", "scram-sha-256",
                 f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale", "--no-sync"],
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}: {res.stderr.strip()}")
        self._write_private(self.password_file, password)

    def _secure_trusting_cluster(self) -> None:
        """A cluster made with ``initdb -A trust``: give the superuser a password, then require it."""
        import psycopg
        from psycopg import sql

        password = secrets.token_urlsafe(24)
        try:
            conn = psycopg.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres",
                                   autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise EmbeddedPostgresError(
                f"{self.password_file} is missing and the cluster asks for a password ({exc}); "
                "restore the file or start from a new data directory"
            ) from None
        with conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(password))
            )
            self._write_private(self.password_file, password)
            hba = self.data_dir / "pg_hba.conf"
            lines = [ln if ln.lstrip().startswith("#") else _TRUST.sub("scram-sha-256", ln)
                     for ln in hba.read_text().splitlines()]
            hba.write_text("\n".join(lines) + "\n")
            conn.execute("SELECT pg_reload_conf()")
        log.info("embedded PostgreSQL in %s: superuser now needs its password (SCRAM)", self.data_dir)

    def _ensure_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (fast shutdown); safe to call twice."""
        if not self.started:
            return
        self._run([self.bindir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"], check=False)
        self.started = False

    def remove(self) -> None:
        """Stop and delete the data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
