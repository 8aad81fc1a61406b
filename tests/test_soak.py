"""A short night: the demo with every feed, the wall, sea map and camera wall open for a few minutes,
memory sampled; neither the server nor a page may grow steadily.

The shorter version of ``bench/soak.py`` (an hour, in ``bench/RESULTS.md``): the same sampling
(``tests/soak.py``) over about two minutes after the pages filled in and a minute of warm-up (the sea
map's tracks of the last hours grow while the demo's first minutes of AIS arrive; the 20-minute run
in ``bench/RESULTS.md`` shows them flat after that). The bounds are loose enough for two busy cores
and tight enough to catch a leak that would fill a night: the server gaining more than 10 MB a
minute (600 MB a night), a page's heap after a full collection more than 2 MB a minute, or a page's
DOM a quarter of its size a minute.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.demo_process import running_demo
from tests.soak import open_pages, run_soak
from tests.waiting import wait_for

PAGES = ("/", "/sea/", "/cameras/")
SAMPLES, EVERY_S, WARMUP = 12, 15.0, 4  # the first minute's samples are warm-up: tracks and charts fill in


def filled_in(driver: Any, handles: dict[str, str]) -> bool:
    """Whether every page shows data from the store (its 'Data as of' line is written)."""
    for handle in handles.values():
        driver.switch_to.window(handle)
        text = driver.execute_script(
            "const e = document.getElementById('data-asof') || document.querySelector('[id$=\"asof\"]');"
            "return e ? e.innerText : '';")
        if not text or text.strip().endswith("—"):  # "Data as of —" until the first answer
            return False
    return True


@pytest.mark.browser
def test_a_short_soak_of_the_demo_keeps_server_and_pages_flat(
        browser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_ALERTS__AUTH__CAMERAS_REQUIRE_LOGIN", "false")  # memory, not access
    with running_demo(start_timeout=300) as demo:
        handles = open_pages(browser, demo.url, PAGES)
        wait_for(lambda: filled_in(browser, handles), "every page filled in from the store")
        soak = run_soak(browser, handles, demo.proc.pid, SAMPLES, EVERY_S)
        assert demo.proc.poll() is None, demo.output[-3000:]
    print("\n" + soak.table())
    slopes = soak.slopes(skip=WARMUP)
    for name, value in slopes.items():
        print(f"slope {name}: {value:+.3f} / min")
    assert slopes["server_mb"] < 10.0, slopes
    for page in PAGES:
        assert slopes[f"heap_mb {page}"] < 2.0, (page, slopes)
        kept = soak.samples[WARMUP:]
        mean_nodes = sum(s.dom_nodes[page] for s in kept) / len(kept)
        assert slopes[f"dom_nodes {page}"] < 0.25 * mean_nodes, (page, slopes, mean_nodes)
