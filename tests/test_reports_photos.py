"""A citizen's photo is stored without its metadata: real photos with EXIF GPS, a camera's EXIF and
thumbnail, IPTC captions (Pillow's own test images, tests/data/photos/README.md), and PNGs and
JPEGs written here with text, comments, a colour profile and data after their end. The pixels stay
as sent and the orientation stays; a file the walker cannot follow is encoded anew from its pixels.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from ingest.reports.photo_metadata import stripped
from ingest.reports.photos import check_photo

PHOTOS = Path(__file__).parent / "data" / "photos"
LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA").tobytes()


def _said(data: bytes) -> tuple[dict[int, object], set[str]]:
    """The EXIF tags of a photo, and the other metadata Pillow reads from it."""
    with Image.open(io.BytesIO(data)) as image:
        exif = dict(image.getexif())
        return exif, {k for k in image.info if k not in ("dpi", "jfif", "jfif_version", "jfif_unit",
                                                         "jfif_density", "loop", "background", "duration",
                                                         "timestamp", "gamma", "chromaticity", "exif")}


@pytest.mark.parametrize("name", ["exif_gps.jpg", "flower.jpg", "flower.webp", "iptc.jpg"])
def test_real_photos_lose_their_place_camera_captions_and_thumbnail_and_keep_their_pixels(name: str) -> None:
    sent = (PHOTOS / name).read_bytes()
    before, _ = _said(sent)
    assert before  # the sample does hold EXIF
    kept = check_photo(sent, **LIMITS)
    after, other = _said(kept.data)
    assert after == {} and other == set(), (after, other)
    assert _pixels(kept.data) == _pixels(sent)  # not encoded anew: the same pixels
    assert len(kept.data) < len(sent) and kept.data.count(b"\xff\xd8") <= 1  # no embedded thumbnail JPEG
    for words in (b"Canon", b"Photoshop", b"GPS", b"Exif", b"XMP", b"http://ns.adobe.com"):
        assert words not in kept.data, words


@pytest.mark.parametrize("name", ["hopper_orientation_6.jpg", "hopper_orientation_6.webp"])
def test_a_photo_taken_sideways_keeps_only_its_orientation(name: str) -> None:
    sent = (PHOTOS / name).read_bytes()
    kept = check_photo(sent, **LIMITS)
    assert _said(kept.data)[0] == {0x0112: 6}  # shown upright, as the phone meant it
    assert _pixels(kept.data) == _pixels(sent)


def test_comments_thumbnails_profiles_and_what_follows_the_image_in_a_jpeg() -> None:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Phone maker", "Phone model SN 123456"
    out = io.BytesIO()
    image.save(out, "JPEG", icc_profile=profile, exif=exif, comment=b"taken at home, 12 Le Loi")
    sent = out.getvalue() + b"\xff\xd8 a second picture (Multi-Picture Format) or a video \xff\xd9"
    # a JFIF segment carrying a 2x1 thumbnail (its bytes a recognisable RGB run)
    jfif = b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x02\x01" + b"THUMB!"
    sent = sent[:2] + b"\xff\xe0" + struct.pack(">H", 2 + len(jfif)) + jfif + sent[2:]
    kept = check_photo(sent, **LIMITS).data
    for said in (b"Phone", b"taken at home", b"second picture", b"THUMB!"):
        assert said not in kept, said
    with Image.open(io.BytesIO(kept)) as back:
        assert back.info.get("icc_profile") == profile  # its colours stay
        assert back.info.get("jfif") is not None
    assert kept.endswith(b"\xff\xd9") and _pixels(kept) == _pixels(out.getvalue())


def test_a_png_loses_its_text_exif_and_time_but_not_its_orientation_or_colours() -> None:
    image = Image.new("RGBA", (40, 30), (10, 120, 200, 255))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Nguyễn Văn An, 0903 123 456")
    info.add_itxt("Description", "chụp ở nhà", lang="vi")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 8, "Phone maker"
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif)
    sent = out.getvalue() + b"appended after IEND"
    kept = check_photo(sent, **LIMITS).data
    assert _said(kept)[0] == {0x0112: 8}
    for said in ("Nguyễn".encode(), b"Author", b"Phone", b"appended", "chụp".encode()):
        assert said not in kept, said
    assert _pixels(kept) == _pixels(out.getvalue())


def test_a_file_the_walker_cannot_follow_is_encoded_anew_upright_and_bare() -> None:
    with pytest.raises(ValueError):
        stripped(b"\xff\xd8\xff\xe1\x00\x08Exif", "JPEG")  # a segment running past the file
    sent = (PHOTOS / "hopper_orientation_6.jpg").read_bytes()
    head = 4 + int.from_bytes(sent[4:6], "big")  # SOI and its JFIF segment
    odd = sent[:head] + b"\xff\x00" + sent[head:]  # a stray FF 00: decoders skip it, the walker does not
    with pytest.raises(ValueError, match="no JPEG marker"):
        stripped(odd, "JPEG", 6)
    kept = check_photo(odd, **LIMITS)
    with Image.open(io.BytesIO(kept.data)) as back, Image.open(io.BytesIO(sent)) as original:
        assert dict(back.getexif()) == {} and back.size == original.size
        upright = ImageOps.exif_transpose(original).convert("L").resize((16, 16))
        shown = back.convert("L").resize((16, 16))
        sideways = original.convert("L").resize((16, 16))

        def distance(a: Image.Image, b: Image.Image) -> float:
            return sum(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes(), strict=True)) / 256

        assert distance(shown, upright) < 8 < distance(shown, sideways)  # turned as the phone meant it
