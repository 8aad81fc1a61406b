"""A strict ``multipart/form-data`` reader for the Open311 post (RFC 7578), on a bounded body.

Werkzeug's streaming parser compiles two regular expressions per request (its patterns hold the
boundary, different on every post) and searches chunk by chunk; for a body already bounded by the
app's ``MAX_CONTENT_LENGTH`` one split on the delimiter does the same work in C. The profile of
the intake had form parsing as its largest CPU cost. Anything malformed is :class:`MalformedForm`
(a 400); too many parts or too much text is :class:`FormTooLarge` (a 413).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_options_header

MAX_HEADER_BYTES = 8192  # the header block of one part


class MalformedForm(ValueError):
    """The body is not the multipart form it says it is; ``str()`` is the reason."""


class FormTooLarge(ValueError):
    """Too many parts, or more text than allowed."""


@dataclass
class Form:
    fields: MultiDict[str, str] = field(default_factory=MultiDict)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field name, file name, data)


def parse(body: bytes, boundary: str, *, max_parts: int = 64, max_text_bytes: int = 64_000) -> Form:
    """The fields and files of ``body``; raise :class:`MalformedForm` or :class:`FormTooLarge`."""
    if not boundary or len(boundary) > 70:
        raise MalformedForm("multipart boundary missing or longer than 70 characters")
    delimiter = b"--" + boundary.encode("latin-1")
    start = 0 if body.startswith(delimiter) else body.find(b"\r\n" + delimiter)
    if start < 0:
        raise MalformedForm("no multipart boundary in the body")
    start = body.index(delimiter, start) + len(delimiter)
    sections = body[start:].split(b"\r\n" + delimiter)
    if len(sections) - 1 > max_parts:
        raise FormTooLarge(f"more than {max_parts} parts")
    form, text = Form(), 0
    for i, section in enumerate(sections):
        if section.startswith(b"--"):  # the close delimiter; what follows is the epilogue
            return form
        if i == len(sections) - 1:
            break
        section = section.lstrip(b" \t")  # transport padding after a delimiter
        if not section.startswith(b"\r\n"):
            raise MalformedForm("a boundary is not followed by a line break")
        end = section.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
        if end < 0:
            raise MalformedForm("a part's headers do not end (or are longer than 8 kB)")
        name, filename = _disposition(section[2:end])
        data = section[end + 4:]
        if filename is None and data and _is_media(section[2:end]):
            filename = ""  # a photo sent without a file name (RFC 7578 makes it optional): still a file
        if filename is None:
            text += len(data)
            if text > max_text_bytes:
                raise FormTooLarge(f"form text longer than {max_text_bytes} bytes")
            try:
                form.fields.add(name, data.decode("utf-8"))
            except UnicodeDecodeError:
                raise MalformedForm(f"field {name[:40]!r} is not UTF-8") from None
        elif filename or data:
            form.files.append((name, filename, data))
        # else: a file input left empty, which every browser sends as a part with no file name and
        # no content: nothing was uploaded
    raise MalformedForm("the body ends without the closing boundary")


def _is_media(head: bytes) -> bool:
    """Whether a part's ``Content-Type`` says image, video or audio (none says ``text/plain``, RFC 7578
    §4.4); a field some client labels ``application/octet-stream`` stays a field."""
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "content-type":
            return parse_options_header(value.strip())[0].lower().split("/")[0] in ("image", "video", "audio")
    return False


def _disposition(head: bytes) -> tuple[str, str | None]:
    """The field name and file name of a part from its ``Content-Disposition`` header."""
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        raise MalformedForm("a part's headers are not UTF-8") from None
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "content-disposition":
            kind, params = parse_options_header(value.strip())
            if kind != "form-data" or not params.get("name"):
                raise MalformedForm("a part is not form-data with a name")
            return params["name"], params.get("filename")
    raise MalformedForm("a part has no Content-Disposition")
