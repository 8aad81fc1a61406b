"""The field-report records: a citizen's report as received and routed, and each change of its status."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ioc.records import Event, Latitude, Longitude

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Status = Literal["received", "assigned", "in_progress", "resolved", "rejected"]
OPEN_STATUSES: frozenset[str] = frozenset({"received", "assigned", "in_progress"})
#: the catalogue domain that says a category's configured (English) name in the reader's language
CATEGORY_DOMAIN = "reports311"


class Photo(BaseModel):
    """One uploaded photo as stored: its file, its sha256 and perceptual (average) hash, its size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[str, Field(min_length=1, max_length=512)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    ahash: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]


class FieldReport(Event):
    """A citizen's field report as accepted by the Open311 intake, routed at intake.

    ``source_id`` is the service request id (the bus key keeps a report's events in order);
    ``client`` the client application whose API key posted it; ``duplicate_of`` the earlier
    report it was grouped with (same category near in place and time, or a re-posted photo);
    ``media_url`` the address of a photo the client application keeps (the spec's ``media_url``:
    an http(s) URL, shown to staff as a link, never fetched by the intake).
    """

    kind: Literal["reports.report"] = "reports.report"
    service_code: Code
    category: Annotated[str, Field(min_length=1, max_length=128)]
    description: Annotated[str, Field(max_length=4000)] = ""
    lat: Latitude
    lon: Longitude
    address: Annotated[str, Field(max_length=512)] = ""
    ward: Annotated[str, Field(max_length=128)] = ""
    photos: tuple[Photo, ...] = ()
    client: Code
    department: Code
    assignee_group: Code
    ack_due: AwareDatetime
    resolve_due: AwareDatetime
    duplicate_of: str | None = None
    media_url: Annotated[str, Field(max_length=2048, pattern=r"^(https?://\S+)?$")] = ""


class AreaReport(FieldReport):
    """A field report as copied to ``ioc.reports.areas``, keyed by its category and ward.

    The report itself is keyed by its id (its status changes follow it in order); rules about many
    reports of one place (bursts) read these copies, so in distributed mode the reports of one
    category and ward meet in one partition whatever their ids. Not stored: the report is.
    """

    kind: Literal["reports.area_report"] = "reports.area_report"  # type: ignore[assignment]

    @property
    def key(self) -> str:
        return area_key(self)


def area_key(report: FieldReport) -> str:
    """The key of a report's area copy: ``service code|ward`` (``-`` for no ward)."""
    return f"{report.service_code}|{report.ward or '-'}"


class ReportStatusChange(Event):
    """One audited change of a report's status (``source_id``: the report's id)."""

    kind: Literal["reports.status"] = "reports.status"
    status: Status
    reason: Annotated[str, Field(max_length=1000)] = ""
    actor: Annotated[str, Field(min_length=1, max_length=128)]
    department: Code | None = None
    assignee_group: Code | None = None
