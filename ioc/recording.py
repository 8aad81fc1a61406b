"""The recording format: facts of one feed for one hour in one compressed file, to move a day elsewhere.

A recording is a folder: ``<feed>/<feed>-YYYYMMDDTHHZ.jsonl.gz`` per feed and hour (UTC), each a
gzip of JSON lines: a header line ``{"ioc_recording": 1, "feed": ..., "hour": ..., "schema":
{kind: version}}`` and then one wire record per line (the bus's own JSON form, :func:`ioc.events.decode`
reads it back), in event-time order. ``manifest.json`` lists every file with its record count and
SHA-256, so an import notices a truncated or altered file.

A record that names a file (a camera key frame's JPEG) brings it along: ``attachments`` maps such a
record kind to the folder its ``path`` is relative to; the file is copied to
``files/<kind>/<path>`` and listed in the manifest's ``attachments`` with its SHA-256 (a file already
gone from the folder is listed under ``missing``). :func:`import_recording` writes the records into
a store and puts the files back in the receiving machine's folders.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ioc.events import SCHEMA_VERSION, Event, EventDecodeError, decode

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class RecordingError(ValueError):
    """A recording that cannot be read as one (its reason names the file)."""


def hour_of(t: datetime) -> datetime:
    """The UTC hour ``t`` falls in."""
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def file_name(feed: str, hour: datetime) -> str:
    return f"{feed}/{feed}-{hour.strftime('%Y%m%dT%H')}Z.jsonl.gz"


@dataclass(frozen=True)
class RecordedFile:
    """One line of the manifest."""

    path: str
    feed: str
    hour: datetime
    records: int
    sha256: str


class _HourFile:
    """One hour file being written: gzip stream, its kinds and count."""

    def __init__(self, root: Path, feed: str, hour: datetime) -> None:
        self.feed, self.hour, self.records = feed, hour, 0
        self.path = root / file_name(feed, hour)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.body = self.path.with_suffix(".body")
        self.out = gzip.open(self.body, "wb", compresslevel=6)
        self.kinds: set[str] = set()

    def add(self, record: Event) -> None:
        self.kinds.add(record.kind)  # type: ignore[attr-defined]
        self.out.write(record.to_wire() + b"\n")
        self.records += 1

    def close(self) -> RecordedFile:
        """Prefix the header (a gzip member of its own: gzip readers join members) and hash."""
        self.out.close()
        header = {"ioc_recording": FORMAT_VERSION, "feed": self.feed, "hour": self.hour.isoformat(),
                  "schema": {k: SCHEMA_VERSION for k in sorted(self.kinds)}}
        with open(self.path, "wb") as out:
            out.write(gzip.compress(json.dumps(header).encode() + b"\n"))
            with open(self.body, "rb") as body:
                while chunk := body.read(1 << 20):
                    out.write(chunk)
        self.body.unlink()
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return RecordedFile(file_name(self.feed, self.hour), self.feed, self.hour, self.records,
                            digest.hexdigest())


def _inside(base: Path, relative: str) -> Path | None:
    """``base / relative`` if that stays inside ``base``, else None."""
    if not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        return None
    return base / relative


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _Attachments:
    """The files records name, copied into the recording as they stream past."""

    def __init__(self, root: Path, folders: Mapping[str, Path]) -> None:
        self.root, self.folders = root, folders
        self.listed: dict[str, dict[str, Any]] = {}
        self.missing: list[str] = []

    def add(self, record: Event) -> None:
        kind = record.kind  # type: ignore[attr-defined]
        folder = self.folders.get(kind)
        name = getattr(record, "path", None)
        if folder is None or not isinstance(name, str):
            return
        source, target = _inside(folder, name), _inside(self.root / "files" / kind, name)
        if source is None or target is None or not source.is_file():
            self.missing.append(f"{kind}/{name}")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        self.listed[f"{kind}/{name}"] = {"kind": kind, "path": name, "sha256": _sha256(target),
                                         "bytes": target.stat().st_size}


def write_recording(root: Path, records: Iterable[tuple[str, Event]], ordered: bool = False,
                    attachments: Mapping[str, Path] | None = None) -> list[RecordedFile]:
    """Write ``(feed, record)`` pairs into hour files under ``root``, and the manifest; returns the
    files written. With ``ordered`` (each feed's records already in event-time order) the records
    stream through (any number of them); otherwise they are sorted in memory first. ``attachments``:
    record kind -> the folder the files its records name are in (copied along)."""
    if not ordered:
        records = sorted(records, key=lambda pair: pair[1].time)
    root.mkdir(parents=True, exist_ok=True)
    files = _Attachments(root, attachments or {})
    open_files: dict[str, _HourFile] = {}
    written: list[RecordedFile] = []
    for feed, record in records:
        files.add(record)
        hour = hour_of(record.time)
        current = open_files.get(feed)
        if current is not None and current.hour != hour:
            if hour < current.hour:
                raise RecordingError(f"{feed}: a record of {record.time.isoformat()} after "
                                     f"{current.hour.isoformat()}: records must come in event-time order")
            written.append(current.close())
            current = None
        if current is None:
            current = open_files[feed] = _HourFile(root, feed, hour)
        current.add(record)
    written += [f.close() for f in open_files.values()]
    manifest = root / MANIFEST
    known = {f.path: f for f in read_manifest(root)} if manifest.exists() else {}
    known.update({f.path: f for f in written})
    before = json.loads(manifest.read_text()) if manifest.exists() else {}
    listed = {f"{a['kind']}/{a['path']}": a for a in before.get("attachments", [])} | files.listed
    manifest.write_text(json.dumps(
        {"ioc_recording": FORMAT_VERSION,
         "files": [{"path": f.path, "feed": f.feed, "hour": f.hour.isoformat(), "records": f.records,
                    "sha256": f.sha256} for f in sorted(known.values(), key=lambda f: f.path)],
         "attachments": [listed[k] for k in sorted(listed)],
         "missing": sorted(set(before.get("missing", [])) | set(files.missing))},
        indent=1))
    return sorted(written, key=lambda f: f.path)


def read_manifest(root: Path) -> list[RecordedFile]:
    """The files a recording holds, as its manifest lists them."""
    try:
        doc = json.loads((root / MANIFEST).read_text())
        if doc.get("ioc_recording") != FORMAT_VERSION:
            raise RecordingError(f"{root / MANIFEST}: not a version {FORMAT_VERSION} recording")
        return [RecordedFile(f["path"], f["feed"], datetime.fromisoformat(f["hour"]), int(f["records"]),
                             f["sha256"]) for f in doc["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, RecordingError):
            raise
        raise RecordingError(f"{root / MANIFEST}: {exc}") from None


def _read_file(root: Path, f: RecordedFile, start: datetime, end: datetime) -> Iterator[Event]:
    path = root / f.path
    if ".." in Path(f.path).parts or Path(f.path).is_absolute():
        raise RecordingError(f"{f.path}: a manifest path must stay inside the recording")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != f.sha256:
        raise RecordingError(f"{f.path}: SHA-256 differs from the manifest (altered or truncated)")
    lines = gzip.decompress(data).splitlines()
    if not lines:
        raise RecordingError(f"{f.path}: empty")
    header = json.loads(lines[0])
    if header.get("ioc_recording") != FORMAT_VERSION:
        raise RecordingError(f"{f.path}: unknown format {header.get('ioc_recording')!r}")
    unknown = {k: v for k, v in header.get("schema", {}).items() if v != SCHEMA_VERSION}
    if unknown:
        raise RecordingError(f"{f.path}: record schema versions {unknown} are not {SCHEMA_VERSION}")
    if len(lines) - 1 != f.records:
        raise RecordingError(f"{f.path}: {len(lines) - 1} records, the manifest says {f.records}")
    for n, line in enumerate(lines[1:], start=2):
        try:
            record = decode(line)
        except EventDecodeError as exc:
            raise RecordingError(f"{f.path} line {n}: {exc}") from None
        if start <= record.time < end:
            yield record


def read_recording(root: Path, start: datetime, end: datetime,
                   feeds: Sequence[str] | None = None) -> Iterator[tuple[str, Event]]:
    """``(feed, record)`` of every recorded fact in ``[start, end)``, in event-time order across feeds."""
    files = [f for f in read_manifest(root)
             if (feeds is None or f.feed in feeds) and f.hour < end and f.hour + timedelta(hours=1) > start]
    def stream(feed: str) -> Iterator[tuple[str, Event]]:
        for f in sorted((f for f in files if f.feed == feed), key=lambda f: f.hour):
            for record in _read_file(root, f, start, end):
                yield feed, record

    streams = [stream(feed) for feed in sorted({f.feed for f in files})]
    yield from heapq.merge(*streams, key=lambda pair: pair[1].time)


def records_from_store(pool: Any, start: datetime, end: datetime, feeds: Sequence[str] | None = None,
                       batch: int = 5000) -> Iterator[tuple[str, Event]]:
    """``(feed, record)`` of every stored fact in ``[start, end)``, in event-time order across feeds
    (each feed's raw tables whose spec can turn a row back into its record; server-side cursors)."""
    from ioc.feeds import FEEDS  # the feeds declare which tables hold records and how to read them

    def stream(feed: str, spec: Any) -> Iterator[tuple[str, Event]]:
        names = [c for c, _ in spec.columns]
        with pool.connection() as conn, conn.cursor(name=f"export_{spec.table}") as cur:
            cur.itersize = batch
            cur.execute(f"SELECT {', '.join(names)} FROM {spec.table} WHERE {spec.time_column} >= %s "
                        f"AND {spec.time_column} < %s ORDER BY {spec.time_column}", (start, end))
            for row in cur:
                yield feed, spec.from_row(dict(zip(names, row, strict=True)))

    streams = [stream(f.name, spec) for f in FEEDS if feeds is None or f.name in feeds
               for spec in f.tables if spec.from_row is not None]
    yield from heapq.merge(*streams, key=lambda pair: pair[1].time)


def export_recording(pool: Any, root: Path, start: datetime, end: datetime,
                     feeds: Sequence[str] | None = None,
                     attachments: Mapping[str, Path] | None = None) -> list[RecordedFile]:
    """The store's facts of ``[start, end)`` as a recording under ``root`` (with the files they name)."""
    return write_recording(root, records_from_store(pool, start, end, feeds), ordered=True,
                           attachments=attachments)


def count_in_store(pool: Any, start: datetime, end: datetime, feeds: Sequence[str] | None = None) -> int:
    """How many records :func:`records_from_store` would give for ``[start, end)`` (a replay's total)."""
    from ioc.feeds import FEEDS

    total = 0
    with pool.connection() as conn:
        for f in FEEDS:
            if feeds is not None and f.name not in feeds:
                continue
            for spec in f.tables:
                if spec.from_row is not None:
                    row = conn.execute(f"SELECT count(*) FROM {spec.table} WHERE {spec.time_column} >= %s "
                                       f"AND {spec.time_column} < %s", (start, end)).fetchone()
                    total += int(row[0]) if row else 0
    return total


def restore_attachments(root: Path, folders: Mapping[str, Path]) -> int:
    """Copy a recording's files (their SHA-256 checked) into ``folders`` (record kind -> folder);
    returns how many were copied. A file that differs from the manifest is a :class:`RecordingError`."""
    try:
        listed = json.loads((root / MANIFEST).read_text()).get("attachments", [])
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{root / MANIFEST}: {exc}") from None
    copied = 0
    for a in listed:
        folder = folders.get(a["kind"])
        if folder is None:
            continue
        source, target = _inside(root / "files" / a["kind"], a["path"]), _inside(folder, a["path"])
        if source is None or target is None:
            raise RecordingError(f"attachment {a['path']!r}: a path must stay inside its folder")
        if not source.is_file() or _sha256(source) != a["sha256"]:
            raise RecordingError(f"files/{a['kind']}/{a['path']}: missing or altered (SHA-256 differs)")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied += 1
    return copied


def import_recording(root: Path, write: Callable[[list[Event]], Any], folders: Mapping[str, Path],
                     start: datetime | None = None, end: datetime | None = None, batch: int = 5000) -> int:
    """Every record of a recording handed to ``write`` in batches (a store writer's ``write``: its
    natural keys make a second import add nothing), and its files put into ``folders``; returns how
    many records were read."""
    start = start or datetime.min.replace(tzinfo=UTC)
    end = end or datetime.max.replace(tzinfo=UTC)
    pending: list[Event] = []
    n = 0
    for _, record in read_recording(root, start, end):
        pending.append(record)
        n += 1
        if len(pending) >= batch:
            write(pending)
            pending = []
    if pending:
        write(pending)
    restore_attachments(root, folders)
    return n
