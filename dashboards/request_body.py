"""A request's JSON body read without letting a hostile one raise (too deep, not JSON, not UTF-8)."""

from __future__ import annotations

from typing import Any

from flask import request

DISPATCH = "/_dash-update-component"  # every page's callback route ends so: its body is JSON


def json_body() -> Any:
    """The request's JSON body, or ``None`` when it is none, not JSON or nested too deeply to read."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # ``[[[[...]]]]`` a hundred thousand deep: get_json only swallows ValueError
        return None
