"""The room's screens: ``/screen/<name>`` shows a profile's pages in turn; ``/screens/`` edits them."""

from dashboards.screens.routes import register_screens

__all__ = ["register_screens"]
