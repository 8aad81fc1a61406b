"""What a recording (:mod:`ioc.recording`) must be before anything is read from it: its manifest and
its files checked with bounded memory, whatever was put in the folder.

* The manifest is a regular file of at most :data:`MAX_MANIFEST_BYTES`; each of its entries is
  checked: a file's path is the one the format names for its feed and hour (so no path leaves the
  folder and no feed hour is listed twice), its hour an aware hour from :data:`EARLIEST_HOUR` to a
  day past now, its record count a whole number; an attachment's kind a plain name and its path a
  plain relative one.
* A listed file is opened through the folders of the recording without following a link, and
  must be a regular file (no link out of the folder, no device, no pipe).
* A file is read as a stream: its SHA-256 over the compressed bytes as they pass, its gzip
  decompressed a line at a time, a line at most :data:`MAX_LINE_BYTES` (a wire record's bound,
  :data:`ioc.records.MAX_WIRE_BYTES`, and its newline). A file with more lines than its manifest
  count is refused as soon as that shows, so what is decompressed is bounded by what the manifest
  claims.

A refusal is a :class:`RecordingError` whose reason names the file (a catalogue message of the
``ioc`` domain: English ``str()``, :meth:`~ioc.i18n.Worded.said` in the reader's language).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ioc.i18n import Worded
from ioc.records import MAX_WIRE_BYTES

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: a manifest's bound (a year of hour files of every feed and many key frames fit in it)
MAX_MANIFEST_BYTES = 64 << 20
#: a record line's bound: a wire record's (what :func:`ioc.events.decode` accepts) and its newline
MAX_LINE_BYTES = MAX_WIRE_BYTES + 1
MAX_HEADER_BYTES = 64 << 10
#: the earliest hour a recording holds (live ingest's default ``earliest_time``); the latest is a
#: day past now (:func:`latest_hour`)
EARLIEST_HOUR = datetime(2000, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class RecordingError(Worded, ValueError):
    """A recording that cannot be read as one (its reason names the file)."""


def hour_of(t: datetime) -> datetime:
    """The UTC hour ``t`` falls in."""
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def latest_hour() -> datetime:
    """The latest hour a recording may hold: a day past now (clocks of two machines differ)."""
    return hour_of(datetime.now(UTC)) + timedelta(days=1)


def file_name(feed: str, hour: datetime) -> str:
    return f"{feed}/{feed}-{hour.strftime('%Y%m%dT%H')}Z.jsonl.gz"


def plain_name(name: object) -> bool:
    """A feed's or record kind's name fit to be a folder name (no separator, no ``..``)."""
    return isinstance(name, str) and _PLAIN_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class RecordedFile:
    """One line of the manifest."""

    path: str
    feed: str
    hour: datetime
    records: int
    sha256: str


@dataclass(frozen=True)
class Attachment:
    """A file a record names, carried in ``files/<kind>/<path>``."""

    kind: str
    path: str
    sha256: str
    bytes: int

    @property
    def stored(self) -> str:
        return f"files/{self.kind}/{self.path}"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256, "bytes": self.bytes}


@dataclass
class Manifest:
    """A recording's manifest, every entry checked."""

    files: list[RecordedFile] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def open_inside(root: Path, relative: str, label: str,
                missing: str = "{file}: listed in the manifest but missing") -> BinaryIO:
    """``root / relative`` opened for reading, each step inside ``root`` taken without following a
    link, and refused unless it is a regular file (``label`` names it in a refusal, ``missing`` is
    the reason when it is not there)."""
    parts = PurePosixPath(relative).parts
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RecordingError("{file}: missing (not a recording folder?)", file=label) from None
    except OSError as exc:
        raise RecordingError("{file}: cannot be read ({reason})", file=label,
                             reason=exc.strerror or exc) from None
    not_regular = RecordingError("{file}: not a regular file inside the recording (a link, a device or a "
                                 "pipe)", file=label)
    try:
        for part in parts[:-1]:
            step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            os.close(folder)
            folder = step
        if not stat.S_ISREG(os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode):
            raise not_regular
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except FileNotFoundError:
        raise RecordingError(missing, file=label) from None
    except OSError as exc:  # a link (ELOOP) or a file where a folder should be (ENOTDIR)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise not_regular from None
        raise RecordingError("{file}: cannot be read ({reason})", file=label,
                             reason=exc.strerror or exc) from None
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the look
        os.close(fd)
        raise not_regular
    return os.fdopen(fd, "rb")


