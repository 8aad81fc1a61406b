"""What a recording (:mod:`ioc.recording`) must be before anything is read from it: its manifest and
its files checked with bounded memory, whatever was put in the folder.

* The manifest is a regular file of at most :data:`MAX_MANIFEST_BYTES`, parsed from its bytes with
  each entry of its lists checked as it is decoded (at most :data:`MAX_ENTRY_BYTES`; one of ``files``
  or ``attachments`` an object of strings and numbers): what is held is its bytes and the entries
  made, two to three times its size, never a parse of the whole (a list of ``{}`` is refused at its
  first). It holds ``ioc_recording`` (first, as the writer puts it: another version is refused
  before its entries are read), ``files``, ``attachments`` and ``missing``, no other field. A
  file's path is the one the format names for its feed and hour (so no path leaves the folder and
  no feed hour is listed twice), its hour an aware hour from :data:`EARLIEST_HOUR` to a day past
  now, its record count a whole number; an attachment's kind a plain name and its path a plain
  relative one.
* A listed file is opened through the recording's folders without following a link (as the writer
  makes its files: :func:`folder_inside`, :func:`create_new`), and must be a regular file of one
  name (no link out of the folder, no device, no pipe, no hard link: one cannot be told from a
  file outside the folder).
* A file is read as a stream: its SHA-256 over the compressed bytes as they pass, its gzip
  decompressed a line at a time, a line at most :data:`MAX_LINE_BYTES` (a wire record's bound,
  :data:`ioc.records.MAX_WIRE_BYTES`, and its newline). A file with more lines than its manifest
  count is refused as soon as that shows, so what is decompressed is bounded by what it claims.

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
import secrets
import stat
import zlib
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ioc.i18n import Worded
from ioc.records import MAX_WIRE_BYTES

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: a manifest's bound: as the writer writes it, an hour file's entry is about 235 bytes, a key frame's
#: 180, a missing one's 55: a year of hour files of ten feeds (87,600 entries, 21 MB) and 50,000 key
#: frames (9 MB) fit, or a day of 16 cameras' key frames at their most (one each 5 s, 15 MB if gone)
MAX_MANIFEST_BYTES = 32 << 20
#: an entry of a manifest's list, and a run of them decoded at once: its bound (an attachment's
#: path is at most 1,024 characters, 6 bytes each when escaped, as is a key frame record's)
MAX_ENTRY_BYTES = 64 << 10
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


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One line of the manifest."""

    path: str
    feed: str
    hour: datetime
    records: int
    sha256: str


@dataclass(frozen=True, slots=True)
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
    """A recording's manifest, every entry checked. ``missing`` names are held as JSON lists of up to
    :data:`MAX_ENTRY_BYTES` (as they were read): a short name costs its bytes, not an object."""

    files: list[RecordedFile] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    missing_json: list[bytes] = field(default_factory=list)

    @property
    def missing(self) -> Iterator[str]:
        return (name for part in self.missing_json for name in json.loads(part))


def _refused(exc: OSError, label: str, missing: str) -> RecordingError:
    """Why a step down a recording failed: not there, a link or a file on the way, or unreadable."""
    if isinstance(exc, FileNotFoundError):
        return RecordingError(missing, file=label)
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return RecordingError("{file}: not a regular file inside the recording (a link, a device or a pipe)",
                              file=label)
    return RecordingError("{file}: cannot be read ({reason})", file=label, reason=exc.strerror or exc)


def folder_inside(root: Path, parts: Sequence[str], label: str, create: bool = False,
                  missing: str = "{file}: listed in the manifest but missing") -> int:
    """A descriptor of the folder ``root/parts...`` (the caller closes it), each step below ``root`` a
    real folder, never a link, made when ``create`` and missing (a :class:`RecordingError` that names
    ``label`` otherwise)."""
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise _refused(exc, label, "{file}: missing (not a recording folder?)") from None
    try:
        for part in parts:
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, dir_fd=folder)
            step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            os.close(folder)
            folder = step
    except OSError as exc:
        os.close(folder)
        raise _refused(exc, label, missing) from None
    return folder


def open_inside(root: Path, relative: str, label: str,
                missing: str = "{file}: listed in the manifest but missing") -> BinaryIO:
    """``root / relative`` opened for reading, each step inside ``root`` taken without following a
    link, and refused unless it is a regular file of one name (``label`` names it in a refusal,
    ``missing`` is the reason when it is not there)."""
    parts = PurePosixPath(relative).parts
    folder = folder_inside(root, parts[:-1], label, missing=missing)
    not_regular = _refused(OSError(errno.ELOOP, ""), label, missing)
    try:
        if not stat.S_ISREG(os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode):
            raise not_regular
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError as exc:
        raise _refused(exc, label, missing) from None
    finally:
        os.close(folder)
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode) or found.st_nlink > 1:  # swapped after the look, or a hard link
        os.close(fd)
        raise not_regular if not stat.S_ISREG(found.st_mode) else RecordingError(
            "{file}: a hard link (the file has {links} names, one may be outside the recording): a "
            "recording's file has one name", file=label, links=found.st_nlink)
    return os.fdopen(fd, "rb")


