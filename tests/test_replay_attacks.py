"""The replay page attacked by logged-in users of every role, through the real app's callback route.

A viewer or an operator may watch a replay but never steer one (pause, resume); an analyst steers
their own runs, an admin any. One analyst cannot flood the queue, a rules text is bounded, and a
rules text nested too deeply to read is refused with its reason in the analyst's language.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ioc.config import Settings
from ioc.store import replay_runs as runs
from ioc.store.database import Store
from tests import app_login

MAX_ACTIVE_RUNS = 5  # dashboards.replay.page's: one person's runs queued, running or paused at once
MAX_RULES = 50_000  # characters of an edited rules text
DISPATCH = "/replay/_dash-update-component"
START = datetime(2026, 12, 4, 1, 0).astimezone()


def logged_in(store: Store, name: str, role: str) -> tuple[Any, dict[str, str]]:
    """A test client of the real app logged in through ``/login`` as ``name`` (``role``); its CSRF header."""
    client, token = app_login.logged_in(store, name, role, Settings(timezone="Asia/Ho_Chi_Minh"), "/replay/")
    return client, {"X-CSRFToken": token}


def callback(client: Any, headers: dict[str, str], output_has: str, values: dict[str, Any],
             changed: str) -> Any:
    """Post the replay page's callback whose output names ``output_has`` as dash-renderer posts it."""
    deps = client.get("/replay/_dash-dependencies", headers=headers).get_json()
    dep = next(d for d in deps if output_has in d["output"] and not d.get("clientside_function"))
    key = dep["output"]
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    specs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]

    def filled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    body = {"output": key, "outputs": specs if key.startswith("..") else specs[0],
            "inputs": filled(dep["inputs"]), "state": filled(dep["state"]), "changedPropIds": [changed]}
    return client.post(DISPATCH, json=body, headers=headers)


def running(store: Store, requested_by: str) -> int:
    """A run of ``requested_by`` queued and claimed by a worker (so it is running)."""
    run_id = runs.request_run(store.pool, requested_by, START, START + timedelta(hours=1), ["vessels"], "1",
                              None)
    claimed, _ = runs.claim_next(store.pool, "worker-1")
    assert claimed is not None and claimed.id == run_id
    return run_id


def pause(client: Any, headers: dict[str, str], run_id: int) -> Any:
    return callback(client, headers, "replay-tick-timer.disabled",
                    {"replay-pause.n_clicks": 1, "replay-play.n_clicks": 0, "replay-run.value": run_id},
                    "replay-pause.n_clicks")


