"""Edited rules laid over a configuration's: what a back-test replays a period with.

A rules text is TOML with ``[rules...]`` tables naming only what changes
(``[rules.vessels.ais_gap] gap_minutes = 20``); every other rule keeps the configuration's values.
A text that is not TOML, has no ``[rules]`` or fails the rules' validation is a :class:`ConfigError`
with the reason.
"""

from __future__ import annotations

import tomllib
from typing import Any

from pydantic import ValidationError

from ioc.config import ConfigError, Settings, ValidationReasons


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in change.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out


def rules_from_text(settings: Settings, text: str, origin: Any = "rules file") -> Settings:
    """``settings`` with the ``[rules]`` tables of the TOML ``text`` laid over its own (a table names
    only what changes: ``[rules.vessels.ais_gap] gap_minutes = 20`` keeps every other rule as it is)."""
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # the position and what was expected: Python's own words
        raise ConfigError("{origin}: not valid TOML: {reason}", origin=origin, reason=exc) from None
    except RecursionError:  # x = [[[[...]]]] thousands deep: tomllib reads nesting by recursion
        raise ConfigError("{origin}: not valid TOML: {reason}", origin=origin,
                          reason=ConfigError("nested too deeply")) from None
    if not isinstance(doc.get("rules"), dict):
        raise ConfigError("{origin}: no [rules] table", origin=origin)
    unknown = sorted(set(doc) - {"rules"})
    if unknown:
        raise ConfigError("{origin}: only [rules] tables belong here, not {tables}", origin=origin,
                          tables=", ".join(unknown))
    try:
        current = settings.rules
        fields = {name: getattr(current, name) for name in type(current).model_fields}
        for name, change in doc["rules"].items():  # only the tables named are dumped and merged
            value = fields.get(name)
            if isinstance(change, dict) and hasattr(value, "model_dump"):
                change = _merged(value.model_dump(mode="python", exclude_unset=True), change)
            fields[name] = change
        rules = type(current).model_validate(fields)
    except ValidationError as exc:
        reason = ValidationReasons(exc, ("rules",))
        raise ConfigError("{origin}: {reason}", origin=origin, reason=reason) from None
    except ValueError as exc:
        raise ConfigError("{origin}: {reason}", origin=origin, reason=exc) from None
    return settings.model_copy(update={"rules": rules})
