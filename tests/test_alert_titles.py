"""One stored alert reads in either language: its title is rendered from a template and fields."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.models import Alert
from detectors.stale import STALE_TITLE
from detectors.threshold import THRESHOLD_TITLES
from ioc.i18n import render
from ioc.store.queries import AlertRow

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
