"""The public-services feed's record: one status change of a one-stop-shop dossier ("hồ sơ một cửa")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from ioc.records import Event

Status = Literal["received", "processing", "supplement_requested", "resolved", "returned"]
Level = Literal["in_person", "online_3", "online_4"]
FINAL: frozenset[str] = frozenset({"resolved", "returned"})


class DossierEvent(Event):
    """A dossier changed status at ``time`` (event time).

    ``source_id`` is the one-stop-shop system that reported it (the bus key). ``received`` and
    ``due`` are the dossier's own dates (they travel with every change so each record stands
    alone); ``finished`` is set when ``status`` is final (resolved or returned).
    """

    kind: Literal["services.dossier"] = "services.dossier"
    dossier_id: Annotated[str, Field(min_length=1, max_length=64)]
    procedure_code: Annotated[str, Field(min_length=1, max_length=64)]
    procedure_name: Annotated[str, Field(max_length=512)] = ""
    level: Level = "in_person"
    department: Annotated[str, Field(min_length=1, max_length=128)]
    status: Status
    received: AwareDatetime
    due: AwareDatetime
    finished: AwareDatetime | None = None
    simulated: bool = False

    @field_validator("received", "due", "finished")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _coherent(self) -> DossierEvent:
        if self.due < self.received:
            raise ValueError("due is before received")
        if self.status in FINAL and self.finished is None:
            raise ValueError(f"status {self.status} needs a finished time")
        if self.status not in FINAL and self.finished is not None:
            raise ValueError(f"status {self.status} cannot have a finished time")
        return self
