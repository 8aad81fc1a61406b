"""The ``ioc`` command: ``ioc demo`` (everything in one process on the embedded default),
``ioc migrate``, ``ioc check-config``, ``ioc users``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from alerts.lifecycle import ROLES as ROLES_OF_PEOPLE
from ioc.app import log_lines
from ioc.app.stopping import StopRequest
from ioc.camera_settings import CameraConfigError
from ioc.config import ConfigError, Settings, load_settings
from ioc.health import FeedHealth
from ioc.i18n import Translator, Worded, language
from ioc.store.database import public_dsn
from ioc.store.embedded import EmbeddedPostgresError, PostgresNotFound

log = logging.getLogger("ioc")


_t = Translator("ioc")
#: the CLI's language: IOC_LANG, else the locale's (LANG=vi_VN.UTF-8 speaks Vietnamese), else English
CLI_LANG = language(os.environ.get("IOC_LANG") or os.environ.get("LC_ALL") or os.environ.get("LANG"), "en")


def tr(text: str, **params: object) -> str:
    """A user-facing text of the CLI in :data:`CLI_LANG` (domain ``ioc``)."""
    return _t(text, CLI_LANG, **params)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "dsn", None):
        overrides["database"] = {"dsn": args.dsn}
    settings = load_settings(args.config, **overrides)
    if getattr(args, "port", None) is not None:
        settings.web.port = args.port
    if getattr(args, "host", None):
        settings.web.host = args.host
    return settings


def pipeline_counts(runtime) -> dict[str, int]:  # noqa: ANN001 - Runtime
    """Events stored, alerts raised and dead letters, read back from the store."""
    with runtime.store.pool.connection() as conn:
        stored = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM stored_counts WHERE kind <> 'dead_letter'").fetchone()[0]
        alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    return {"events_stored": int(stored), "alerts_raised": int(alerts), "dead_letters": int(dead)}


def demo_login(runtime) -> tuple[str, str] | None:  # noqa: ANN001 - Runtime
    """A duty officer for the demo's console, with a fresh random password, when the store has no users."""
    import secrets

    from alerts.people import People

    people = People(runtime.store.pool)
    if people.users():
        return None
    password = secrets.token_urlsafe(12)
    people.add_user("duty", "duty_officer", password, display_name="Demo duty officer")
    return "duty", password


def _wall_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=5) as r1, \
                urllib.request.urlopen(url, timeout=10) as r2:
            return r1.status == 200 and r2.status == 200
    except OSError as exc:
        log.error("the wall at %s does not answer: %s", url, exc)
        return False


