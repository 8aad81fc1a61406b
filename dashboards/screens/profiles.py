"""The profiles a screen follows: ``[[screens]]`` of the settings, replaced by edits stored in the database.

An edited profile that no longer validates (a page removed since, say) is ignored with a warning,
and the configured one of that name, if any, applies: a screen never goes blank for a bad edit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from ioc.config import Settings
from ioc.screens import ScreenProfile
from ioc.store.screen_profiles import stored_profiles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveProfile:
    """A profile as screens see it, with where it comes from."""

    profile: ScreenProfile
    edited: bool = False  # from the admin page (the database), not the settings
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""
    configured: bool = False  # a [[screens]] profile of this name exists


def active_profiles(pool: ConnectionPool, settings: Settings) -> dict[str, ActiveProfile]:
    """Every profile by name: the configured ones, each replaced by its edit where there is one."""
    configured = {p.name: p for p in settings.screens}
    out = {name: ActiveProfile(p, configured=True) for name, p in configured.items()}
    for name, row in stored_profiles(pool).items():
        try:
            profile = ScreenProfile.model_validate(row.profile)
        except ValidationError as exc:
            log.warning("screen profile %r as edited does not validate; the configured one applies: %s",
                        name, exc)
            continue
        out[name] = ActiveProfile(profile, True, row.version, row.updated_at, row.updated_by,
                                  name in configured)
    return dict(sorted(out.items()))
