"""The press page, ``/press/``."""

from __future__ import annotations

from dashboards.press.page import register_press_page

__all__ = ["register_press_page"]
