"""Every rule's alerts are filed under their feed on the console (its Feed column and filter),
never under "Other": checked against the feed whose records each detector reads."""

from __future__ import annotations

from test_replay_every_feed import feeds_of_detectors

from alerts.links import FEEDS, feed_of
from ioc.config import DEFAULT_CONFIG, load_settings


def test_every_detector_of_the_hue_settings_files_its_alerts_under_its_feed() -> None:
    expected = feeds_of_detectors(load_settings(DEFAULT_CONFIG))
    assert {"services", "reports_deadline", "reports_burst", "press", "threshold"} <= set(expected)
    # the stale rule watches any kind: its alert names the kind it found silent
    got = {name: feed_of(name, {"kind": "environment.reading"} if name == "stale" else {})
           for name in expected}
    assert got == expected
    assert set(expected.values()) <= set(FEEDS)


def test_every_console_feed_has_a_short_name_in_both_languages() -> None:
    """The Feed column names each feed from the registry (a new feed needs no line in the page)."""
    from dashboards.console.view import feed_label

    for feed in FEEDS:
        english, vietnamese = feed_label(feed, "en"), feed_label(feed, "vi")
        assert english and vietnamese != english, (feed, english)  # the catalogue has the name
