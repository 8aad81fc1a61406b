"""A camera's JPEG checked before it is decoded: whole (its end-of-image marker) and of a size worth
decoding (the dimensions its frame header claims), by reading a few bytes of it."""

from __future__ import annotations

from ioc.camera_settings import MAX_FRAME_BYTES, MAX_FRAME_PIXELS  # the defaults of [vision] max_frame_*

__all__ = ["JPEG_EOI", "JPEG_SOI", "MAX_FRAME_BYTES", "MAX_FRAME_PIXELS", "complete_jpeg", "jpeg_size"]

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
MAX_HEADER_OFFSET = 256 * 1024
"""How far into a JPEG its frame header (SOF) is looked for. Before it come APPn segments (EXIF,
64 KB at most; ICC profile...) and the tables: a camera's sits within its first ~64 KB."""
MAX_HEADER_STEPS = 64
"""How many markers (fill bytes included) are walked to its frame header: a camera's JPEG has a
dozen segments before it."""
# Frame headers: SOF0-3, 5-7, 9-11, 13-15 (0xC4 is DHT, 0xC8 JPG, 0xCC DAC).
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def complete_jpeg(data: bytes) -> bool:
    """True when ``data`` starts like a JPEG and holds its end-of-image marker (``FFD9``) at the end.

    Trailing padding a camera adds after the marker (CR LF, zero bytes) is allowed. In the
    entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so a
    truncated JPEG has no ``FFD9`` near its end.
    """
    return data.startswith(JPEG_SOI) and JPEG_EOI in data[-32:]


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's frame header (SOF0, 1, 2... marker), None without one.

    Only the marker segments before the scan are walked (each says its length), at most
    :data:`MAX_HEADER_STEPS` of them and no further than :data:`MAX_HEADER_OFFSET` (None past
    that), so it costs a few steps whatever the JPEG holds (megabytes of fill bytes, thousands of
    empty segments), and nothing is decoded: a decoder allocates what the header claims, and a
    16x16 JPEG patched to claim 60000x60000 pixels asks for 10 GB.
    """
    if not data.startswith(JPEG_SOI):
        return None
    i, end = 2, min(len(data), MAX_HEADER_OFFSET)
    for _ in range(MAX_HEADER_STEPS):
        if i + 1 >= end:
            return None
        if data[i] != 0xFF:
            return None  # not a marker where one must be
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            i += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA) or i + 4 > end:  # SOI, EOI or the scan before a frame header
            return None
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in SOF_MARKERS:
            if length < 8 or i + 9 > end:
                return None
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None
