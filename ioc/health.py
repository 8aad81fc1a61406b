"""The health of one ingest worker, in one typed record every feed reports the same way.

Every ingest worker answers :class:`FeedHealth` from ``feed_health()``: which feed and worker,
the event time of its last good data, how many inputs it received, how many records it published,
dead-lettered, still holds unpublished (and dropped over its cap), its errors and the last one,
whether its backlog is on the bus (``live``) and a :class:`FeedState` for the people on duty.
What only one feed knows (AIS sentence counts, a camera's frame rate) rides in ``details``.

The runtime writes it into the role's heartbeat (``role_health.details``) and the pages read it
back with :meth:`FeedHealth.from_details`, so both sides share one schema instead of dict keys.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FeedState(StrEnum):
    """What an operator needs to know about a feed at a glance."""

    LIVE = "live"  # in step with its source, nothing failing
    CATCHING_UP = "catching_up"  # its backlog (backfill, queued records) is still on its way to the bus
    RETRYING = "retrying"  # the source or the bus fails: records are kept and retried with backoff
    DOWN = "down"  # the source is not connected


def feed_state(*, live: bool, connected: bool | None = None, failing: bool = False) -> FeedState:
    """The state of a feed: failing beats disconnected beats catching up beats live."""
    if failing:
        return FeedState.RETRYING
    if connected is False:
        return FeedState.DOWN
    return FeedState.LIVE if live else FeedState.CATCHING_UP


class FeedHealth(BaseModel):
    """One ingest worker's health at one moment (counters since the worker started)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feed: str = Field(min_length=1)  # the ``[[feeds]]`` name or ``camera:<id>``
    worker: str = Field(min_length=1)  # the kind of worker: "vessels", "environment", "camera", ...
    state: FeedState
    live: bool = True  # its backlog is on the bus: the runtime starts the detectors after this
    last_data_time: datetime | None = None  # event time of the latest good record
    received: int = Field(default=0, ge=0)  # inputs taken in (lines, readings, frames, posts...)
    published: int = Field(default=0, ge=0)  # records published on the bus (dead letters apart)
    dead_lettered: int = Field(default=0, ge=0)  # inputs rejected with a reason
    pending: int = Field(default=0, ge=0)  # records waiting for the bus
    dropped: int = Field(default=0, ge=0)  # unpublished records dropped over the pending cap
    errors: int = Field(default=0, ge=0)  # source, bus and processing errors
    last_error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)  # what only this feed counts

    def to_details(self) -> dict[str, Any]:
        """The record as JSON-ready data (a heartbeat's ``details``)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_details(cls, data: object) -> FeedHealth | None:
        """The record a heartbeat's ``details`` holds, or None when it holds none (another role)."""
        if not isinstance(data, dict) or "worker" not in data or "state" not in data:
            return None
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None
