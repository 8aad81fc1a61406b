"""``ioc replay``: a recorded period through the rules again, or a back-test of a rules file."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ioc.app.cli import CLI_LANG, tr
from ioc.app.replay import SPEEDS, BacktestDiff, ReplayRun, compare, replay_database, run_replay
from ioc.app.replay_text import diff_lines, run_lines
from ioc.config import ConfigError, Settings
from ioc.i18n import Worded, format_number
from ioc.recording import (
    ImportStopped,
    RecordingError,
    export_recording,
    import_recording,
    read_recording,
    records_from_store,
)
from ioc.rules_overlay import rules_from_text


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(tr("{text}: give a time zone (e.g. 2026-12-04T07:00+07:00)",
                                            text=repr(text)))
    return value


def with_rules(settings: Settings, path: Path) -> Settings:
    """``settings`` with the ``[rules]`` of the TOML file at ``path`` laid over its own."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError("rules file {path}: {reason}", path=path, reason=exc.strerror or exc) from None
    return rules_from_text(settings, text, Worded("rules file {path}", path=path))  # said in the reader's


def _n(value: float, digits: int = 0) -> str:
    """A count or rate in the command line's language (``5.120.000`` in Vietnamese)."""
    return format_number(value, CLI_LANG, digits)


def _print_run(label: str, run: ReplayRun) -> None:
    print("\n".join(run_lines(label, run, CLI_LANG)))


def _print_diff(diff: BacktestDiff) -> None:
    print("\n".join(diff_lines(diff, CLI_LANG)))


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Replay a recording (and compare with a rules file, when one is given)."""
    from ioc.app.runtime import Runtime

    feeds = [f.strip() for f in args.feeds.split(",")] if args.feeds else None

    runtime = Runtime(settings)
    store = runtime.open_store()  # the server replay databases are made on (never its own database)

    def records() -> Any:
        if args.recording:
            return (r for _, r in read_recording(Path(args.recording), args.start, args.end, feeds))
        return (r for _, r in records_from_store(store.pool, args.start, args.end, feeds))

    try:
        want_ts = store.caps.timescaledb
        with replay_database(store.dsn, keep=args.keep, want_timescaledb=want_ts) as replay:
            baseline = run_replay(records(), settings, replay.pool, speed=SPEEDS[args.speed])
        _print_run(tr("replay"), baseline)
        if args.rules:
            changed_settings = with_rules(settings, Path(args.rules))
            with replay_database(store.dsn, keep=args.keep, want_timescaledb=want_ts) as replay:
                changed = run_replay(records(), changed_settings, replay.pool, speed=None)
            _print_run(tr("replay with {rules}", rules=args.rules), changed)
            _print_diff(compare(baseline.alerts, changed.alerts))
    except RecordingError as exc:
        print(tr("ioc replay: {error}", error=exc.said(CLI_LANG)), file=sys.stderr)
        return 2
    finally:
        if runtime.store is not None:
            runtime.store.close()
        if runtime.embedded is not None:
            runtime.embedded.stop()
    return 0


def attachment_folders(settings: Settings) -> dict[str, Path]:
    """Where the files that records name live on this machine (record kind -> folder)."""
    return {"camera.keyframe": Path(settings.vision.keyframes_dir)}


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Write a recording's facts into the store and its key frames into this machine's folder."""
    from ioc.app.runtime import Runtime
    from ioc.store.writer import StoreWriter

    runtime = Runtime(settings)
    store = runtime.open_store()
    try:
        writer = StoreWriter(store.pool, store.caps)
        def write(batch: list[Any]) -> None:  # facts the store keeps (a bus recording may hold copies too)
            writer.write([r for r in batch if writer.storable(r.kind)])

        n = import_recording(Path(args.recording), write, attachment_folders(settings))
    except (RecordingError, ImportStopped) as exc:  # refused: nothing written; stopped: says how much
        print(tr("ioc import-recording: {error}", error=exc.said(CLI_LANG)), file=sys.stderr)
        return 2
    finally:
        store.close()
        if runtime.embedded is not None:
            runtime.embedded.stop()
    print(tr("imported {n} records from {path}", n=_n(n), path=args.recording))
    return 0


def cmd_record(args: argparse.Namespace, settings: Settings) -> int:
    """Export the store's facts of a period as a recording (one file per feed and hour)."""
    from ioc.app.runtime import Runtime

    runtime = Runtime(settings)
    store = runtime.open_store()
    try:
        feeds = [f.strip() for f in args.feeds.split(",")] if args.feeds else None
        files = export_recording(store.pool, Path(args.out), args.start, args.end, feeds,
                                 attachments=attachment_folders(settings))
    except RecordingError as exc:  # an hour file already in the folder, a manifest that is not one
        print(tr("ioc record: {error}", error=exc.said(CLI_LANG)), file=sys.stderr)
        return 2
    finally:
        store.close()
        if runtime.embedded is not None:
            runtime.embedded.stop()
    print(tr("recording in {path}: {n} records in {files} files", path=args.out,
             n=_n(sum(f.records for f in files)), files=_n(len(files))))
    return 0


def add_replay_parser(sub: Any, settings_of: Any) -> None:
    """The ``replay`` subcommand (``settings_of(args)`` loads the settings)."""
    store_help = tr("the store (default: IOC_DATABASE__DSN or the embedded one)")
    rep = sub.add_parser("replay",
                         help=tr("replay a recorded period through the rules (a back-test with --rules)"))
    rep.add_argument("--recording", default=None,
                     help=tr("a recording's folder (see ioc/recording.py); default: the store's own facts"))
    rep.add_argument("--from", dest="start", type=_when, required=True, help=tr("ISO time with its zone"))
    rep.add_argument("--to", dest="end", type=_when, required=True, help=tr("ISO time with its zone"))
    rep.add_argument("--feeds", default=None, help=tr("comma-separated feeds (default: all recorded)"))
    rep.add_argument("--speed", choices=sorted(SPEEDS), default="max",
                     help=tr("event seconds per wall second (max: as fast as possible)"))
    rep.add_argument("--rules", default=None,
                     help=tr("a TOML [rules] file: back-test it against the config's"))
    rep.add_argument("--keep", action="store_true", help=tr("keep the replay databases for inspection"))
    rep.add_argument("--dsn", default=None, help=tr("the PostgreSQL server replay databases are made on"))
    rep.set_defaults(func=lambda args: cmd_replay(args, settings_of(args)))
    rec = sub.add_parser("record", help=tr("export the store's facts of a period as a recording"))
    rec.add_argument("--out", required=True,
                     help=tr("the recording's folder: a new one, or one without these feeds' hours (an "
                             "hour file is never overwritten)"))
    rec.add_argument("--from", dest="start", type=_when, required=True, help=tr("ISO time with its zone"))
    rec.add_argument("--to", dest="end", type=_when, required=True, help=tr("ISO time with its zone"))
    rec.add_argument("--feeds", default=None, help=tr("comma-separated feeds (default: all)"))
    rec.add_argument("--dsn", default=None, help=store_help)
    rec.set_defaults(func=lambda args: cmd_record(args, settings_of(args)))
    imp = sub.add_parser("import-recording",
                         help=tr("write a recording's facts into the store and its key frames into "
                                 "their folder"))
    imp.add_argument("recording", help=tr("the recording's folder"))
    imp.add_argument("--dsn", default=None, help=store_help)
    imp.set_defaults(func=lambda args: cmd_import(args, settings_of(args)))
