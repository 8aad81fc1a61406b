"""Files kept compressed, as archives and rotated logs are: which compression, and a stream of it.

A recorded file (an AIS log rotated by logrotate, ``aisdk-2023-03-18.zip`` of the Danish Maritime
Authority, OpenAQ's ``location-….csv.gz``) is read through the decompressor of what its first bytes
say it is: gzip, bzip2, xz, or a zip archive of exactly one file. zstd (no decompressor in Python's
standard library before 3.14) and a zip of several files are a :class:`CompressedFileError` that says
what to do. A stream cut short or corrupt raises :data:`STREAM_ERRORS` where it is cut: a reader
keeps what came before and reports the rest.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from pathlib import Path

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
}
#: what reading a decompressed stream raises where the file is cut or corrupt
STREAM_ERRORS: tuple[type[BaseException], ...] = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile,
                                                  zipfile.BadZipFile, OSError)


def cut_short(path: Path | str, exc: BaseException) -> str:
    """What to report of a compressed file whose stream raised one of :data:`STREAM_ERRORS`."""
    return f"{path}: the compressed file is cut or corrupt: {exc}"


class CompressedFileError(ValueError):
    """A compressed file that is not read as it is (its reason says what to do)."""


def compression(magic: bytes) -> str | None:
    """The compression a file's first bytes (8 are enough) name, or ``None`` for a plain file."""
    return next((kind for prefix, kind in MAGIC.items() if magic.startswith(prefix)), None)


def open_decompressed(path: Path) -> tuple[io.BufferedIOBase, str | None]:
    """The file's bytes, decompressed, and its compression (``None``: read as it is)."""
    with path.open("rb") as probe:
        kind = compression(probe.read(8))
    if kind is None:
        return path.open("rb"), None
    try:
        if kind == "gzip":
            return gzip.open(path, "rb"), kind
        if kind == "bzip2":
            return bz2.open(path, "rb"), kind
        if kind == "xz":
            return lzma.open(path, "rb"), kind
        if kind == "zip":
            archive = zipfile.ZipFile(path)
            files = [i for i in archive.infolist() if not i.is_dir()]
            if len(files) != 1:
                archive.close()
                raise CompressedFileError(f"{path}: a zip archive of {len(files)} files; "
                                          "unzip the one to read")
            return archive.open(files[0]), kind  # the archive's file closes with its member
    except zipfile.BadZipFile as exc:
        raise CompressedFileError(f"{path}: not a readable zip archive: {exc}") from None
    raise CompressedFileError(f"{path}: the file is {kind}-compressed; decompress it first")