class HashedStream:
    """A listed file read once: its SHA-256 over the compressed bytes as they pass, its gzip
    decompressed a line at a time (a line no longer than its bound)."""

    def __init__(self, root: Path, relative: str, sha256: str) -> None:
        self.label, self.expected = relative, sha256
        self.raw = open_inside(root, relative, relative)
        self.digest = hashlib.sha256()
        self.gz = gzip.GzipFile(fileobj=self, mode="rb")  # type: ignore[arg-type]

    def read(self, size: int = -1) -> bytes:  # what the gzip reader reads from
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def line(self, number: int, limit: int = MAX_LINE_BYTES) -> bytes:
        """The next line (b"" at the end), with its newline."""
        try:
            line = self.gz.readline(limit + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise RecordingError("{file}: not a complete gzip file ({reason})", file=self.label,
                                 reason=str(exc) or type(exc).__name__) from None
        if len(line) > limit:
            raise RecordingError("{file} line {line}: longer than {limit} bytes", file=self.label,
                                 line=number, limit=limit)
        return line

    def altered(self) -> bool:
        """Whether the whole file's SHA-256 differs from the manifest's (the rest read now)."""
        try:
            while chunk := self.raw.read(1 << 20):
                self.digest.update(chunk)
        except OSError:
            return True
        return self.digest.hexdigest() != self.expected

    def close(self) -> None:
        self.gz.close()
        self.raw.close()

    def __enter__(self) -> HashedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sha256_of(root: Path, relative: str) -> tuple[str, int]:
    """SHA-256 and size of a listed file (opened as :func:`open_inside` does)."""
    digest, size = hashlib.sha256(), 0
    with open_inside(root, relative, relative) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_header(stream: HashedStream, f: RecordedFile, schema_version: int) -> dict[str, int]:
    """The first line of a file, checked against its manifest entry; returns its schema
    (record kind -> version)."""
    line = stream.line(1, MAX_HEADER_BYTES)
    if not line:
        raise RecordingError("{file}: empty", file=f.path)
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise RecordingError("{file}: the header line is not a JSON object", file=f.path)
    version = header.get("ioc_recording")
    if type(version) is not int or version != FORMAT_VERSION:
        raise RecordingError("{file}: unknown format {format}", file=f.path, format=repr(version))
    if header.get("feed") != f.feed or header.get("hour") != f.hour.isoformat():
        raise RecordingError("{file}: the header names feed {feed} and hour {hour}, the manifest "
                             "{listed_feed} and {listed_hour}", file=f.path, feed=repr(header.get("feed")),
                             hour=repr(header.get("hour")), listed_feed=repr(f.feed),
                             listed_hour=repr(f.hour.isoformat()))
    schema = header.get("schema", {})
    if not isinstance(schema, dict):
        raise RecordingError("{file}: the header line is not a JSON object", file=f.path)
    unknown = {k: v for k, v in schema.items() if type(v) is not int or v != schema_version}
    if unknown:
        raise RecordingError("{file}: record schema versions {versions} are not {version}", file=f.path,
                             versions=unknown, version=schema_version)
    return schema


def _entry_field(doc: dict[str, Any], key: str, kind: type, label: str, n: int, where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordingError('{file}: entry {n} of "{field}": "{key}" is missing or of the wrong type',
                             file=label, n=n, field=where, key=key)
    return value


def _hour(text: str, label: str, n: int) -> datetime:
    try:
        hour = datetime.fromisoformat(text)
    except ValueError:
        hour = None
    if hour is None or hour.tzinfo is None or hour.utcoffset() is None:
        raise RecordingError("{file}: entry {n}: hour {hour} is not an ISO time with its zone", file=label,
                             n=n, hour=repr(text))
    if not EARLIEST_HOUR <= hour <= latest_hour():
        raise RecordingError("{file}: entry {n}: hour {hour} lies outside {earliest} .. {latest}", file=label,
                             n=n, hour=text, earliest=EARLIEST_HOUR.isoformat(),
                             latest=latest_hour().isoformat())
    hour = hour.astimezone(UTC)
    if hour != hour_of(hour):
        raise RecordingError("{file}: entry {n}: hour {hour} is not the start of an hour", file=label, n=n,
                             hour=text)
    return hour


def _objects(listed: list[Any], label: str, field: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each entry of the manifest's list ``field``, numbered from 1; each must be a JSON object."""
    for n, doc in enumerate(listed, start=1):
        if not isinstance(doc, dict):
            raise RecordingError('{file}: entry {n} of "{field}" is not a JSON object', file=label, n=n,
                                 field=field)
        yield n, doc


def _files(listed: list[Any], label: str) -> list[RecordedFile]:
    out: dict[str, RecordedFile] = {}
    for n, doc in _objects(listed, label, "files"):
        path = _entry_field(doc, "path", str, label, n, "files")
        feed = _entry_field(doc, "feed", str, label, n, "files")
        records = _entry_field(doc, "records", int, label, n, "files")
        sha256 = _entry_field(doc, "sha256", str, label, n, "files")
        if not plain_name(feed):
            raise RecordingError("{file}: entry {n}: the feed name {feed} is not a plain name", file=label,
                                 n=n, feed=repr(feed))
        hour = _hour(_entry_field(doc, "hour", str, label, n, "files"), label, n)
        if path != file_name(feed, hour):
            raise RecordingError("{file}: entry {n}: {path} is not the file of feed {feed} for that hour "
                                 "({expected})", file=label, n=n, path=repr(path), feed=feed,
                                 expected=file_name(feed, hour))
        if records < 0:
            raise RecordingError('{file}: entry {n}: "records" is negative', file=label, n=n)
        if not _SHA256.fullmatch(sha256):
            raise RecordingError("{file}: entry {n}: the SHA-256 is not 64 hexadecimal digits", file=label,
                                 n=n)
        if path in out:
            raise RecordingError("{file}: {path} is listed twice", file=label, path=path)
        out[path] = RecordedFile(path, feed, hour, records, sha256)
    return list(out.values())


def plain_relative_path(path: str) -> bool:
    """A relative path of plain steps (no empty step, no ``.`` or ``..``): one that stays inside."""
    parts = path.split("/")
    return 0 < len(path) <= 1024 and "\x00" not in path and all(p not in ("", ".", "..") for p in parts)


def _attachments(listed: list[Any], label: str) -> list[Attachment]:
    out: dict[tuple[str, str], Attachment] = {}
    for n, doc in _objects(listed, label, "attachments"):
        kind = _entry_field(doc, "kind", str, label, n, "attachments")
        path = _entry_field(doc, "path", str, label, n, "attachments")
        sha256 = _entry_field(doc, "sha256", str, label, n, "attachments")
        size = _entry_field(doc, "bytes", int, label, n, "attachments")
        if not plain_name(kind) or not plain_relative_path(path):
            raise RecordingError("{file}: attachment {n}: {kind}/{path} is not a plain relative path inside "
                                 "its folder", file=label, n=n, kind=kind, path=path)
        if not _SHA256.fullmatch(sha256) or size < 0:
            raise RecordingError('{file}: attachment {n}: "sha256" or "bytes" is not valid', file=label, n=n)
        if (kind, path) in out:
            raise RecordingError("{file}: {path} is listed twice", file=label, path=f"{kind}/{path}")
        out[kind, path] = Attachment(kind, path, sha256, size)
    return list(out.values())


def load_manifest(root: Path) -> Manifest:
    """A recording's manifest with every entry checked (a :class:`RecordingError` otherwise)."""
    label = str(root / MANIFEST)
    chunks: list[bytes] = []
    size = 0
    with open_inside(root, MANIFEST, label, "{file}: missing (not a recording folder?)") as f:
        while size <= MAX_MANIFEST_BYTES and (chunk := f.read(1 << 20)):  # never more than the bound
            chunks.append(chunk)
            size += len(chunk)
    if size > MAX_MANIFEST_BYTES:
        raise RecordingError("{file}: larger than {limit} bytes", file=label, limit=MAX_MANIFEST_BYTES)
    text = b"".join(chunks)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RecordingError("{file}: not JSON ({reason})", file=label, reason=str(exc)[:200]) from None
    version = doc.get("ioc_recording") if isinstance(doc, dict) else None
    if type(version) is not int or version != FORMAT_VERSION:
        raise RecordingError("{file}: not a version {version} recording", file=label, version=FORMAT_VERSION)
    for key in ("files", "attachments", "missing"):
        if not isinstance(doc.get(key, []), list):
            raise RecordingError('{file}: "{field}" is not a list', file=label, field=key)
    missing = doc.get("missing", [])
    if not all(isinstance(m, str) for m in missing):
        raise RecordingError('{file}: "{field}" is not a list', file=label, field="missing")
    if "files" not in doc:
        raise RecordingError('{file}: "{field}" is not a list', file=label, field="files")
    return Manifest(_files(doc["files"], label), _attachments(doc.get("attachments", []), label),
                    list(missing))


def lines_after_header(stream: HashedStream) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of the records of a file whose header was read."""
    number = 2
    while line := stream.line(number):
        yield number, line
        number += 1
