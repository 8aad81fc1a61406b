"""The citizens' field reports feed (Open311 GeoReport v2 intake): its declaration on the feed seam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ioc.feeds.base import FeedSpec
from ioc.feeds.reports.records import AreaReport, FieldReport, Photo, ReportStatusChange, area_key
from ioc.feeds.reports.settings import ReportsFeed, ReportsRules, ReportsRuleSections
from ioc.feeds.reports.tables import MIGRATIONS, REPORT_TABLE, STATUS_TABLE
from ioc.records import Event

EVENTS = "ioc.reports.events"
AREAS = "ioc.reports.areas"  # reports keyed by category and ward, for rules about many reports of a place


def area_copies(record: Event, settings: Any = None) -> Iterator[tuple[str, str, bytes]]:
    """A report's copy for its category and ward (:class:`AreaReport`)."""
    if isinstance(record, FieldReport) and not isinstance(record, AreaReport):
        yield AREAS, area_key(record), AreaReport(**{k: v for k, v in record if k != "kind"}).to_wire()


SPEC = FeedSpec(
    name="reports",
    rule_titles={
        "reports_deadline": "Report past its deadline",
        "reports_burst": "Burst of reports",
    },
    title="Citizens' field reports",
    short_title="Reports",
    events=(FieldReport, ReportStatusChange, AreaReport),
    # one topic for a report and its status changes, both keyed by the report's id: in distributed
    # mode the detector runner keeps rule state per topic-partition, and the deadline rule must see
    # a report's status changes where it sees the report (on two topics every report missed its
    # deadlines there: the rule of the reports' partition never saw one acknowledged); and a copy of
    # each report keyed by category and ward for the burst rule (:func:`area_copies`)
    topics={"reports.report": EVENTS, "reports.status": EVENTS, "reports.area_report": AREAS},
    fan_out=area_copies,
    tables=(REPORT_TABLE, STATUS_TABLE),
    migrations=MIGRATIONS,
    raw_tables=(),  # reports are case files: kept, not dropped by retention
    rules=ReportsRuleSections,
    options=ReportsFeed,
    kinds=frozenset({"open311"}),
)

__all__ = ["AREAS", "EVENTS", "SPEC", "AreaReport", "FieldReport", "Photo", "ReportStatusChange",
           "ReportsFeed", "ReportsRuleSections", "ReportsRules", "area_copies"]