def start(client: Any, headers: dict[str, str], rules: str | None, lang: str = "en") -> str:
    """Ask for a replay as the page's Start button does; returns the page's message."""
    values = {"replay-start.n_clicks": 1, "replay-from.value": START.strftime("%Y-%m-%d %H:%M"),
              "replay-to.value": (START + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
              "replay-feeds.value": ["vessels"], "replay-speed.value": "max", "replay-rules.value": rules,
              "replay-lang.data": lang}
    answer = callback(client, headers, "replay-message.children", values, "replay-start.n_clicks")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return str(answer.get_json()["response"]["replay-message"]["children"])


@pytest.mark.parametrize("role", ["viewer", "operator", "duty_officer"])
def test_a_role_that_may_not_start_replays_may_not_pause_one_either(plain_store: Store, role: str) -> None:
    run_id = running(plain_store, "ana")
    client, headers = logged_in(plain_store, "kiosk", role)
    assert pause(client, headers, run_id).status_code == 200  # the cursor still pauses on the page
    run = runs.get_run(plain_store.pool, run_id)
    assert run is not None and run.command is None and run.state == "running"


def test_an_analyst_pauses_their_own_run_not_another_analysts(plain_store: Store) -> None:
    pool = plain_store.pool
    theirs, mine = running(plain_store, "binh"), running(plain_store, "ana")
    client, headers = logged_in(plain_store, "ana", "analyst")
    pause(client, headers, theirs)
    pause(client, headers, mine)
    assert runs.get_run(pool, theirs).command is None  # type: ignore[union-attr]
    assert runs.get_run(pool, mine).command == "pause"  # type: ignore[union-attr]
    admin, admin_headers = logged_in(plain_store, "root", "admin")
    pause(admin, admin_headers, theirs)
    assert runs.get_run(pool, theirs).command == "pause"  # type: ignore[union-attr]


def test_one_analyst_cannot_flood_the_queue(plain_store: Store) -> None:
    client, headers = logged_in(plain_store, "ana", "analyst")
    for _ in range(MAX_ACTIVE_RUNS):
        assert "queued" in start(client, headers, None)
    said = start(client, headers, None)
    assert "queued" not in said and str(MAX_ACTIVE_RUNS) in said, said
    with plain_store.pool.connection() as conn:
        count = conn.execute("SELECT count(*) FROM replay_runs WHERE requested_by = 'ana'").fetchone()
    assert count == (MAX_ACTIVE_RUNS,)
    assert "Hàng đợi" in start(client, headers, None, lang="vi")  # said in the analyst's language
    runs.send_command(plain_store.pool, runs.recent_runs(plain_store.pool)[0].id, "cancel")
    assert "queued" in start(client, headers, None)  # a finished run frees its place


def test_a_rules_text_too_long_or_too_deep_is_refused_with_its_reason(plain_store: Store) -> None:
    client, headers = logged_in(plain_store, "ana", "analyst")
    huge = "[rules.vessels.ais_gap]\ngap_minutes = 20\n" + "# padding\n" * (MAX_RULES // 10)
    said = start(client, headers, huge)
    assert "queued" not in said and "characters" in said and "50,000" in said, said
    deep = "[rules]\nx = " + "[" * 5000 + "]" * 5000 + "\n"
    said = start(client, headers, deep)
    assert "queued" not in said and "nested" in said, said
    assert "lồng" in start(client, headers, deep, lang="vi")
    assert runs.recent_runs(plain_store.pool) == []  # nothing was queued


def cancel(client: Any, headers: dict[str, str], run_id: int, lang: str = "en") -> str:
    """The page's Cancel button on ``run_id``, as dash-renderer posts it; returns the page's message."""
    deps = client.get("/replay/_dash-dependencies", headers=headers).get_json()
    dep = next(d for d in deps if any(i["id"] == "replay-cancel" for i in d["inputs"]))
    values = {"replay-cancel.n_clicks": 1, "replay-run.value": run_id, "replay-lang.data": lang}

    def filled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    output = dep["output"].split("@")[0]  # an output that allows duplicates carries a hash after "@"
    body = {"output": dep["output"], "outputs": {"id": output.rsplit(".", 1)[0], "property": "children"},
            "inputs": filled(dep["inputs"]), "state": filled(dep["state"]),
            "changedPropIds": ["replay-cancel.n_clicks"]}
    answer = client.post(DISPATCH, json=body, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return str(answer.get_json()["response"]["replay-message"]["children"])


def test_an_analyst_cancels_their_own_runs_from_the_page_and_nobody_elses(plain_store: Store) -> None:
    """The page had no Cancel: an analyst at the queue's limit could only wait for a run to end."""
    pool = plain_store.pool
    theirs, mine = running(plain_store, "binh"), running(plain_store, "ana")
    queued = runs.request_run(pool, "ana", START, START + timedelta(hours=1), ["vessels"], "1", None)
    client, headers = logged_in(plain_store, "ana", "analyst")
    assert "may cancel" in cancel(client, headers, theirs)
    assert runs.get_run(pool, theirs).command is None  # type: ignore[union-attr]
    assert f"#{mine} is being cancelled" in cancel(client, headers, mine)
    assert runs.get_run(pool, mine).command == "cancel"  # type: ignore[union-attr]  # its worker stops it
    assert "đang được hủy" in cancel(client, headers, queued, lang="vi")
    assert runs.get_run(pool, queued).state == "cancelled"  # type: ignore[union-attr]  # queued: at once
    assert "has ended already" in cancel(client, headers, queued)
    viewer, viewer_headers = logged_in(plain_store, "kiosk", "viewer")
    assert "may cancel" in cancel(viewer, viewer_headers, mine)
