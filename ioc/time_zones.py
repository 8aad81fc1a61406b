"""A time zone as settings name it: an IANA name (``Asia/Ho_Chi_Minh``), checked when the settings
are read so that a misspelt zone is a configuration error with its path, not a crash at start."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def known_zone(value: str) -> str:
    """``value`` if the zone database knows it; a clear error otherwise."""
    try:
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name: 'Asia/Ho_Chi_Minh')") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(known_zone)]
