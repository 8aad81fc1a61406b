"""The environment feed's record: one measured value of one metric at one station."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ioc.records import Event, Name


class EnvironmentReading(Event):
    """One measured value of one metric at one station (air, water, weather sensor)."""

    kind: Literal["environment.reading"] = "environment.reading"
    metric: Name
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Annotated[str, Field(max_length=32)] = ""
    quality: Literal["good", "suspect", "bad"] = "good"
