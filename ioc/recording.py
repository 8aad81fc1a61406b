"""The recording format: facts of one feed for one hour in one compressed file, to move a day elsewhere.

A recording is a folder: ``<feed>/<feed>-YYYYMMDDTHHZ.jsonl.gz`` per feed and hour (UTC), each a
gzip of JSON lines: a header line ``{"ioc_recording": 1, "feed": ..., "hour": ..., "schema":
{kind: version}}`` and then one wire record per line (the bus's own JSON form, :func:`ioc.events.decode`
reads it back), in event-time order, each inside the file's hour. ``manifest.json`` lists every file
with its record count and SHA-256, so an import notices a truncated or altered file.

A record that names a file (a camera key frame's JPEG) brings it along: ``attachments`` maps such a
record kind to the folder its ``path`` is relative to; the file is copied to
``files/<kind>/<path>`` and listed in the manifest's ``attachments`` with its SHA-256 (a file already
gone from the folder is listed under ``missing``). :func:`import_recording` writes the records into
a store and puts the files back in the receiving machine's folders.

Writing into a folder that holds a recording adds hour files (other feeds, other hours) to its
manifest; an hour file already there is refused (:class:`RecordingError`: record into a new
folder), never overwritten or appended to. Each file is made new, down real folders, never
through a link (:func:`ioc.recording_checks.create_new`), the manifest and a restored file through
a fresh temporary name; a write that fails takes out what it made.

Reading trusts nothing in the folder (:mod:`ioc.recording_checks`): the manifest's size and each
of its entries are checked, a listed file must be a regular file of one name inside the folder (no
hard link), and a file is streamed (memory bounded by a line's length) with its SHA-256, its
header, each record's kind, its time inside the file's hour and in time order, and its record
count checked.
:func:`import_recording` reads the whole recording through before its first write, so a refused
recording writes nothing; a refusal's reason names the file.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, nullcontext, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ioc.events import SCHEMA_VERSION, Event, EventDecodeError, decode
from ioc.i18n import Worded
from ioc.recording_checks import (
    EARLIEST_HOUR,
    FORMAT_VERSION,
    HOUR,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    Attachment,
    HashedStream,
    Manifest,
    RecordedFile,
    RecordingError,
    copy_hashed,
    create_new,
    file_name,
    folder_inside,
    hour_of,
    latest_hour,
    lines_after_header,
    load_manifest,
    open_inside,
    plain_name,
    plain_relative_path,
    read_header,
    sha256_of,
)

__all__ = ["FORMAT_VERSION", "MANIFEST", "ImportStopped", "RecordedFile", "RecordingError", "check_recording",
           "count_in_store", "export_recording", "file_name", "hour_of", "import_recording", "read_manifest",
           "read_recording", "records_from_store", "restore_attachments", "write_recording"]


class ImportStopped(Worded, RuntimeError):
    """A write failed after the recording was checked (the store went down): ``written`` of its
    ``total`` records were written before it."""

    def __init__(self, written: int, total: int, cause: BaseException) -> None:
        reason = cause if isinstance(cause, Worded) else (str(cause).strip() or type(cause).__name__)
        super().__init__("the import stopped after {written} of {total} records were written: {reason}",
                         written=written, total=total, reason=reason)
        self.written, self.total = written, total


def _remove(root: Path, relative: str, names: Iterable[str]) -> None:
    """Take files this write made out of the folder ``root/relative`` again (down real folders only)."""
    with suppress(RecordingError):  # the folder gone or made a link since: nothing of this write there
        folder = folder_inside(root, relative.split("/"), relative)
        try:
            for name in names:
                with suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=folder)
        finally:
            os.close(folder)


def _put(folder: int, name: str, fill: Callable[[BinaryIO], object]) -> None:
    """``name`` in the folder open as ``folder`` replaced at once by what ``fill`` writes into a fresh
    temporary file (a link of that name is replaced, not written through; the temporary file is
    removed when ``fill`` fails)."""
    part, out = create_new(folder)
    try:
        with out:
            fill(out)
        os.replace(part, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(part, dir_fd=folder)
        raise


class _HourFile:
    """One hour file being written: gzip stream (into a temporary file beside it), its kinds and count.
    A file of that name already in the folder (or listed in its manifest: ``taken``) is never
    overwritten; a folder on the way must be a real one, not a link."""

    def __init__(self, root: Path, feed: str, hour: datetime, taken: set[str]) -> None:
        self.root, self.feed, self.hour, self.records, self.last = root, feed, hour, 0, hour
        self.name, self.made, self.kinds = file_name(feed, hour), list[str](), set[str]()
        self.gz, self.out, self.body = None, None, None  # what is open (discard closes it)
        folder = folder_inside(root, [feed], self.name, create=True)
        try:
            if self.name in taken:
                raise FileExistsError
            self.out = create_new(folder, self.name.split("/")[1])[1]
            self.made.append(self.name.split("/")[1])
            self.made.append((body := create_new(folder))[0])
            self.body = body[1]
            self.gz = gzip.GzipFile(fileobj=self.body, mode="wb", compresslevel=6)
        except BaseException as exc:
            self.discard()
            if isinstance(exc, FileExistsError):
                raise RecordingError("{file}: the hour file exists already: record into a new folder (an "
                                     "hour file is never overwritten)", file=str(root / self.name)) from None
            raise
        finally:
            os.close(folder)

    def add(self, record: Event) -> None:
        if record.time < self.last:
            raise RecordingError("{feed}: a record of {time} after one of {previous}: records must come in "
                                 "event-time order", feed=self.feed, time=record.time.isoformat(),
                                 previous=self.last.isoformat())
        self.last = record.time
        self.kinds.add(record.kind)  # type: ignore[attr-defined]
        self.gz.write(record.to_wire() + b"\n")
        self.records += 1

    def close(self) -> RecordedFile:
        """Prefix the header (a gzip member of its own: gzip readers join members) and hash."""
        self.gz.close()
        header = {"ioc_recording": FORMAT_VERSION, "feed": self.feed, "hour": self.hour.isoformat(),
                  "schema": {k: SCHEMA_VERSION for k in sorted(self.kinds)}}
        first = gzip.compress(json.dumps(header).encode() + b"\n")
        with self.out, self.body:
            self.out.write(first)
            self.body.seek(0)
            digest, _ = copy_hashed(self.body, self.out, hashlib.sha256(first))
        _remove(self.root, self.feed, self.made[1:])
        return RecordedFile(self.name, self.feed, self.hour, self.records, digest)

    def discard(self) -> None:
        """Take the file back out of the folder (a write that failed leaves the folder as it was)."""
        for f in (self.gz, self.body, self.out):
            with suppress(OSError):
                if f is not None:
                    f.close()
        _remove(self.root, self.feed, self.made)


class _Attachments:
    """The files records name, copied into the recording as they stream past (each made new, never
    written through a link; one of that name there already is kept if it is the same file)."""

    def __init__(self, root: Path, folders: Mapping[str, Path]) -> None:
        self.root, self.folders = root, folders
        self.listed: dict[str, Attachment] = {}
        self.missing: list[str] = []
        self.created: list[str] = []

    def add(self, record: Event) -> None:
        kind = record.kind  # type: ignore[attr-defined]
        folder = self.folders.get(kind)
        name = getattr(record, "path", None)
        if folder is None or not isinstance(name, str) or f"{kind}/{name}" in self.listed:
            return
        source = folder / name  # inside the folder when a plain relative path
        if not plain_relative_path(name) or not source.is_file():
            self.missing.append(f"{kind}/{name}")
            return
        stored = f"files/{kind}/{name}"
        into = folder_inside(self.root, stored.split("/")[:-1], stored, create=True)
        try:
            out = create_new(into, stored.rsplit("/", 1)[1])[1]
            self.created.append(stored)
        except FileExistsError:
            out = None  # there already (another write into this folder): kept if the same file
        finally:
            os.close(into)
        with out or nullcontext(), open(source, "rb") as src:
            digest, size = copy_hashed(src, out)
        if out is None and sha256_of(self.root, stored) != (digest, size):
            raise RecordingError("{file}: another file of that name is in the folder already: record into a "
                                 "new folder (a file is never overwritten)", file=stored)
        self.listed[f"{kind}/{name}"] = Attachment(kind, name, digest, size)

    def discard(self) -> None:
        for stored in self.created:
            folder, name = stored.rsplit("/", 1)
            _remove(self.root, folder, [name])


def _write_manifest(root: Path, before: Manifest, written: list[RecordedFile], files: _Attachments) -> None:
    """The folder's manifest: what it listed and what was written, put in place at once (through a
    fresh temporary file: a link of its name is replaced, not written through)."""
    known = {f.path: f for f in [*before.files, *written]}
    listed = {a.stored: a for a in before.attachments} | {a.stored: a for a in files.listed.values()}
    text = json.dumps(
        {"ioc_recording": FORMAT_VERSION,
         "files": [{"path": f.path, "feed": f.feed, "hour": f.hour.isoformat(), "records": f.records,
                    "sha256": f.sha256} for f in sorted(known.values(), key=lambda f: f.path)],
         "attachments": [listed[k].as_json() for k in sorted(listed)],
         "missing": sorted(set(before.missing) | set(files.missing))},
        indent=1).encode()
    if len(text) > MAX_MANIFEST_BYTES:
        raise RecordingError("{file}: the manifest would be larger than {limit} bytes, more than a reader "
                             "accepts: record fewer hours into each folder", file=str(root / MANIFEST),
                             limit=MAX_MANIFEST_BYTES)
    folder = folder_inside(root, [], MANIFEST)
    try:
        _put(folder, MANIFEST, lambda out: out.write(text))
    finally:
        os.close(folder)


def write_recording(root: Path, records: Iterable[tuple[str, Event]], ordered: bool = False,
                    attachments: Mapping[str, Path] | None = None) -> list[RecordedFile]:
    """Write ``(feed, record)`` pairs into hour files under ``root``, and the manifest; returns the
    files written. With ``ordered`` (each feed's records already in event-time order) the records
    stream through (any number of them); otherwise they are sorted in memory first. ``attachments``:
    record kind -> the folder the files its records name are in (copied along).

    A folder that holds a recording already gains the new hour files (another feed, other hours) in
    its manifest; an hour file it holds is never overwritten nor appended to: that is a
    :class:`RecordingError` (record into a new folder), and a write that fails leaves the folder
    as it was. A record's time must lie from :data:`EARLIEST_HOUR` to a day past now (what a
    recording may hold)."""
    if not ordered:
        records = sorted(records, key=lambda pair: pair[1].time)
    root.mkdir(parents=True, exist_ok=True)
    before = load_manifest(root) if os.path.lexists(root / MANIFEST) else Manifest()
    taken = {f.path for f in before.files}
    files = _Attachments(root, attachments or {})
    open_files: dict[str, _HourFile] = {}
    started: list[_HourFile] = []
    written: list[RecordedFile] = []
    latest = latest_hour() + HOUR
    try:
        for feed, record in records:
            if not plain_name(feed):
                raise RecordingError("{feed}: the feed name is not a plain name", feed=repr(feed))
            if not EARLIEST_HOUR <= record.time < latest:
                raise RecordingError("{feed}: a record of {time} lies outside {earliest} .. {latest}, the "
                                     "times a recording holds", feed=feed, time=record.time.isoformat(),
                                     earliest=EARLIEST_HOUR.isoformat(), latest=latest.isoformat())
            hour = hour_of(record.time)
            current = open_files.get(feed)
            if current is not None and current.hour != hour:
                if hour < current.hour:
                    raise RecordingError("{feed}: a record of {time} after one of {previous}: records must "
                                         "come in event-time order", feed=feed, time=record.time.isoformat(),
                                         previous=current.last.isoformat())
                written.append(current.close())
                current = None
            if current is None:
                current = open_files[feed] = _HourFile(root, feed, hour, taken)
                started.append(current)
            files.add(record)
            current.add(record)
        written += [f.close() for f in open_files.values()]
        _write_manifest(root, before, written, files)
    except BaseException:
        for f in started:
            f.discard()
        files.discard()
        raise
    return sorted(written, key=lambda f: f.path)


def read_manifest(root: Path) -> list[RecordedFile]:
    """The files a recording holds, as its manifest lists them (every entry checked:
    :func:`ioc.recording_checks.load_manifest`)."""
    return load_manifest(root).files


def _altered(label: str) -> RecordingError:
    return RecordingError("{file}: SHA-256 differs from the manifest (altered or truncated)", file=label)


def _read_file(root: Path, f: RecordedFile, start: datetime, end: datetime) -> Iterator[Event]:
    """The records of one listed file in ``[start, end)``, the whole file checked as it streams: its
    header, every line a record of a kind the header lists, of a time inside the file's hour and not
    before the line above it, the manifest's count, and (at its end, or first when anything is
    wrong) its SHA-256."""
    end_of_hour = f.hour + HOUR
    with HashedStream(root, f.path, f.sha256) as stream:
        try:
            kinds = read_header(stream, f, SCHEMA_VERSION)
            previous, count = f.hour, 0
            for number, line in lines_after_header(stream):
                count += 1
                if count > f.records:
                    raise RecordingError("{file}: more records than the {n} the manifest says", file=f.path,
                                         n=f.records)
                try:
                    record = decode(line[:-1] if line.endswith(b"\n") else line)
                except EventDecodeError as exc:
                    raise RecordingError("{file} line {line}: {reason}", file=f.path, line=number,
                                         reason=str(exc)) from None
                kind = record.kind  # type: ignore[attr-defined]
                if kind not in kinds:
                    raise RecordingError("{file} line {line}: kind {kind} is not among the kinds its header "
                                         "lists", file=f.path, line=number, kind=kind)
                if not f.hour <= record.time < end_of_hour:
                    raise RecordingError("{file} line {line}: time {time} lies outside the file's hour "
                                         "{hour}", file=f.path, line=number, time=record.time.isoformat(),
                                         hour=f.hour.isoformat())
                if record.time < previous:
                    raise RecordingError("{file} line {line}: time {time} is before the line above it "
                                         "({previous}): records must be in time order", file=f.path,
                                         line=number, time=record.time.isoformat(),
                                         previous=previous.isoformat())
                previous = record.time
                if start <= record.time < end:
                    yield record
            if count != f.records:
                raise RecordingError("{file}: {found} records, the manifest says {n}", file=f.path,
                                     found=count, n=f.records)
        except RecordingError:
            if stream.altered():  # the reason is then the change, not what it broke
                raise _altered(f.path) from None
            raise
        if stream.altered():
            raise _altered(f.path)


def _records(root: Path, files: Sequence[RecordedFile], start: datetime,
             end: datetime) -> Iterator[tuple[str, Event]]:
    """``(feed, record)`` of ``files`` in ``[start, end)``, in event-time order across feeds (each
    file's records checked to lie in its hour in time order: the merge may trust each feed's order)."""
    def stream(feed: str) -> Iterator[tuple[str, Event]]:
        for f in sorted((f for f in files if f.feed == feed), key=lambda f: f.hour):
            for record in _read_file(root, f, start, end):
                yield feed, record

    streams = [stream(feed) for feed in sorted({f.feed for f in files})]
    yield from heapq.merge(*streams, key=lambda pair: pair[1].time)


def read_recording(root: Path, start: datetime, end: datetime,
                   feeds: Sequence[str] | None = None) -> Iterator[tuple[str, Event]]:
    """``(feed, record)`` of every recorded fact in ``[start, end)``, in event-time order across feeds.
    The SHA-256 of every file read is checked before the first record is given; anything else
    wrong with a file (a cut gzip whose hash was updated, a bad line) is a :class:`RecordingError`
    when it is reached (:func:`check_recording` reads a whole recording through first)."""
    files = [f for f in load_manifest(root).files
             if (feeds is None or f.feed in feeds) and f.hour < end and f.hour + HOUR > start]
    for f in files:
        if sha256_of(root, f.path)[0] != f.sha256:
            raise _altered(f.path)
    yield from _records(root, files, start, end)


def check_recording(root: Path, start: datetime | None = None,
                    end: datetime | None = None) -> tuple[Manifest, int]:
    """Read a whole recording through, keeping nothing: every listed file (as :func:`_read_file`
    checks it) and every attachment's SHA-256 and size; returns the manifest and how many records
    lie in ``[start, end)``. A :class:`RecordingError` names the first thing wrong."""
    start = start or datetime.min.replace(tzinfo=UTC)
    end = end or datetime.max.replace(tzinfo=UTC)
    manifest = load_manifest(root)
    n = sum(1 for f in manifest.files for _ in _read_file(root, f, start, end))
    for a in manifest.attachments:
        digest, size = sha256_of(root, a.stored)
        if digest != a.sha256 or size != a.bytes:
            raise RecordingError("{file}: missing or altered (SHA-256 differs)", file=a.stored)
    return manifest, n


def records_from_store(pool: Any, start: datetime, end: datetime, feeds: Sequence[str] | None = None,
                       batch: int = 5000) -> Iterator[tuple[str, Event]]:
    """``(feed, record)`` of every stored fact in ``[start, end)``, in event-time order across feeds
    (each feed's raw tables whose spec can turn a row back into its record). One connection of the
    pool, one transaction, a server-side cursor per table (PostgreSQL keeps them open side by side):
    a pool of any size will do."""
    from ioc.feeds import FEEDS  # the feeds declare which tables hold records and how to read them

    def rows(feed: str, spec: Any, names: list[str], cur: Any) -> Iterator[tuple[str, Event]]:
        for row in cur:
            yield feed, spec.from_row(dict(zip(names, row, strict=True)))

    specs = [(f.name, spec) for f in FEEDS if feeds is None or f.name in feeds
             for spec in f.tables if spec.from_row is not None]
    with pool.connection() as conn, conn.transaction(), ExitStack() as cursors:
        streams = []
        for i, (feed, spec) in enumerate(specs):
            names = [c for c, _ in spec.columns]
            cur = cursors.enter_context(conn.cursor(name=f"export_{i}_{spec.table}"))
            cur.itersize = batch
            cur.execute(f"SELECT {', '.join(names)} FROM {spec.table} WHERE {spec.time_column} >= %s "
                        f"AND {spec.time_column} < %s ORDER BY {spec.time_column}", (start, end))
            streams.append(rows(feed, spec, names, cur))
        yield from heapq.merge(*streams, key=lambda pair: pair[1].time)


def export_recording(pool: Any, root: Path, start: datetime, end: datetime,
                     feeds: Sequence[str] | None = None,
                     attachments: Mapping[str, Path] | None = None) -> list[RecordedFile]:
    """The store's facts of ``[start, end)`` as a recording under ``root`` (with the files they name);
    as :func:`write_recording`, an hour file already in ``root`` is refused, never overwritten."""
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


def restore_attachments(root: Path, folders: Mapping[str, Path], manifest: Manifest | None = None) -> int:
    """Copy a recording's files (their SHA-256 checked as they are copied) into ``folders`` (record
    kind -> folder); returns how many were copied. Each is copied into a fresh temporary file beside
    its place (:func:`_put`: no name another file has) and put in place once it is whole (the folders
    are the receiving machine's own: a link among them is followed); a file that differs from the
    manifest is a :class:`RecordingError` (and is not left in the folder)."""
    def copy(a: Attachment, out: BinaryIO) -> None:
        with open_inside(root, a.stored, a.stored) as source:
            if copy_hashed(source, out)[0] != a.sha256:
                raise RecordingError("{file}: missing or altered (SHA-256 differs)", file=a.stored)

    copied = 0
    for a in (manifest or load_manifest(root)).attachments:
        if (folder := folders.get(a.kind)) is None:
            continue
        target = folder / a.path  # a plain relative path (checked with the manifest)
        target.parent.mkdir(parents=True, exist_ok=True)
        into = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _put(into, target.name, lambda out, a=a: copy(a, out))
        finally:
            os.close(into)
        copied += 1
    return copied


def import_recording(root: Path, write: Callable[[list[Event]], Any], folders: Mapping[str, Path],
                     start: datetime | None = None, end: datetime | None = None, batch: int = 5000) -> int:
    """Every record of a recording handed to ``write`` in batches (a store writer's ``write``: its
    natural keys make a second import add nothing), and its files put into ``folders``; returns how
    many records were written.

    The whole recording is read through and checked first (:func:`check_recording`): a recording
    refused (a :class:`RecordingError`) writes nothing. A failure after that (the store down, a file
    changed since the check) is an :class:`ImportStopped` that says how many records were written."""
    start = start or datetime.min.replace(tzinfo=UTC)
    end = end or datetime.max.replace(tzinfo=UTC)
    manifest, total = check_recording(root, start, end)
    files = [f for f in manifest.files if f.hour < end and f.hour + HOUR > start]
    pending: list[Event] = []
    written = 0
    try:
        for _, record in _records(root, files, start, end):
            pending.append(record)
            if len(pending) >= batch:
                write(pending)
                written += len(pending)
                pending = []
        if pending:
            write(pending)
            written += len(pending)
        restore_attachments(root, folders, manifest)
    except Exception as exc:  # told with the count written, whatever stopped it
        raise ImportStopped(written, total, exc) from exc
    return written
