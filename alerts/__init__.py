"""Alerts service: turns alert signals into stored, deduplicated alerts with a lifecycle."""
