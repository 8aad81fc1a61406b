"""Edited rules laid over a configuration's: what a back-test replays a period with.

A rules text is TOML with ``[rules...]`` tables naming only what changes
(``[rules.vessels.ais_gap] gap_minutes = 20``); every other rule keeps the configuration's values.
A text that is not TOML, has no ``[rules]`` or fails the rules' validation is a :class:`ConfigError`
with the reason.
"""

from __future__ import annotations

import tomllib
from typing import Any

from ioc.config import ConfigError, Settings


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in change.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out


def rules_from_text(settings: Settings, text: str, origin: str = "rules file") -> Settings:
    """``settings`` with the ``[rules]`` tables of the TOML ``text`` laid over its own (a table names
    only what changes: ``[rules.vessels.ais_gap] gap_minutes = 20`` keeps every other rule as it is)."""
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    if not isinstance(doc.get("rules"), dict):
        raise ConfigError(f"{origin}: no [rules] table")
    unknown = sorted(set(doc) - {"rules"})
    if unknown:
        raise ConfigError(f"{origin}: only [rules] tables belong here, not {', '.join(unknown)}")
    try:
        current = settings.rules
        fields = {name: getattr(current, name) for name in type(current).model_fields}
        for name, change in doc["rules"].items():  # only the tables named are dumped and merged
            value = fields.get(name)
            if isinstance(change, dict) and hasattr(value, "model_dump"):
                change = _merged(value.model_dump(mode="python", exclude_unset=True), change)
            fields[name] = change
        rules = type(current).model_validate(fields)
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return settings.model_copy(update={"rules": rules})
