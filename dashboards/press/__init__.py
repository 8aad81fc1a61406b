"""The press page, ``/press/``."""

from __future__ import annotations

from dashboards.press.page import create_press_page

__all__ = ["create_press_page"]
