"""Detectors: pure, event-time rules turning event records into alert signals."""
