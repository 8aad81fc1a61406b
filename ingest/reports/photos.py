"""Uploaded photos checked by decoding them (not by their names), stripped of their metadata (EXIF GPS,
the phone's serial number, a thumbnail of the uncropped photo: :mod:`ingest.reports.photo_metadata`),
hashed, and stored by content."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ingest.reports.photo_metadata import stripped
from ingest.reports.wording import Worded
from ioc.feeds.reports.records import Photo

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
_MADE: set[Path] = set()  # photo folders known to exist
# one photo decoded at a time: a PNG or WebP just under the pixel limit decodes whole (only a JPEG can
# be drafted small), up to 4 bytes a pixel, so concurrent uploads would multiply that memory
_DECODING = threading.Lock()


class PhotoRejected(Worded, ValueError):
    """An upload that is not an acceptable photo; ``str()`` is the reason (``said(lang)`` in a language)."""


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    fmt: str
    width: int
    height: int
    sha256: str
    ahash: str


def _average_hash(img: Image.Image) -> str:
    """64-bit average hash of an 8x8 grey thumbnail: re-encoded or resized re-posts keep it."""
    small = img.convert("L").resize((8, 8), Image.Resampling.BILINEAR)
    pixels = list(small.tobytes())
    mean = sum(pixels) / 64
    bits = 0
    for p in pixels:
        bits = (bits << 1) | (1 if p > mean else 0)
    return f"{bits:016x}"


def check_photo(data: bytes, max_bytes: int, max_pixels: int) -> CheckedPhoto:
    """Decode ``data`` fully; raise :class:`PhotoRejected` if it is too big, not an image, or a bomb."""
    if not data:
        raise PhotoRejected("empty upload")
    if len(data) > max_bytes:
        raise PhotoRejected("photo is {size} bytes, more than {max_bytes}", size=len(data),
                            max_bytes=max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if fmt not in ALLOWED_FORMATS:
                    raise PhotoRejected("not a JPEG, PNG or WebP image (decoded as {fmt})", fmt=fmt) if fmt \
                        else PhotoRejected("not a JPEG, PNG or WebP image (decoded as nothing)")
                # the header's size is checked before any pixel is decoded: a bomb never expands
                if width * height > max_pixels:
                    raise PhotoRejected("image of {width}x{height} pixels, more than {max_pixels}",
                                        width=width, height=height, max_pixels=max_pixels)
                # every byte is still decoded (a truncated or corrupt file fails here), but a JPEG
                # at 1/8 scale in grey: the hash needs 8x8, so the full-size picture is never built
                orientation = _orientation(probe)
                probe.draft("L", (8, 8))
                with _DECODING:
                    probe.load()
                    ahash = _average_hash(probe)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("decompression bomb: far more pixels than any photo") from None
    except (UnidentifiedImageError, ImportError):
        # ImportError: once ultralytics is loaded in the process it patches Image.open to try a HEIF
        # plugin (pi_heif) on anything PIL cannot identify; without the plugin that is not an image.
        # Either way no image format was recognised: the reason says so, not the exception's name
        raise PhotoRejected("not a readable image: no image format recognised") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise PhotoRejected("image does not decode: {error}", error=str(exc)[:120]) from None
    kept = _without_metadata(data, fmt, orientation)
    return CheckedPhoto(kept, fmt, width, height, hashlib.sha256(kept).hexdigest(), ahash)


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation of a photo (2-8 turn or mirror it), ``None`` when it has none or an EXIF
    that does not read."""
    try:
        value = image.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - a broken EXIF is no orientation; the picture still counts
        return None
    return value if isinstance(value, int) else None


def _without_metadata(data: bytes, fmt: str, orientation: int | None) -> bytes:
    """``data`` with its metadata left out, its pixels as sent; a file whose structure the walker does
    not follow (it decoded, though) is encoded anew from its pixels, turned upright, with none."""
    try:
        return stripped(data, fmt, orientation)
    except ValueError:
        pass
    with _DECODING, Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        out = io.BytesIO()
        upright.save(out, fmt, **({"quality": 92} if fmt in ("JPEG", "WEBP") else {}))
        return out.getvalue()


def store_photo(photo: CheckedPhoto, directory: Path) -> Photo:
    """Write the photo under its sha256 (a re-post is the same file) and describe it."""
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[photo.fmt]
    sub = directory / photo.sha256[:2]
    if sub not in _MADE:  # a syscall saved per photo once its folder exists
        sub.mkdir(parents=True, exist_ok=True)
        _MADE.add(sub)
    path = sub / f"{photo.sha256}.{ext}"
    if not path.exists():
        tmp = path.with_suffix(f".{ext}.tmp{id(photo)}")
        tmp.write_bytes(photo.data)
        tmp.replace(path)
    return Photo(path=str(path), sha256=photo.sha256, ahash=photo.ahash, width=photo.width,
                 height=photo.height)
