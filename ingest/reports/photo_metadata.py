"""A citizen's photo is kept without what it says besides its picture.

A phone's photo carries its place (EXIF GPS, to a few metres: often the sender's home when the photo
was taken there), the phone's make, model and serial number, its owner's name in some cameras, the
time, editing software's history (XMP), press captions (IPTC), and a thumbnail of the photo as
taken: a face cropped out of the picture can still be in the thumbnail. None of it is needed to
see a pothole, and the staff who open reports need not receive it, so it is left out before the
photo is stored, without decoding and encoding the picture again (its pixels stay as sent):

- JPEG: every ``APPn`` segment but JFIF (without its thumbnail), an ICC colour profile and Adobe's
  colour-transform flag; comments; anything after the end of the image (a second picture of the
  Multi-Picture Format, a phone's "motion photo" video).
- PNG: ``tEXt``, ``zTXt``, ``iTXt``, ``eXIf`` and ``tIME`` chunks, and anything after ``IEND``.
- WebP: the ``EXIF`` and ``XMP`` chunks (and their flags), and anything after the RIFF body.

Only the orientation is kept, in an EXIF of its own (one tag), where the photo had one: a portrait
taken with a phone is stored sideways with a tag saying so, and would be shown sideways without it.
A file whose structure cannot be walked (but that decodes) is :class:`ValueError` here; the caller
then encodes its pixels anew (:func:`ingest.reports.photos.check_photo`).
"""

from __future__ import annotations

import struct
import zlib

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_DROPPED = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
WEBP_DROPPED = frozenset({b"EXIF", b"XMP "})
ORIENTATION_TAG = 0x0112
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: markers without a length
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def stripped(data: bytes, fmt: str, orientation: int | None = None) -> bytes:
    """``data`` (a photo in ``fmt``: JPEG, PNG or WEBP) without its metadata, as the module says,
    keeping ``orientation`` (the EXIF value, 2-8) if given; :class:`ValueError` if it cannot be
    walked."""
    keep = orientation if orientation in range(2, 9) else None
    if fmt == "JPEG":
        return _jpeg(data, keep)
    if fmt == "PNG":
        return _png(data, keep)
    if fmt == "WEBP":
        return _webp(data, keep)
    raise ValueError(f"no metadata walker for {fmt}")


def orientation_exif(orientation: int) -> bytes:
    """A big-endian TIFF header and one IFD holding only the orientation tag (EXIF's whole body)."""
    entry = struct.pack(">HHIHH", ORIENTATION_TAG, 3, 1, orientation, 0)  # SHORT, one value, padded
    return b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + struct.pack(">I", 0)


# --------------------------------------------------------------------------- JPEG


def _kept_jpeg_segment(marker: int, segment: bytes) -> bytes | None:
    """A segment as kept (``FF``, marker, length, payload), or ``None`` when it is left out."""
    payload = segment[4:]
    if marker == 0xE0:  # APP0: JFIF kept without its thumbnail; JFXX (a thumbnail only) left out
        if not payload.startswith(b"JFIF\x00") or len(payload) < 14:
            return None
        if payload[12:14] == b"\x00\x00":
            return segment
        return b"\xff\xe0" + struct.pack(">H", 16) + payload[:12] + b"\x00\x00"
    if marker == 0xE2:  # APP2: an ICC profile is the colours; Multi-Picture Format and FlashPix are not
        return segment if payload.startswith(b"ICC_PROFILE\x00") else None
    if marker == 0xEE:  # APP14: Adobe's colour transform (how YCbCr / YCCK is read back)
        return segment if payload.startswith(b"Adobe") else None
    if 0xE1 <= marker <= 0xEF or marker == 0xFE:  # EXIF, XMP, IPTC, makers' data; comments
        return None
    return segment