def create_new(folder: int, name: str | None = None) -> tuple[str, BinaryIO]:
    """A new file in the folder open as ``folder``: ``name`` (FileExistsError when anything is there,
    a link included: nothing is written through one), or a fresh temporary name: ``.ioc-tmp-`` and 64
    random bits, made with O_EXCL (no file already there), renamed or removed before the next."""
    while True:
        try:
            made = name or f".ioc-tmp-{secrets.token_hex(8)}"
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return made, os.fdopen(os.open(made, flags, 0o666, dir_fd=folder), "w+b")
        except FileExistsError:
            if name:
                raise


def copy_hashed(source: BinaryIO, out: BinaryIO | None, digest: Any = None) -> tuple[str, int]:
    """Copy ``source`` to ``out`` (if any); the SHA-256 (``digest`` continued) and size of what was read."""
    digest, size = digest or hashlib.sha256(), 0
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


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
    with open_inside(root, relative, relative) as f:
        return copy_hashed(f, None)


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


def plain_relative_path(path: str) -> bool:
    """A relative path of plain steps (no empty step, no ``.`` or ``..``): one that stays inside."""
    parts = path.split("/")
    return 0 < len(path) <= 1024 and "\x00" not in path and all(p not in ("", ".", "..") for p in parts)


def _file(doc: dict[str, Any], label: str, n: int, names: dict[str, str]) -> RecordedFile:
    path, feed, records, sha256 = (_entry_field(doc, key, type_, label, n, "files") for key, type_ in
                                   (("path", str), ("feed", str), ("records", int), ("sha256", str)))
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
        raise RecordingError("{file}: entry {n}: the SHA-256 is not 64 hexadecimal digits", file=label, n=n)
    return RecordedFile(path, names.setdefault(feed, feed), hour, records, sha256)


def _attachment(doc: dict[str, Any], label: str, n: int, names: dict[str, str]) -> Attachment:
    kind, path, sha256, size = (_entry_field(doc, key, type_, label, n, "attachments") for key, type_ in
                                (("kind", str), ("path", str), ("sha256", str), ("bytes", int)))
    if not plain_name(kind) or not plain_relative_path(path):
        raise RecordingError("{file}: attachment {n}: {kind}/{path} is not a plain relative path inside "
                             "its folder", file=label, n=n, kind=kind, path=path)
    if not _SHA256.fullmatch(sha256) or size < 0:
        raise RecordingError('{file}: attachment {n}: "sha256" or "bytes" is not valid', file=label, n=n)
    return Attachment(names.setdefault(kind, kind), path, sha256, size)


_SPACE = re.compile(rb"[ \t\n\r]*+")
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
#: an object of strings and scalars, no list or object in it: an entry of ``files`` or ``attachments``
_FLAT_OBJECT = rb'\{(?:[^{}\[\]"]++|' + _STRING + rb')*+\}'
_NAME, _SCALAR = re.compile(_STRING), re.compile(_STRING + rb'|[^\s,:\[\]{}"]++')
#: a run of entries of a list, decoded together (a call per run, not per entry)
_STRINGS, _FLAT_OBJECTS = (re.compile(one + rb"(?:[ \t\n\r]*+,[ \t\n\r]*+" + one + rb")*+")
                           for one in (_STRING, _FLAT_OBJECT))


class _ManifestText:
    """A manifest's bytes, parsed from ``pos`` on: a value is decoded only once a pattern has found
    it, no longer than an entry's bound, and let go once checked."""

    def __init__(self, data: bytes, label: str) -> None:
        self.data, self.label, self.pos = data, label, 0

    def not_json(self, reason: str) -> RecordingError:
        return RecordingError("{file}: not JSON ({reason})", file=self.label, reason=reason[:200])

    def peek(self) -> bytes:  # the next byte after white space (b"" at the end)
        self.pos = _SPACE.match(self.data, self.pos).end()  # type: ignore[union-attr]
        return self.data[self.pos:self.pos + 1]

    def take(self, chars: bytes) -> bytes:  # the next byte, one of chars
        found = self.peek()
        if not found or found not in chars:
            raise self.not_json(f"expecting {' or '.join(chars.decode())} at byte {self.pos}")
        self.pos += 1
        return found

    def values(self, pattern: re.Pattern[bytes]) -> tuple[bytes, list[Any]] | None:
        """The text and values of what ``pattern`` finds next within :data:`MAX_ENTRY_BYTES`, if any."""
        if not self.peek():
            raise self.not_json(f"it ends at byte {self.pos}, inside a list or object")
        found = pattern.match(self.data, self.pos, self.pos + MAX_ENTRY_BYTES)
        if found is None:
            return None
        try:
            values = json.loads(b"[" + found.group() + b"]")
        except ValueError as exc:
            raise self.not_json(f"{exc} after byte {self.pos}") from None
        self.pos = found.end()
        return found.group(), values

    def items(self, closing: bytes) -> Iterator[None]:
        """Once for each item (or run of items) of the object or list whose opening byte is next."""
        self.pos += 1
        more = self.peek() != closing
        if not more:
            self.pos += 1
        while more:
            yield
            more = self.take(closing + b",") == b","


