"""A log record is one line whatever text a request put into it (log injection, CWE-117)."""

from __future__ import annotations

import io
import logging

from ioc.app.log_lines import OneLineFormatter


def test_a_forged_line_stays_inside_its_record_and_a_traceback_keeps_its_lines() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("test.log_lines")
    log.addHandler(handler)
    log.propagate = False
    try:
        forged = "/requests/\x00\n2026-12-07 15:40:00,000 CRITICAL ioc.alerts: FORGED\r.json"
        log.warning("refused %s", forged)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed on %s", "tab\there")
    finally:
        log.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0] == ("WARNING test.log_lines: refused /requests/\\x00\\n2026-12-07 15:40:00,000 CRITICAL "
                        "ioc.alerts: FORGED\\r.json")
    assert not any(line.startswith("2026-12-07") for line in lines)
    assert lines[1] == "ERROR test.log_lines: failed on tab\there"
    assert lines[2] == "Traceback (most recent call last):" and lines[-1] == "ValueError: boom"
