"""The citizens' field reports feed (Open311 GeoReport v2 intake): its declaration on the feed seam."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.reports.records import FieldReport, Photo, ReportStatusChange
from ioc.feeds.reports.settings import ReportsFeed, ReportsRules, ReportsRuleSections
from ioc.feeds.reports.tables import MIGRATIONS, REPORT_TABLE, STATUS_TABLE

SPEC = FeedSpec(
    name="reports",
    title="Citizens' field reports",
    events=(FieldReport, ReportStatusChange),
    # one topic for a report and its status changes, both keyed by the report's id: in distributed
    # mode the detector runner keeps rule state per topic-partition, and the deadline rule must see
    # a report's status changes where it sees the report (on two topics every report missed its
    # deadlines there: the rule of the reports' partition never saw one acknowledged)
    topics={"reports.report": "ioc.reports.events", "reports.status": "ioc.reports.events"},
    tables=(REPORT_TABLE, STATUS_TABLE),
    migrations=MIGRATIONS,
    raw_tables=(),  # reports are case files: kept, not dropped by retention
    rules=ReportsRuleSections,
    options=ReportsFeed,
    kinds=frozenset({"open311"}),
)

__all__ = ["SPEC", "FieldReport", "Photo", "ReportStatusChange", "ReportsFeed", "ReportsRuleSections",
           "ReportsRules"]
