"""The field-report feed's options as configured: the ``[[feeds]]`` entry of kind ``open311``.

Options may name a TOML file (``settings_file``, relative to ``samples_dir``) holding the
:class:`ReportsFeed` section; options given inline win over the file's. ``host``, ``port`` and the
simulator's options belong to the worker and are split off here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ioc.feeds.reports.settings import ReportsFeed

WORKER_OPTIONS = ("host", "port", "simulate_days", "simulate_per_hour", "simulate_seed")


def split_options(options: dict[str, Any], samples_dir: Path) -> tuple[ReportsFeed, dict[str, Any]]:
    """(the feed's :class:`ReportsFeed`, the worker's own options) of one entry's ``options``."""
    opts = dict(options)
    worker = {k: opts.pop(k) for k in WORKER_OPTIONS if k in opts}
    merged: dict[str, Any] = {}
    if "settings_file" in opts:
        path = Path(str(opts.pop("settings_file")))
        path = path if path.is_absolute() else samples_dir / path
        merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
    merged.update(opts)
    cfg = ReportsFeed.model_validate(merged)
    if not Path(cfg.photo_dir).is_absolute():
        cfg = cfg.model_copy(update={"photo_dir": str(samples_dir.parent / cfg.photo_dir)})
    return cfg, worker


def configured_feed(settings: Any) -> ReportsFeed | None:
    """The first enabled ``open311`` feed's options (``settings``: :class:`ioc.config.Settings`)."""
    for feed in settings.feeds:
        if feed.enabled and feed.kind == "open311":
            return split_options(feed.options, Path(settings.samples_dir))[0]
    return None
