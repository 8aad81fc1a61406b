"""The field-report rules: deadlines about to be missed or missed, and bursts of one category."""

from __future__ import annotations

from detectors.reports.bursts import ReportBurstDetector
from detectors.reports.deadlines import ReportDeadlineDetector
from ioc.feeds.reports.settings import ReportsRules


def build_report_detectors(rules: ReportsRules) -> list[ReportDeadlineDetector | ReportBurstDetector]:
    """The report rules of ``[rules.reports]``."""
    return [ReportDeadlineDetector(rules), ReportBurstDetector(rules)]


__all__ = ["ReportBurstDetector", "ReportDeadlineDetector", "build_report_detectors"]
