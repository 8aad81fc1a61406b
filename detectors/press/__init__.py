"""The press feed's rules: stories across outlets, spreading, bursts on topics and places."""

from __future__ import annotations

from detectors.press.rules import PressDetector

DETECTORS = {"press": lambda settings: [PressDetector.from_settings(settings)]}

__all__ = ["DETECTORS", "PressDetector"]
