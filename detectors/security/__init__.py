"""The security feed's rules."""

from detectors.security.rules import SecurityDetector

__all__ = ["SecurityDetector"]
