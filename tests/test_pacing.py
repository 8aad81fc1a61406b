"""Every page's refresh is paced (``dashboards/pacing.py``): no server callback listens to a bare timer.

Dash drops a callback's answer still on its way when the same callback is asked again; a page whose
server callbacks hang on a plain ``dcc.Interval`` never fills in once the server (or the link) is
slower than the interval. The browser test of that is in ``test_console_browser.py``; this one reads
what every Dash page tells the browser (``_dash-dependencies``), so a new page cannot slip back.
"""

from __future__ import annotations

from typing import Any

from app_login import logged_in

from dashboards.registry import PAGES
from ioc.store.database import Store


def _dependencies(client: Any, prefix: str) -> list[dict[str, Any]] | None:
    answer = client.get(prefix + "_dash-dependencies")
    if answer.status_code == 404:  # a page of plain Flask routes (the reports)
        return None
    assert answer.status_code == 200, (prefix, answer.status_code)
    return answer.get_json()


def test_every_server_callback_on_a_timer_listens_to_a_paced_tick(plain_store: Store) -> None:
    client, _ = logged_in(plain_store, "ada", "admin")
    dash_pages = 0
    for prefix in ["/", *(p.path for p in PAGES)]:
        deps = _dependencies(client, prefix)
        if deps is None:
            continue
        dash_pages += 1
        paced = {d["output"].rsplit(".", 1)[0] for d in deps
                 if (d.get("clientside_function") or {}).get("function_name") == "pulse"
                 and d["output"].endswith(".n_intervals")}
        for d in deps:
            if d.get("clientside_function"):
                continue  # the browser's own (clocks): they cost the server nothing
            timers = [i["id"] for i in d["inputs"] if i["property"] == "n_intervals"]
            unpaced = [tid for tid in timers if tid not in paced]
            assert not unpaced, f"{prefix}: {d['output']} refreshes on a bare timer {unpaced}"
        for tick in paced:  # and each pulse is moved on by its own timer, never by itself
            pulse = next(d for d in deps if d["output"] == f"{tick}.n_intervals")
            assert [i["id"] for i in pulse["inputs"]] == [f"{tick}-timer"], pulse
    assert dash_pages >= 8
