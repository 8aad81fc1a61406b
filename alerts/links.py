"""Which feed an alert came from, and the link to the data that raised it.

Built from the alert's detector, source and details only, so the console
needs no knowledge of the pages it links to beyond their addresses:
environment alerts open the wall with the station highlighted
(``/?station=<id>``), vessel alerts the sea page (``/sea?mmsi=<mmsi>``),
camera alerts the camera page at the alert's time (``/cameras?camera=<id>&at=<iso>``),
security alerts the security page holding the alert's events (``/security/?alert=<id>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ioc.feeds import FEEDS as REGISTERED

#: the console's feeds: every registered one, in the registry's order, then what no feed claims
FEEDS: tuple[str, ...] = (*(spec.name for spec in REGISTERED), "other")

# detectors whose feed their name alone tells (each feed declares its rules' detectors); others,
# such as the stale rule that watches any kind, are told by their details
DETECTOR_FEEDS: dict[str, str] = {name: spec.name for spec in REGISTERED for name in spec.detectors}
_KIND_FEEDS: dict[str, str] = {cls.model_fields["kind"].default: spec.name
                               for spec in REGISTERED for cls in spec.events}


def feed_of(detector: str, details: Mapping[str, Any] | None) -> str:
    """The feed an alert belongs to (one of :data:`FEEDS`)."""
    if detector in DETECTOR_FEEDS:
        return DETECTOR_FEEDS[detector]
    details = details or {}
    kind = str(details.get("kind") or "")  # e.g. the stale detector's "environment.reading"
    if kind in _KIND_FEEDS:
        return _KIND_FEEDS[kind]
    if "mmsi" in details:
        return "vessels"
    if "camera" in details:
        return "cameras"
    if "metric" in details:
        return "environment"
    return "other"


def data_link(
    detector: str, source_id: str, details: Mapping[str, Any] | None, at: datetime | None = None,
    alert_id: int | None = None,
) -> tuple[str, str] | None:
    """(label, relative URL) of the page showing the data behind the alert, or ``None``."""
    details = details or {}
    feed = feed_of(detector, details)
    if feed == "environment":
        station = str(details.get("station") or source_id)
        return "Open the station's chart", "/?" + urlencode({"station": station})
    if feed == "vessels":
        mmsi = str(details.get("mmsi") or source_id)
        return "Open the vessel on the sea map", "/sea?" + urlencode({"mmsi": mmsi})
    if feed == "cameras":
        query = {"camera": str(details.get("camera") or source_id)}
        if at is not None:
            query["at"] = at.isoformat()
        return "Open the camera frame", "/cameras?" + urlencode(query)
    if feed == "security" and alert_id is not None:
        return "Open the alert's events", "/security/?" + urlencode({"alert": alert_id})
    return None
