"""The field-report rules: deadlines about to be missed or missed, and bursts of one category."""

from __future__ import annotations

from detectors.reports.bursts import ReportBurstDetector
from detectors.reports.deadlines import ReportDeadlineDetector
from ioc.config import Settings
from ioc.feeds.reports.settings import ReportsRules


def build_report_detectors(rules: ReportsRules) -> list[ReportDeadlineDetector | ReportBurstDetector]:
    """The report rules of ``[rules.reports]``."""
    return [ReportDeadlineDetector(rules), ReportBurstDetector(rules)]


def _from_settings(settings: Settings) -> list[ReportDeadlineDetector | ReportBurstDetector]:
    rules = settings.rules.reports  # type: ignore[attr-defined]
    return build_report_detectors(rules) if rules is not None else []


#: the detector registry's entries of this package (none built when ``[rules.reports]`` is absent)
DETECTORS = {"reports": _from_settings}

__all__ = ["DETECTORS", "ReportBurstDetector", "ReportDeadlineDetector", "build_report_detectors"]
