"""``ioc check-config FILE``: every error of a configuration, each with its TOML path.

First the file against the settings model (unknown sections and misspelled options included:
every model forbids extra keys), then what only the parts that use a section can judge: the alert
settings and people, each feed's options (its ingest builder), the rules (each rule kind builds
its detectors: camera rules, vessel rule options), the zone files (read as the rules read them), and
the pages the screen profiles show.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ioc.config import ConfigError, Settings, ValidationReasons, toml_path
from ioc.i18n import Worded, gettext, ngettext
from ioc.zones import read_zone_file

__all__ = ["check_config", "print_report", "toml_path"]


def _errors(exc: ValidationError, prefix: tuple[Any, ...] = (), lang: str = "en") -> list[str]:
    return ValidationReasons(exc, prefix).lines(lang)


def _check(errors: list[str], where: str, check: Callable[[], object], lang: str = "en") -> None:
    try:
        check()
    except ValidationError as exc:
        errors += _errors(exc, tuple(where.split(".")) if where else (), lang)
    except (ValueError, ConfigError, OSError, KeyError) as exc:  # worded ones in the reader's language
        errors.append(f"{where}: {exc.said(lang) if isinstance(exc, Worded) else exc}")


def check_config(path: Path, lang: str = "en") -> tuple[Settings | None, list[str]]:
    """The settings of ``path`` (``None`` when the file does not validate) and every error found,
    the reasons in ``lang`` where the catalogue has them."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [gettext("ioc", "(file): cannot be read: {reason}", lang, reason=exc.strerror or exc)]
    except UnicodeDecodeError:
        return None, [gettext("ioc", "(file): not UTF-8 text", lang)]
    except tomllib.TOMLDecodeError as exc:  # the position and what was expected: Python's own words
        return None, [gettext("ioc", "(file): not valid TOML: {reason}", lang, reason=exc)]
    except RecursionError:  # arrays or tables nested hundreds deep
        return None, [gettext("ioc", "(file): not valid TOML: {reason}", lang,
                              reason=gettext("ioc", "nested too deeply", lang))]
    unknown = [gettext("ioc", "{key}: not a section of the settings", lang, key=key)
               for key in doc if key not in Settings.model_fields]
    try:
        settings = Settings.model_validate(doc)  # the file alone, without IOC_* overrides
    except ValidationError as exc:
        return None, unknown + _errors(exc, lang=lang)
    if unknown:
        return None, unknown
    errors: list[str] = []
    from alerts.settings import alert_settings
    from detectors.registry import DETECTORS
    from ingest.registry import check_feed_options

    _check(errors, "alerts", lambda: alert_settings(settings), lang)
    for i, feed in enumerate(settings.feeds):
        _check(errors, f"feeds[{i}]", lambda feed=feed: check_feed_options(feed, settings), lang)
    for name, factory in DETECTORS.items():
        _check(errors, f"rules.{name}", lambda factory=factory: factory(settings), lang)
    _check_screens(errors, settings, lang)
    for i, zone_file in enumerate(_zone_files(settings)):
        _check(errors, f"rules.vessels.zones[{i}]", lambda f=zone_file: _read_zones(settings, f), lang)
    return settings, errors


def _check_screens(errors: list[str], settings: Settings, lang: str = "en") -> None:
    """Every page a ``[[screens]]`` profile shows must be a page of the server."""
    from dashboards.screens.routes import page_paths

    known = page_paths()
    for i, screen in enumerate(settings.screens):
        for j, item in enumerate(screen.items):
            for page in item.pages():
                if page not in known:
                    errors.append(gettext(
                        "ioc", "screens[{i}].items[{j}]: {page} is not a page of the server (pages: {pages})",
                        lang, i=i, j=j, page=repr(page), pages=", ".join(known)))


def _zone_files(settings: Settings) -> list[str]:
    return list(settings.rules.vessels.zones)


def _read_zones(settings: Settings, file: str) -> None:
    path = Path(file)
    read_zone_file(path if path.is_absolute() else Path(settings.samples_dir) / path)


def print_report(path: Path) -> int:
    """Print every error with its path (exit status 1), or a summary (0)."""
    from ioc.app.cli import CLI_LANG, tr

    settings, errors = check_config(path, CLI_LANG)
    for line in errors:  # each with its TOML path; the reasons the catalogue lacks are pydantic's English
        print(f"{path}: {line}")
    if errors or settings is None:
        print(ngettext("ioc", "{path}: {n} error", "{path}: {n} errors", len(errors), CLI_LANG, path=path))
        return 1
    print(tr("{path}: valid: city={city} stations={stations} feeds={feeds} cameras={cameras} bus={bus}",
             path=path, city=settings.city, stations=len(settings.stations), feeds=len(settings.feeds),
             cameras=len(settings.cameras), bus=settings.bus.kind))
    return 0
