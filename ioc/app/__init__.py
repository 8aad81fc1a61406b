"""Composition root: the ``ioc`` command, the runtime that wires feeds, rules, alerts and pages."""
