"""The press feed's settings: ``[feeds.press]`` (watch lists, departments) and ``[rules.press]``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
Terms = Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(min_length=1)]


class WatchEntry(BaseModel):
    """One watched thing: its name and the Vietnamese and English terms that mean it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128)]
    terms: Terms
    department: Annotated[str, Field(max_length=128)] = ""  # who must answer about it
    hazard: bool = False  # a topic whose bursts are alerts (flood, landslide, fire...)


class PressOptions(BaseModel):
    """``[feeds.press]``: the watch lists every press worker matches articles against."""

    model_config = ConfigDict(extra="forbid")

    places: list[WatchEntry] = Field(default_factory=list)
    agencies: list[WatchEntry] = Field(default_factory=list)
    titles: list[WatchEntry] = Field(default_factory=list)  # officials' titles
    topics: list[WatchEntry] = Field(default_factory=list)
    fetch_pages: bool = True  # fetch the article page when the feed carries only a summary
    # named entities: "rules" (capitalised words typed by cue words and the watch lists, fast) or
    # "underthesea" (its bundled CRF ner, offline, ~30 ms an article; see ingest/press/entities.py)
    entities: Literal["rules", "underthesea"] = "rules"
    max_feed_bytes: Count = 5_000_000
    max_page_bytes: Count = 3_000_000


class PressRuleSettings(BaseModel):
    """Thresholds of the press rules."""

    model_config = ConfigDict(extra="forbid")

    story_similarity: Annotated[float, Field(gt=0, le=1)] = 0.5  # Jaccard of word shingles
    spread_outlets: Count = 3  # a story carried by this many outlets...
    spread_minutes: Positive = 120.0  # ...within this long: spreading
    burst_z: Positive = 4.0  # hourly count this many Poisson deviations above baseline
    burst_min_count: Count = 3
    baseline_hours: Count = 24
    # the watched topics whose bursts and stories alert, and who must answer: name -> department
    hazards: list[str] = Field(default_factory=lambda: [
        "flood", "landslide", "accident", "fire", "outbreak", "complaint", "service_failure"])
    departments: dict[str, str] = Field(default_factory=dict)  # topic, agency or place name -> department
    default_department: str = "Trung tâm IOC"
    keep_hours: Count = 48  # articles older than this (event time) leave the story index


class PressRules(BaseModel):
    """The press feed's section of ``[rules]``."""

    model_config = ConfigDict(extra="forbid")

    press: PressRuleSettings | None = None
