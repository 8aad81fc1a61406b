"""The public-services feed's settings: ``[rules.services]`` and ``[feeds.services]``, as data."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.time_zones import TimeZoneName

Positive = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=1)]


class ServicesRuleSettings(BaseModel):
    """Thresholds of the dossier rules (``[rules.services]``); a section absent: no such rules."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[Literal["approaching_due", "overdue", "on_time_rate", "handling_jump"]] = Field(
        default_factory=lambda: ["approaching_due", "overdue", "on_time_rate", "handling_jump"]
    )
    approaching_hours: Positive = 24.0  # an open dossier this close to its due time: warning
    on_time_target: Rate = 0.95  # a department's target unless ``department_targets`` names it
    department_targets: dict[str, Rate] = Field(default_factory=dict)
    on_time_window_days: Positive = 30.0  # finished dossiers counted, by finish time
    on_time_min_finished: Count = 20  # fewer finished in the window: no verdict
    handling_recent: Count = 20  # the last N handling times of a procedure...
    handling_baseline: Count = 100  # ...against the N before them
    handling_jump_ratio: Annotated[float, Field(gt=1)] = 1.5  # recent median / baseline median


class ServicesRules(BaseModel):
    """The public-services feed's sections of ``[rules]``."""

    model_config = ConfigDict(extra="forbid")

    services: ServicesRuleSettings | None = None


class ServicesOptions(BaseModel):
    """``[feeds.services]``: feed-wide options (the rules' targets are in ``[rules.services]``)."""

    model_config = ConfigDict(extra="forbid")

    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"  # the day and month of the rollups