def _jpeg(data: bytes, orientation: int | None) -> bytes:
    if not data.startswith(JPEG_SOI):
        raise ValueError("no JPEG start of image")
    head: list[bytes] = []  # APP0 (JFIF) first, where there is one
    body: list[bytes] = []
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError(f"no JPEG marker at byte {i}")
        while i < len(data) and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= len(data):
            break
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image: anything after it is left out
            exif = []
            if orientation:
                payload = b"Exif\x00\x00" + orientation_exif(orientation)
                exif.append(b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload)
            return JPEG_SOI + b"".join(head + exif + body) + b"\xff\xd9"
        if marker in _STANDALONE:
            body.append(bytes((0xFF, marker)))
            continue
        if marker == 0x00:  # a stuffed FF 00 between segments: decoders skip it, we do not guess
            raise ValueError(f"no JPEG marker (FF 00) at byte {i - 2}")
        if i + 2 > len(data):
            break
        length = int.from_bytes(data[i:i + 2], "big")
        if length < 2 or i + length > len(data):
            raise ValueError(f"JPEG segment {marker:02X} at byte {i - 2} runs past the file")
        segment = b"\xff" + bytes((marker,)) + data[i:i + length]
        i += length
        kept = _kept_jpeg_segment(marker, segment)
        if kept is not None:
            (head if marker == 0xE0 and not head and not body else body).append(kept)
        if marker == 0xDA:  # start of scan: its entropy-coded data runs to the next marker
            end = _scan_end(data, i)
            body.append(data[i:end])
            i = end
    raise ValueError("no JPEG end of image")


def _scan_end(data: bytes, start: int) -> int:
    """Where the entropy-coded data that begins at ``start`` ends: at the first ``FF`` that starts a
    marker (not a stuffed ``FF 00``, a restart marker or a fill byte)."""
    j = start
    while True:
        k = data.find(b"\xff", j)
        if k < 0 or k + 1 >= len(data):
            raise ValueError("a JPEG scan without an end")
        following = data[k + 1]
        if following == 0x00 or following == 0xFF or 0xD0 <= following <= 0xD7:
            j = k + 1
            continue
        return k


# --------------------------------------------------------------------------- PNG


def _png(data: bytes, orientation: int | None) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    chunks: list[tuple[bytes, bytes]] = []
    i = len(PNG_SIGNATURE)
    while True:
        if i + 12 > len(data):
            raise ValueError("no PNG end (IEND)")
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            raise ValueError(f"PNG chunk {kind!r} at byte {i} runs past the file")
        chunks.append((kind, data[i:end]))
        i = end
        if kind == b"IEND":  # anything after it is left out
            break
    turned = orientation and any(kind == b"eXIf" for kind, _ in chunks)  # browsers turn a PNG by its eXIf
    out = [PNG_SIGNATURE]
    for kind, chunk in chunks:
        if kind not in PNG_DROPPED:
            out.append(chunk)
        if kind == b"IHDR" and turned:
            body = orientation_exif(orientation)  # type: ignore[arg-type]
            out.append(struct.pack(">I", len(body)) + b"eXIf" + body
                       + struct.pack(">I", zlib.crc32(b"eXIf" + body)))
    return b"".join(out)


# --------------------------------------------------------------------------- WebP


def _webp(data: bytes, orientation: int | None) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise ValueError("a WebP shorter than its RIFF header says")
    chunks: list[bytes] = []
    had_exif = False
    i = 12
    while i + 8 <= end:
        kind = data[i:i + 4]
        size = int.from_bytes(data[i + 4:i + 8], "little")
        stop = i + 8 + size + (size & 1)
        if stop > end:
            raise ValueError(f"WebP chunk {kind!r} at byte {i} runs past the file")
        chunk = data[i:stop]
        if kind == b"EXIF":
            had_exif = True
        elif kind == b"VP8X":
            flags = chunk[8] & ~(_VP8X_EXIF | _VP8X_XMP)
            chunk = chunk[:8] + bytes((flags,)) + chunk[9:]
        if kind not in WEBP_DROPPED:
            chunks.append(chunk)
        i = stop
    if orientation and had_exif:  # the orientation in an EXIF of its own, its flag set again
        exif = orientation_exif(orientation)
        chunks.append(b"EXIF" + struct.pack("<I", len(exif)) + exif + b"\x00" * (len(exif) & 1))
        chunks = [c[:8] + bytes((c[8] | _VP8X_EXIF,)) + c[9:] if c[:4] == b"VP8X" else c for c in chunks]
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
