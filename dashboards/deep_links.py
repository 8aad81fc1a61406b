"""Links into a page from elsewhere (the console's "open the data" links, notifications, reports).

A link names what to show in its query string: ``/sea/?mmsi=574001234`` selects that vessel,
``/cameras/?camera=cam-1&at=<ISO time>`` that camera and its frame at the alert's time,
``/?station=hue-01`` marks that station, ``/security/?alert=42`` that alert's events. Each page reads
its argument from a ``dcc.Location``'s ``search`` with :func:`query_arg`, which refuses anything
that is not the kind of value it names. A page's address without its final slash (``/sea``) is
redirected to the page with the query kept (:func:`redirect_to_page`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs

from flask import Flask, Response, redirect, request

MAX_ARG = 200  # longer than any id, time or name a link carries


def query_arg(search: str | None, name: str) -> str | None:
    """The first ``name`` of a query string (``?a=1&b=2``, as ``dcc.Location`` gives it), if it is
    non-empty, at most :data:`MAX_ARG` characters and free of control characters."""
    value = parse_qs((search or "").lstrip("?")).get(name, [""])[0].strip()
    if not value or len(value) > MAX_ARG or not value.isprintable():
        return None
    return value


def int_arg(search: str | None, name: str, max_digits: int = 18) -> int | None:
    """``name`` of the query string as a non-negative integer (an alert id, an MMSI), if it is one."""
    value = query_arg(search, name)
    return int(value) if value is not None and value.isascii() and value.isdigit() \
        and len(value) <= max_digits else None


def time_arg(search: str | None, name: str) -> datetime | None:
    """``name`` of the query string as an ISO 8601 time with its offset (``at=2026-12-07T10:00:00+00:00``:
    a ``+`` that a query turned into a space is read back), else ``None``."""
    value = query_arg(search, name)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def redirect_to_page(server: Flask, path: str, prefix: str) -> None:
    """``path`` (``/sea``) answers with a redirect to ``prefix`` (``/sea/``), its query string kept:
    the console links to ``/sea?mmsi=…``, and without this rule the wall's catch-all took it."""
    endpoint = f"ioc_no_slash_{prefix.strip('/')}"
    if endpoint in server.view_functions:
        return

    def to_page() -> Response:
        query = request.query_string.decode("latin-1")
        return redirect(prefix + (f"?{query}" if query else ""), code=308)

    server.add_url_rule(path, endpoint, to_page)
