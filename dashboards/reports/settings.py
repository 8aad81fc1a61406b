"""``[reports]``: which reports are made, when, in which languages, and who receives them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _hhmm(value: str) -> str:
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"{value!r} is not HH:MM")
    return f"{int(hh):02d}:{int(mm):02d}"


class ReportSettings(BaseModel):
    """When each scheduled report is made (local time of the city) and what it holds."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    kinds: list[Literal["shift", "daily", "weekly"]] = Field(
        default_factory=lambda: ["shift", "daily", "weekly"])
    daily_at: str = "07:00"  # the daily report covers the 24 h before this time
    weekly_on: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    languages: list[Literal["vi", "en"]] = Field(default_factory=lambda: ["vi"])
    pdf: bool = True  # also print a PDF with headless Chromium (when it is installed)
    chromium: str = "chromium"  # the browser that prints PDFs
    catch_up_days: float = Field(default=7.0, ge=0)  # periods missed while down are made on start
    # delivery through the alerts' notification outbox (with its retries): recipient keys of
    # [alerts.recipients] and the channels to use (e.g. "email"); none: archived only
    recipients: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=lambda: ["email"])
    base_url: str = ""  # where the reports page is reached, for the link in a delivered report
    top: int = Field(default=10, ge=1, le=100)  # rows of each ranked table
    simulated: bool = False  # the feeds are samples or simulations: every report says SIMULATED

    @field_validator("daily_at")
    @classmethod
    def _time(cls, value: str) -> str:
        return _hhmm(value)


def report_settings(settings: Any = None) -> ReportSettings:
    """The :class:`ReportSettings` of the core settings' ``[reports]`` table, or the defaults."""
    raw: Any = getattr(settings, "reports", None)
    if isinstance(raw, ReportSettings):
        return raw
    return ReportSettings.model_validate(raw or {})
