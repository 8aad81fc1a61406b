"""The command line speaks Vietnamese when asked (IOC_LANG or a vi locale) and English otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _help(lang: str) -> str:
    env = {**os.environ, "IOC_LANG": lang, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "ioc.app.cli", "--help"], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return out.stdout


def test_cli_help_in_both_languages() -> None:
    assert "Trung tâm Giám sát, Điều hành Đô thị thông minh" in _help("vi")
    english = _help("en")
    assert "Smart-city Intelligent Operations Centre" in english and "Trung tâm" not in english
