"""The alerts package stays split by job, and ``alerts.service`` keeps every name its callers import."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ALERTS = Path(__file__).resolve().parents[1] / "alerts"
MAX_LINES = 500  # a module a newcomer can hold in their head (issue 11)

# name imported from alerts.service somewhere -> the module that now defines it
HOMES = {
    "AlertService": "alerts.service",
    "AlertSignalConsumer": "alerts.consumer",
    "Alert": "alerts.models",
    "AlertChange": "alerts.models",
    "AlertFilter": "alerts.models",
    "AuditEntry": "alerts.models",
    "ShiftFigures": "alerts.models",
    "Silence": "alerts.models",
    "ALERT_COLUMNS": "alerts.models",
    "AlertError": "alerts.lifecycle",
    "AlertNotFound": "alerts.lifecycle",
    "NoteRequired": "alerts.lifecycle",
    "NotAllowed": "alerts.lifecycle",
    "StaleAlertError": "alerts.lifecycle",
    "TransitionRefused": "alerts.lifecycle",
    "Actor": "alerts.lifecycle",
    "SYSTEM_ACTOR": "alerts.lifecycle",
    "actions_for": "alerts.transitions",
    "current_shift": "alerts.reads",
}


@pytest.mark.parametrize("path", sorted(ALERTS.glob("*.py")), ids=lambda p: p.name)
def test_each_alerts_module_stays_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"alerts/{path.name} has {lines} lines (at most {MAX_LINES}): split it by job"


def test_the_service_still_exports_what_its_callers_import() -> None:
    service = importlib.import_module("alerts.service")
    for name, home in HOMES.items():
        assert getattr(service, name) is getattr(importlib.import_module(home), name), name
        assert name in service.__all__, name