def _read_list(text: _ManifestText, field: str, manifest: Manifest) -> None:
    """The manifest's list ``field``, each entry checked as it is read (and its JSON let go)."""
    label, names, taken, n = text.label, dict[str, str](), dict[str, set[str]](), 0
    not_list = RecordingError('{file}: "{field}" is not a list', file=label, field=field)
    if text.peek() != b"[":
        raise not_list
    for _ in text.items(b"]"):
        found = text.values(_STRINGS if field == "missing" else _FLAT_OBJECTS)
        if found is None and field == "missing":
            raise not_list
        if found is None and text.peek() == b"{":
            raise RecordingError('{file}: entry {n} of "{field}" is not an object of strings and numbers of '
                                 'at most {limit} bytes', file=label, n=n + 1, field=field,
                                 limit=MAX_ENTRY_BYTES)
        if found is None:
            raise RecordingError('{file}: entry {n} of "{field}" is not a JSON object', file=label, n=n + 1,
                                 field=field)
        if field == "missing":
            manifest.missing_json.append(b"[" + found[0] + b"]")
            continue
        for doc in found[1]:
            n += 1
            if field == "files":
                f = _file(doc, label, n, names)
                group, name, shown = f.feed, f.path, f.path
                manifest.files.append(f)
            else:
                a = _attachment(doc, label, n, names)
                group, name, shown = a.kind, a.path, f"{a.kind}/{a.path}"
                manifest.attachments.append(a)
            if name in taken.setdefault(group, set()):
                raise RecordingError("{file}: {path} is listed twice", file=label, path=shown)
            taken[group].add(name)


def load_manifest(root: Path) -> Manifest:
    """A recording's manifest with every entry checked as it is decoded (a :class:`RecordingError`
    otherwise): memory two to three times the manifest's size (see the module's docstring)."""
    label = str(root / MANIFEST)
    with open_inside(root, MANIFEST, label, "{file}: missing (not a recording folder?)") as f:
        if (size := os.fstat(f.fileno()).st_size) > MAX_MANIFEST_BYTES:  # never read at all
            raise RecordingError("{file}: larger than {limit} bytes", file=label, limit=MAX_MANIFEST_BYTES)
        text = _ManifestText(f.read(size + 1), label)  # what was looked at (a file grown since: cut)
    manifest, seen = Manifest(), set()
    not_version = RecordingError("{file}: not a version {version} recording", file=label,
                                 version=FORMAT_VERSION)
    if text.peek() != b"{":
        raise not_version
    for _ in text.items(b"}"):
        if (found := text.values(_NAME)) is None:
            raise text.not_json(f"expecting a name at byte {text.pos}")
        key = found[1][0]
        text.take(b":")
        if key in seen:
            raise RecordingError("{file}: {path} is listed twice", file=label, path=found[0].decode())
        seen.add(key)
        if key == "ioc_recording":
            version = (text.values(_SCALAR) or (b"", [None]))[1][0]
            if type(version) is not int or version != FORMAT_VERSION:
                raise not_version
        elif key in ("files", "attachments", "missing"):
            _read_list(text, key, manifest)
        else:
            raise RecordingError('{file}: an unknown field {field} (a version {version} manifest holds '
                                 '"ioc_recording", "files", "attachments" and "missing")', file=label,
                                 field=found[0].decode(), version=FORMAT_VERSION)
    if text.peek():
        raise text.not_json(f"extra data at byte {text.pos}")
    if "ioc_recording" not in seen:
        raise not_version
    if "files" not in seen:
        raise RecordingError('{file}: "{field}" is not a list', file=label, field="files")
    return manifest


def lines_after_header(stream: HashedStream) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of the records of a file whose header was read."""
    number = 2
    while line := stream.line(number):
        yield number, line
        number += 1
