"""Security rules: brute force and compromise, spraying, port scans, web attacks, IDS alerts."""

from __future__ import annotations

from detectors.security.rules import SecurityDetector

DETECTORS = {"security": lambda settings: [SecurityDetector.from_settings(settings)]}

__all__ = ["DETECTORS", "SecurityDetector"]
