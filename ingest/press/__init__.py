"""The press feed's intake: RSS/Atom/RDF polling, article pages, Vietnamese text understanding."""

from __future__ import annotations

from ingest.press.worker import KINDS, PressWorker, build_worker, feed_options

__all__ = ["KINDS", "PressWorker", "build_worker", "feed_options"]
