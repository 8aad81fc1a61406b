"""``[feeds.reports]`` (categories, routing, deadlines, city polygon, client keys, upload limits)
and ``[rules.reports]`` (deadline warnings, bursts)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.http_proxies import checked_networks

Minutes = Annotated[float, Field(gt=0, le=60 * 24 * 90)]


class Category(BaseModel):
    """One Open311 service: who handles it (per area) and how fast."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: Annotated[str, Field(max_length=1000)] = ""
    group: Annotated[str, Field(max_length=128)] = ""
    department: Annotated[str, Field(min_length=1, max_length=64)]
    assignee_group: Annotated[str, Field(min_length=1, max_length=64)]
    # ward name -> assignee group, where another team covers that ward
    assignee_by_ward: dict[str, str] = Field(default_factory=dict)
    ack_minutes: Minutes = 120
    resolve_minutes: Minutes = 60 * 72


class Client(BaseModel):
    """One client application allowed to post: its key and its rate limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: Annotated[str, Field(min_length=16, max_length=128)]
    per_minute: Annotated[int, Field(gt=0, le=1_000_000)] = 60
    burst: Annotated[int, Field(gt=0, le=1_000_000)] = 20


class Ward(BaseModel):
    """A named area (for assignee groups and bursts): a polygon of (lon, lat) points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=128)]
    polygon: Annotated[list[tuple[float, float]], Field(min_length=3)]


class ReportsFeed(BaseModel):
    """``[feeds.reports]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: dict[str, Category]
    city_polygon: Annotated[list[tuple[float, float]], Field(min_length=3)]  # (lon, lat) points
    wards: list[Ward] = Field(default_factory=list)
    clients: dict[str, Client] = Field(default_factory=dict)
    photo_dir: str = "var/reports/photos"
    max_photos: Annotated[int, Field(ge=0, le=10)] = 3
    max_photo_bytes: Annotated[int, Field(gt=0, le=50_000_000)] = 5_000_000
    max_photo_pixels: Annotated[int, Field(gt=0, le=200_000_000)] = 40_000_000
    max_description: Annotated[int, Field(gt=0, le=4000)] = 4000
    duplicate_metres: Annotated[float, Field(gt=0)] = 50
    duplicate_minutes: Minutes = 120
    jurisdiction_id: str = "hue.gov.vn"
    # what the Open311 discovery answer (``discovery.json``) tells an app's developers
    contact: Annotated[str, Field(max_length=500)] = ""  # whom to ask about the API
    key_service: Annotated[str, Field(max_length=500)] = ""  # how to get an api_key
    # the reverse proxies in front of the intake (addresses or networks): a post arriving from one is
    # counted under the client its X-Forwarded-For names, else every client would share the proxy's
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return checked_networks(value)

    @model_validator(mode="after")
    def _unique_keys(self) -> ReportsFeed:
        keys = [c.api_key for c in self.clients.values()]
        if len(keys) != len(set(keys)):
            raise ValueError("two clients share one api_key")
        return self


class ReportsRules(BaseModel):
    """``[rules.reports]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warn_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.8  # of the deadline's span elapsed
    burst_count: Annotated[int, Field(ge=2)] = 5
    burst_minutes: Minutes = 60


class ReportsRuleSections(BaseModel):
    """The reports feed's sections of ``[rules]`` (``[rules.reports]``; absent: no report rules)."""

    model_config = ConfigDict(extra="forbid")

    reports: ReportsRules | None = None