def cmd_demo(args: argparse.Namespace) -> int:
    """Run store, bus, sample feeds, detectors, alerts, scheduler and wall in one process."""
    from ioc.app.runtime import Runtime

    settings = _settings(args)
    tmp = None
    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is None and not settings.database.dsn:
        tmp = Path(tempfile.mkdtemp(prefix="ioc-demo-", dir="/var/tmp"))
        tmp.chmod(0o755)
        data_dir = tmp / "pgdata"
    if tmp is not None and not settings.vision.keyframes_dir.is_absolute():
        settings.vision.keyframes_dir = tmp / "keyframes"
    runtime = Runtime(settings, data_dir=data_dir)
    stopping = StopRequest().install()
    ok = False
    try:
        runtime.open_store()
        runtime.open_bus()
        runtime.add_sink()
        runtime.add_detectors()
        runtime.add_alerts()
        runtime.add_ingest()
        runtime.add_scheduler()
        url = runtime.add_web()
        runtime.start()
        print(tr("Wall: {url}", url=url), flush=True)
        login = demo_login(runtime)
        if login:
            print(tr("Console: {url} (duty officer {name}, password {password})", url=f"{url}console/",
                     name=repr(login[0]), password=repr(login[1])), flush=True)
        for worker in runtime.workers:  # intakes the city's apps post to (the Open311 API)
            health = FeedHealth.from_details(worker.beat().details)
            if health is not None and health.details.get("open311"):
                print(tr("Open311: {url}", url=health.details["open311"]), flush=True)
        print(tr("Store: {label} ({dsn})", label=runtime.store.caps.label, dsn=public_dsn(runtime.store.dsn)),
              flush=True)
        deadline = time.monotonic() + args.for_seconds if args.for_seconds else None
        while not stopping.requested:
            if deadline is not None and time.monotonic() >= deadline:
                break
            failed = runtime.failed_workers()
            if failed:
                log.error("workers stopped unexpectedly: %s", ", ".join(failed))
                break
            stopping.wait(0.5)
        if stopping.requested:
            log.info("signal %d: stopping", stopping.signum)
        counts = pipeline_counts(runtime)
        failed = runtime.failed_workers()
        # a timed run checks the wall answers (its exit status says so); a signal asks to stop now, and
        # a busy wall's queue could hold that stop for the check's 15 s
        wall_ok = _wall_answers(url) if not stopping.requested else True
        print(" ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
        ok = counts["events_stored"] > 0 and counts["alerts_raised"] > 0 and not failed and wall_ok
        if not ok:
            print(tr("pipeline check failed: counts={counts} failed_workers={failed} wall_ok={wall_ok}",
                     counts=counts, failed=failed, wall_ok=wall_ok), file=sys.stderr)
    finally:
        runtime.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.for_seconds:
        return 0 if ok else 1
    return 0


ROLES = ("ingest", "sink", "detectors", "alerts", "web", "scheduler")


def cmd_run(args: argparse.Namespace) -> int:
    """Run one role as its own process (distributed mode); SIGTERM stops it gracefully."""
    from ioc.app.runtime import Runtime

    settings = _settings(args)
    if args.role in ("ingest", "sink", "detectors", "alerts") and settings.bus.kind == "memory":
        print(tr("ioc run {role}: the in-process bus cannot connect separate processes; "
                 "set IOC_BUS__KIND=kafka and IOC_BUS__BOOTSTRAP_SERVERS (or use `ioc demo`)",
                 role=args.role), file=sys.stderr)
        return 2
    if not settings.database.dsn:
        print(tr("ioc run {role}: set IOC_DATABASE__DSN (or --dsn) to the shared PostgreSQL/TimescaleDB",
                 role=args.role), file=sys.stderr)
        return 2
    if args.role == "ingest" and not args.feed:
        print(tr("ioc run ingest: name the feed with --feed NAME"), file=sys.stderr)
        return 2
    if args.role == "web":  # gunicorn's arbiter handles the signals (TERM stops, HUP restarts gracefully)
        from ioc.app.web_server import serve_web_role

        return serve_web_role(settings)
    runtime = Runtime(settings)
    stopping = StopRequest().install()
    try:
        runtime.open_store()
        if args.role != "web" and args.role != "scheduler":
            runtime.open_bus(client_id=f"ioc-{args.role}")
        {
            "ingest": lambda: runtime.add_ingest(only=args.feed),
            "sink": runtime.add_sink,
            "detectors": runtime.add_detectors,
            "alerts": runtime.add_alerts,
            "scheduler": runtime.add_scheduler,
        }[args.role]()
        runtime.start()
        log.info("role %s running (pid %d)", args.role, os.getpid())
        while not stopping.wait(0.5):
            failed = runtime.failed_workers()
            if failed:
                log.error("workers stopped unexpectedly: %s", ", ".join(failed))
                return 1
        log.info("role %s stopping (signal %d)", args.role, stopping.signum)
        return 0
    finally:
        runtime.stop()


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the schema of the configured database up to date."""
    from ioc.store.database import open_store

    settings = _settings(args)
    if not settings.database.dsn:
        print(tr("set IOC_DATABASE__DSN (or --dsn) to the database to migrate"), file=sys.stderr)
        return 2
    store = open_store(settings.database.dsn, want_timescaledb=settings.database.timescaledb != "off")
    print(tr("schema up to date ({label})", label=store.caps.label))
    store.close()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a configuration file; print every error with its TOML path."""
    from ioc.app.check_config import print_report
    from ioc.config import DEFAULT_CONFIG

    return print_report(Path(args.file or args.config or os.environ.get("IOC_CONFIG") or DEFAULT_CONFIG))


def cmd_users(args: argparse.Namespace) -> int:
    """Console users: ``ioc users add NAME --role duty_officer`` (password on stdin or asked), ``list`` ..."""
    from alerts.people import users_command
    from ioc.store.database import open_store
    from ioc.store.embedded import EmbeddedPostgres

    settings = _settings(args)
    dsn, embedded = settings.database.dsn, None
    if not dsn:
        if not args.data_dir:
            print(tr("ioc users: set IOC_DATABASE__DSN (or --dsn), or name the embedded store with "
                     "--data-dir (the one `ioc demo --data-dir` keeps, while the demo is not running)"),
                  file=sys.stderr)
            return 2
        embedded = EmbeddedPostgres(Path(args.data_dir))
        dsn = embedded.start()
    store = open_store(dsn, pool_max=2, want_timescaledb=settings.database.timescaledb != "off")
    try:
        return users_command(store.pool, args.action, args.name, args.role, args.display_name,
                             language=args.language, lang=CLI_LANG, tz=settings.timezone)
    finally:
        store.close()
        if embedded is not None:
            embedded.stop()


def build_parser() -> argparse.ArgumentParser:
    from ioc.app.replay_cli import add_replay_parser

    parser = argparse.ArgumentParser(prog="ioc", description=tr("Smart-city Intelligent Operations Centre"))
    parser.add_argument("--config", help=tr("TOML settings file (default: $IOC_CONFIG or the Huế sample)"))
    parser.add_argument("-v", "--verbose", action="store_true", help=tr("log in detail"))
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help=tr("run everything on the embedded default with the sample streams"))
    demo.add_argument("--for", dest="for_seconds", type=float, default=None,
                      help=tr("run this many seconds, print counts, exit 0 only if the pipeline worked"))
    demo.add_argument("--port", type=int, default=None, help=tr("port of the wall (0: any free port)"))
    demo.add_argument("--host", default=None, help=tr("address the wall binds (default 127.0.0.1)"))
    demo.add_argument("--data-dir", default=None, help=tr("keep the embedded database here (default: temp)"))
    demo.add_argument("--dsn", default=None, help=tr("use this PostgreSQL instead of the embedded one"))
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help=tr("run one role as its own process (distributed mode)"))
    run.add_argument("role", choices=ROLES)
    run.add_argument("--feed", help=tr("the feed (or camera id) an ingest role reads"))
    run.add_argument("--port", type=int, default=None, help=tr("port of the web role"))
    run.add_argument("--host", default=None, help=tr("address the web role binds"))
    run.add_argument("--dsn", default=None, help=tr("PostgreSQL/TimescaleDB (default: IOC_DATABASE__DSN)"))
    run.set_defaults(func=cmd_run)
    mig = sub.add_parser("migrate", help=tr("create or update the schema of IOC_DATABASE__DSN"))
    mig.add_argument("--dsn", default=None)
    mig.set_defaults(func=cmd_migrate)
    chk = sub.add_parser("check-config", help=tr("validate a settings file: every error with its TOML path"))
    chk.add_argument("file", nargs="?", default=None,
                     help=tr("the TOML file (default: --config or the sample)"))
    chk.set_defaults(func=cmd_check_config)
    usr = sub.add_parser("users", help=tr("console users: add NAME --role ROLE (password on stdin or "
                                          "prompted), list, passwd NAME, disable NAME, enable NAME, "
                                          "language NAME --language vi|en|none"))
    usr.add_argument("action", choices=("add", "list", "passwd", "disable", "enable", "language"))
    usr.add_argument("--language", default=None, help=tr("the pages' language of the user: vi, en or none"))
    usr.add_argument("name", nargs="?")
    usr.add_argument("--role", choices=ROLES_OF_PEOPLE, default="viewer")
    usr.add_argument("--display-name", default="")
    usr.add_argument("--dsn", default=None)
    usr.add_argument("--data-dir", default=None, help=tr("the data directory of an embedded store"))
    usr.set_defaults(func=cmd_users)
    add_replay_parser(sub, _settings)  # ioc replay: ioc/app/replay_cli.py
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_lines.configure(logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except (PostgresNotFound, EmbeddedPostgresError, ConfigError, CameraConfigError) as exc:
        said = exc.said(CLI_LANG) if isinstance(exc, Worded) else exc  # in the reader's language
        print(tr("ioc: {error}", error=said), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
