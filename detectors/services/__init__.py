"""Dossier rules: approaching due, overdue, a department's on-time rate, a procedure's handling time."""

from __future__ import annotations

from detectors.services.rules import ServicesDetector

DETECTORS = {"services": lambda settings: [ServicesDetector.from_settings(settings)]}

__all__ = ["DETECTORS", "ServicesDetector"]
