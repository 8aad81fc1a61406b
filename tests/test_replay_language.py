"""The back-test's difference rows in the reader's language: ``ioc replay``'s lines and the replay page's
tables say added/removed/changed, the severity and each alert's title in Vietnamese or English."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboards.replay.view import alerts_list, backtest_table
from ioc.app.replay import ReplayedAlert, ReplayRun, compare, diff_json
from ioc.app.replay_text import diff_lines, run_lines

T0 = datetime(2025, 9, 1, 7, 0, tzinfo=UTC)
STORM = "Vessel {mmsi} at sea in storm-ban area {area}"


def alert(i: int, fingerprint: str, severity: str, rule: str = "storm_ban",
          minutes: int = 0) -> ReplayedAlert:
    params = {"mmsi": 574000000 + i, "area": "Thuận An"}
    at = T0 + timedelta(minutes=minutes)
    return ReplayedAlert(id=i, fingerprint=fingerprint, detector="vessels", rule=rule, source_id=str(i),
                         severity=severity, title=STORM.format(**params), first_seen=at, last_seen=at,
                         resolved_at=None, count=1, title_template=STORM, title_params=params)


def a_back_test() -> tuple[list[ReplayedAlert], list[ReplayedAlert]]:
    """Baseline: a, b, c; the changed rules drop b, raise c later as critical, add d."""
    baseline = [alert(1, "a", "warning"), alert(2, "b", "warning"), alert(3, "c", "warning")]
    changed = [alert(11, "a", "warning"), alert(13, "c", "critical", minutes=5),
               alert(14, "d", "critical", rule="ais_gap")]
    return baseline, changed


def test_ioc_replay_prints_the_back_tests_rows_in_vietnamese_and_in_english() -> None:
    baseline, changed = a_back_test()
    diff = compare(baseline, changed)
    vi, en = diff_lines(diff, "vi"), diff_lines(diff, "en")
    assert vi[0] == "kiểm thử ngược: thêm 1, bớt 1, thay đổi 1, giữ nguyên 1"
    assert en[0] == "back-test: 1 added, 1 removed, 1 changed, 1 the same"
    assert "theo quy tắc: +thêm -bớt ~thay đổi (thời điểm hoặc mức độ)" in vi[1]
    added = next(line for line in vi if line.startswith("  + "))
    assert "thêm" in added and "nghiêm trọng" in added, added
    assert "Tàu 574000014 đang ở trên biển trong vùng cấm bão Thuận An" in added
    removed = next(line for line in vi if line.startswith("  - "))
    assert "bớt" in removed and "cảnh giác" in removed, removed
    moved = next(line for line in vi if line.startswith("  ~ "))
    assert "thay đổi" in moved and "cảnh giác -> " in moved and moved.count("nghiêm trọng") == 1, moved
    assert not any(word in " ".join(vi[1:]) for word in ("added", "removed", "critical", "warning", "Vessel"))
    assert next(line for line in en if line.startswith("  + ")).startswith("  + added: ")
    assert "critical" in next(line for line in en if line.startswith("  + "))
    assert "Vessel 574000014 at sea in storm-ban area Thuận An" in " ".join(en)
    per_rule = [line for line in en if line.strip().startswith("storm_ban ")]
    assert per_rule == ["  storm_ban                    +0 -1 ~1"]


def test_ioc_replay_prints_each_replayed_alert_in_the_command_lines_language() -> None:
    run = ReplayRun(events=5120000, signals=3, alerts=[alert(1, "a", "critical")], wall_s=2.5)
    vi, en = run_lines("phát lại", run, "vi"), run_lines("replay", run, "en")
    assert "5.120.000" in vi[0] and "5,120,000" in en[0]
    assert "nghiêm trọng" in vi[1] and "đang mở" in vi[1] and "Tàu 574000001" in vi[1], vi[1]
    assert "critical" in en[1] and "-> open" in en[1] and "Vessel 574000001" in en[1], en[1]


def texts(component: Any) -> list[str]:
    """Every text a component tree shows (its string children), in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        return [x for child in component for x in texts(child)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def test_the_replay_pages_back_test_rows_say_what_changed_in_the_pages_language() -> None:
    baseline, changed = a_back_test()
    # as the store keeps it: JSON
    result = {"backtest": json.loads(json.dumps(diff_json(compare(baseline, changed))))}
    vi = texts(backtest_table(result, "vi", "Asia/Ho_Chi_Minh"))
    en = texts(backtest_table(result, "en", "Asia/Ho_Chi_Minh"))
    for word in ("+ Thêm", "− Bớt", "~ Thay đổi", "cảnh giác → nghiêm trọng", "Tiêu đề", "nghiêm trọng",
                 "Tàu 574000014 đang ở trên biển trong vùng cấm bão Thuận An"):
        assert word in vi, (word, vi)
    assert not {"critical", "warning", "+", "~", "Title"} & set(vi), vi
    assert not any("Vessel" in x for x in vi), vi
    for word in ("+ Added", "− Removed", "~ Changed", "warning → critical", "critical",
                 "Vessel 574000014 at sea in storm-ban area Thuận An"):
        assert word in en, (word, en)
    listed = texts(alerts_list(result["backtest"]["added"], "vi", "Asia/Ho_Chi_Minh"))
    assert "nghiêm trọng" in listed and "Tàu 574000014 đang ở trên biển trong vùng cấm bão Thuận An" in listed
