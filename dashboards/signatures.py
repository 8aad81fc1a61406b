"""Digests of what a screen was sent, so a refresh that would send the same again sends nothing.

A page that re-reads its body every few seconds and replaces it in place makes the browser rebuild
thousands of nodes each time, though most refreshes change nothing (the press page kept a screen's
renderer 37 % busy that way). The page keeps the digest of what it last sent in a ``dcc.Store``;
a refresh whose digest is the same answers ``no_update``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from plotly.utils import PlotlyJSONEncoder


def signature(value: Any) -> str:
    """A digest of ``value`` (plain data or Dash components) that every worker process computes alike:
    the screen sends back the one it got, and its next refresh may reach another worker (Python's
    ``hash`` of a string differs from process to process)."""
    return hashlib.blake2b(json.dumps(value, cls=PlotlyJSONEncoder).encode(), digest_size=12).hexdigest()
