"""One stored alert reads in either language: its title is rendered from a template and fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.models import Alert
from detectors.stale import STALE_TITLE
from detectors.threshold import THRESHOLD_TITLES
from ioc.i18n import render
from ioc.store.queries import AlertRow

ROOT = Path(__file__).resolve().parents[1]

T = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def _row(template: str | None, params: dict[str, object], title: str) -> AlertRow:
    return AlertRow(1, "warning", title, "open", "threshold", "pm25", "st-1", "Huế", T, T, None, 1,
                    template, params)


def test_one_stored_alert_reads_in_both_languages() -> None:
    params = {"metric": "PM2.5", "bound": "35", "unit": " µg/m³", "minutes": "10", "area": "Phú Hội"}
    english = THRESHOLD_TITLES["above"].format(**params)
    row = _row(THRESHOLD_TITLES["above"], params, english)
    assert row.title_in("en") == english == "PM2.5 above 35 µg/m³ for 10 min at Phú Hội"
    assert row.title_in("vi") == "PM2.5 trên 35 µg/m³ trong 10 phút tại Phú Hội"


def test_the_stored_english_title_is_the_fallback() -> None:
    assert _row(None, {}, "Custom title").title_in("vi") == "Custom title"  # no template: as stored
    broken = _row(STALE_TITLE, {"source": "st-1"}, "No data from st-1")  # a field missing
    assert broken.title_in("vi") == "No data from st-1"
    assert render("alerts", "Not in the catalogue {x}", {"x": 1}, "vi", "fb") == "Not in the catalogue 1"


def test_the_console_alert_renders_too() -> None:
    fields = {f: None for f in Alert.__dataclass_fields__}  # type: ignore[attr-defined]
    fields.update(id=1, title="No data from st-1 for over 15 min (Huế)", title_template=STALE_TITLE,
                  title_params={"source": "st-1", "minutes": "15", "area": "Huế"})
    alert = Alert(**fields)  # type: ignore[arg-type]
    assert alert.title_in("vi") == "Không có dữ liệu từ st-1 hơn 15 phút (Huế)"
    assert alert.title_in("en") == alert.title


def test_a_notification_carries_the_title_in_every_language() -> None:
    fields = {f: None for f in Alert.__dataclass_fields__}  # type: ignore[attr-defined]
    fields.update(id=2, detector="stale", source_id="st-1", details={}, count=1, first_seen=T, last_seen=T,
                  title="No data from st-1 for over 15 min (Huế)", title_template=STALE_TITLE,
                  title_params={"source": "st-1", "minutes": "15", "area": "Huế"})
    summary = Alert(**fields).summary()  # type: ignore[arg-type]
    assert summary["title"] == fields["title"]
    assert summary["titles"] == {"vi": "Không có dữ liệu từ st-1 hơn 15 phút (Huế)", "en": fields["title"]}


def _rule_modules() -> list[tuple[Path, Any]]:
    """Every module of ``detectors/`` with its syntax tree."""
    import ast

    return [(path, ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted((ROOT / "detectors").rglob("*.py"))]


def _rule_templates() -> list[str]:
    """Every title template the rules of every feed declare: each string with a ``{field}`` in the
    code of ``detectors/`` (docstrings and a bare ``{field}`` aside). Read from the code, not listed
    here, so a new feed's rules are held to it without anyone remembering to add them."""
    import ast
    import re

    field = re.compile(r"\{\w+\}")
    found: set[str] = set()
    for _path, tree in _rule_modules():
        docstrings = {id(body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
                      and (body := node.body) and isinstance(body[0], ast.Expr)}
        found |= {node.value for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings and field.search(node.value)
                  and not field.fullmatch(node.value)}
    return sorted(found)


def test_every_rule_title_has_a_vietnamese_form_with_the_same_fields() -> None:
    from string import Formatter

    from ioc.i18n import gettext

    templates = _rule_templates()
    assert len(templates) >= 60
    for template in templates:
        vi = gettext("alerts", template, "vi")
        assert vi != template, f"no Vietnamese for {template!r}"
        fields = {f for _, f, _, _ in Formatter().parse(template) if f}
        assert {f for _, f, _, _ in Formatter().parse(vi) if f} == fields, template


def test_every_rule_gives_its_signals_a_title_template() -> None:
    """A title written as an f-string reads in English on every screen: each ``AlertSignal(...)`` in
    ``detectors/`` names its ``title_template`` (or passes its fields on with ``**``)."""
    import ast

    bare = []
    for path, tree in _rule_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AlertSignal":
                given = {k.arg for k in node.keywords}
                if "title_template" not in given and None not in given:
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []


def test_camera_and_vessel_signals_carry_their_template_and_read_in_vietnamese() -> None:
    """Real detectors on recorded-style events: the stored alert reads in either language."""
    from datetime import timedelta

    from detectors.cameras.faults import CameraFaultDetector, CameraFaultRule
    from detectors.cameras.wrong_way import WRONG_WAY_TITLES
    from ioc.feeds.cameras.records import CameraFrameStats

    det = CameraFaultDetector([CameraFaultRule(name="faults", offline_seconds=30, clear_seconds=2)], None,
                              {"cam-1": "Ngọ Môn gate"})
    signals = []
    for i in range(40):
        at = T + timedelta(seconds=i / 2)
        dark = 10 <= i < 40
        signals += det.observe(CameraFrameStats(time=at, source_id="cam-1", brightness=3.0 if dark else 120.0,
                                                sharpness=200.0, change=0.0 if dark else 5.0, connected=True))
    dark = next(s for s in signals if s.fingerprint.endswith(":dark"))
    row = _row(dark.title_template, dark.title_params, dark.title)
    assert row.title_in("en") == dark.title == "Camera dark or covered: Ngọ Môn gate"
    assert row.title_in("vi") == "Camera tối hoặc bị che: Ngọ Môn gate"
    # numbers among the fields are written in the reader's form
    params = {"camera": "Trường Tiền", "zone": "bridge", "count": 2}
    assert render("alerts", WRONG_WAY_TITLES[True], params, "vi", "") == \
        "Đi ngược chiều: 2 xe đi ngược chiều ở bridge tại Trường Tiền"
    from detectors.vessels.encounter import ENCOUNTER_TITLE

    enc = {"a": 574001230, "b": 574001231, "meters": 1500.0, "hours": 1.5}
    assert render("alerts", ENCOUNTER_TITLE, enc, "en", "") == \
        "Encounter at sea: vessels 574001230 and 574001231 within 1,500 m for 1.5 h"
    assert render("alerts", ENCOUNTER_TITLE, enc, "vi", "") == \
        "Gặp nhau trên biển: tàu 574001230 và 574001231 cách nhau dưới 1.500 m trong 1,5 giờ"


def test_object_classes_in_a_camera_title_read_in_the_readers_language() -> None:
    """The stored alert keeps the detector's canonical classes; the reader sees them in their words."""
    from detectors.cameras.crowd import CROWD_TITLES
    from detectors.cameras.intrusion import INTRUSION_TITLES

    crowd = {"camera": "Ngọ Môn", "zone": "path", "labels": "person/bicycle", "count": 5, "above": 3,
             "seconds": 60}
    row = _row(CROWD_TITLES[(True, True)], crowd, "stored")
    assert row.title_in("en") == "Crowd: 5 person/bicycle in path at Ngọ Môn (over 3 for 60 s)"
    assert row.title_in("vi") == "Đám đông: 5 người/xe đạp ở path tại Ngọ Môn (trên 3 trong 60 giây)"
    assert row.title_params == crowd  # nothing translated in the stored fields
    intrusion = {"camera": "Ngọ Môn", "zones": "gate", "labels": "car/motorcycle/unknown-thing", "count": 2}
    vi = render("alerts", INTRUSION_TITLES[True], intrusion, "vi", "")
    assert "ô tô/xe máy/unknown-thing" in vi  # a class not in the catalogue shows as it is


def test_a_field_with_direction_controls_cannot_turn_the_title_around_it() -> None:
    """An IDS signature ending in U+202E (right-to-left override) reversed the rest of the title on
    every page: "… from 198.51.100.7" read "7.001.15.891 morf". The field is isolated (U+2068 … U+2069)
    and its own isolate characters dropped; a field without such characters is left as it is."""
    template = "IDS: {signature} from {src}"
    params = {"signature": "ET POLICY \u202etxt.exe\u2069\u202e", "src": "198.51.100.7"}
    for lang in ("en", "vi"):
        title = render("alerts", template, params, lang, "fallback")
        signature = title[title.index("\u2068"):title.index("\u2069") + 1]
        assert signature == "\u2068ET POLICY \u202etxt.exe\u202e\u2069"
        assert title.endswith("198.51.100.7") and title.count("\u2069") == 1
    plain = render("alerts", template, {"signature": "ET SCAN SSH", "src": "203.0.113.9"}, "en", "x")
    assert plain == "IDS: ET SCAN SSH from 203.0.113.9"
    # the template's own fallback path (a template the catalogue cannot fill in Vietnamese) isolates too
    broken = render("alerts", "{signature} {missing}", params, "vi", "kept")
    assert broken == "kept"
