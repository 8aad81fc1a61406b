"""Screen profiles: what one physical screen of the operations room shows, as data.

A profile is addressed by its name (``/screen/<name>``) and lists items shown in turn: a page
of this server (``/``, ``/sea/``, ``/cameras/``...) or a grid of panels, each panel a page.
Each item stays ``dwell_s`` seconds; an operator at the keyboard or mouse pauses the rotation,
which resumes after ``resume_after_s`` seconds without activity. ``language`` is the pages'
language on that screen, ``kiosk_account`` the (viewer) account the screen logs in with.

Profiles come from ``[[screens]]`` in the TOML settings and may be replaced on the admin page
(stored in the database, ``ioc/store/screen_profiles.py``); both are validated by this model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MAX_GRID = 4  # columns or rows of panels still readable from across a room


def check_page_path(path: str) -> str:
    """A path of this server (``/sea/``): no scheme, host, query, ``.``/``..`` segment or backslash."""
    # no character below U+0021 (a browser drops CR, LF and tabs from a URL: "/\r/evil.example/" becomes
    # "//evil.example/", another site), no "?", "#", backslash or ":"
    if not path.startswith("/") or path.startswith("//") or any(ch in "?#\\:" or ch <= " " for ch in path):
        raise ValueError(f"{path!r} is not a page path of this server (write it like /sea/)")
    if any(seg in (".", "..") for seg in path.split("/")):
        raise ValueError(f"{path!r} may not contain '.' or '..' segments")
    return path


class ScreenGrid(BaseModel):
    """Panels side by side: ``columns`` x ``rows`` cells filled in order with ``panels`` (pages)."""

    model_config = ConfigDict(extra="forbid")

    columns: int = Field(ge=1, le=MAX_GRID)
    rows: int = Field(ge=1, le=MAX_GRID)
    panels: list[str] = Field(min_length=1)

    @field_validator("panels")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        return [check_page_path(p) for p in v]

    @model_validator(mode="after")
    def _fits(self) -> ScreenGrid:
        if len(self.panels) > self.columns * self.rows:
            raise ValueError(f"{len(self.panels)} panels do not fit a {self.columns} x {self.rows} grid")
        return self


class ScreenItem(BaseModel):
    """One step of a screen's rotation: a page, or a grid of panels, for ``dwell_s`` seconds."""

    model_config = ConfigDict(extra="forbid")

    page: str | None = None
    grid: ScreenGrid | None = None
    dwell_s: float = Field(default=60.0, ge=2, le=86400, allow_inf_nan=False)

    @field_validator("page")
    @classmethod
    def _page_path(cls, v: str | None) -> str | None:
        return None if v is None else check_page_path(v)

    @model_validator(mode="after")
    def _one_of(self) -> ScreenItem:
        if (self.page is None) == (self.grid is None):
            raise ValueError("an item shows either a page or a grid, exactly one of them")
        return self

    def pages(self) -> list[str]:
        """The pages this item shows."""
        return [self.page] if self.page is not None else list(self.grid.panels if self.grid else [])


class ScreenProfile(BaseModel):
    """What one physical screen shows (``[[screens]]``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    title: str = ""
    language: Literal["vi", "en"] | None = None  # None: the city's (or the kiosk user's) language
    kiosk_account: str | None = None  # the screen asks for a login as this account when it has none
    # the idle time that resumes the rotation
    resume_after_s: float = Field(default=120.0, ge=1, le=86400, allow_inf_nan=False)
    items: list[ScreenItem] = Field(min_length=1, max_length=64)

    def pages(self) -> list[str]:
        """Every page the profile shows, each once, in order."""
        return list(dict.fromkeys(p for item in self.items for p in item.pages()))

    def revision(self) -> str:
        """A short digest of the profile: a running screen polls it to notice a change."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def unique_names(profiles: list[ScreenProfile]) -> list[ScreenProfile]:
    """``profiles`` when no two share a name (a validator of ``[[screens]]``)."""
    seen: set[str] = set()
    for p in profiles:
        if p.name in seen:
            raise ValueError(f"two screens are named {p.name!r}")
        seen.add(p.name)
    return profiles
