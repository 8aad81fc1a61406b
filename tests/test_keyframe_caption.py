"""Key frames carry the city's local time, as the pages show it, not UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.cameras.keyframes import caption_time


def test_key_frame_time_is_the_citys_local_time() -> None:
    when = datetime(2026, 12, 5, 6, 0, 1, tzinfo=UTC)
    assert caption_time(when, "Asia/Ho_Chi_Minh") == "2026-12-05 13:00:01 +07:00"
    assert caption_time(when, "UTC") == "2026-12-05 06:00:01 +00:00"
