"""The intake's multipart reader: the same fields and files as Werkzeug's parser on what real clients
send, and a clear refusal of what is malformed or too large."""

from __future__ import annotations

import io
import os

import pytest
import requests
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from ingest.reports.multipart import FormTooLarge, MalformedForm, parse


def encoded(data: dict[str, str], files: list[tuple[str, tuple[str, bytes, str]]]) -> tuple[bytes, str]:
    """A body as the ``requests`` client encodes it (a fresh random boundary each time)."""
    req = requests.Request("POST", "http://x/", data=data, files=files).prepare()
    ctype = req.headers["Content-Type"]
    return req.body, ctype.split("boundary=", 1)[1]  # type: ignore[return-value]


@pytest.mark.parametrize("seed", range(5))
def test_same_as_werkzeug_on_what_clients_send(seed: int) -> None:
    blob = os.urandom(20_000 + seed) + b"\r\n--\r\n--" + os.urandom(50)  # data that looks like delimiters
    data = {"api_key": "k" * 20, "description": "Đèn đường hỏng\r\n-- nhiều ngày", "lat": "16.46", "x": ""}
    files = [("media", (f"p{i}.jpg", blob[i:], "image/jpeg")) for i in range(seed % 3 + 1)]
    body, boundary = encoded(data, files)
    form = parse(body, boundary)
    env = EnvironBuilder(method="POST", input_stream=io.BytesIO(body), content_length=len(body),
                         content_type=f"multipart/form-data; boundary={boundary}").get_environ()
    _, wz_form, wz_files = parse_form_data(env)
    assert form.fields.to_dict(flat=False) == wz_form.to_dict(flat=False)
    theirs = [(n, f.filename, f.read()) for n, f in wz_files.items(multi=True)]
    assert form.files == theirs


@pytest.mark.parametrize(("body", "words"), [
    (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n", "closing boundary"),
    (b"no boundary at all", "no multipart boundary"),
    (b"--bX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--", "line break"),
    (b"--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--\r\n", "no Content-Disposition"),
    (b"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--b--\r\n", "form-data with a name"),
    (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\xfe\r\n--b--\r\n", "not UTF-8"),
    (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n" + b"X: y\r\n" * 3000 + b"\r\n1\r\n--b--",
     "8 kB"),
])
def test_malformed_bodies_are_refused_with_the_reason(body: bytes, words: str) -> None:
    with pytest.raises(MalformedForm, match=words):
        parse(body, "b")


def test_no_boundary_and_limits() -> None:
    with pytest.raises(MalformedForm, match="boundary missing"):
        parse(b"--\r\n", "")
    tiny = [("media", ("p.jpg", b"x", "image/jpeg"))]  # a file: requests then sends multipart
    many, b = encoded({f"f{i}": "x" for i in range(100)}, tiny)
    with pytest.raises(FormTooLarge, match="parts"):
        parse(many, b)
    long_text, b = encoded({"description": "x" * 70_000}, tiny)
    with pytest.raises(FormTooLarge, match="text"):
        parse(long_text, b)
    photo, b = encoded({"a": "1"}, [("media", ("p.jpg", b"\xff" * 200_000, "image/jpeg"))])
    assert len(parse(photo, b).files[0][2]) == 200_000  # files are not text: only the app's size limits apply
