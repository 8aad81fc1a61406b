"""The console's callbacks, posted as dash-renderer posts them, with what a probe sent: filters of
400,000 values, 15 MB notes, a NUL, an assignee that is a dict, a silence "for 999y", an id of 1.5.

Each is refused (``400`` for what no page of ours sends, the service's translated reason for what a
person may type), and the detail pane sends the latest history, not all of it (real app, real
PostgreSQL, Flask's test client; no browser).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.lifecycle import MAX_NOTE_CHARS, Actor
from alerts.people import People
from alerts.service import AlertService
from dashboards.console.view import ACTIVE
from ioc.events import AlertSignal
from ioc.store.database import Store

DISPATCH = "/console/_dash-update-component"


def _signal(fp: str, area: str = "Đông Ba") -> AlertSignal:
    now = datetime.now(UTC).replace(microsecond=0)
    return AlertSignal(time=now - timedelta(minutes=5), source_id=fp, detector="threshold", rule="co2-high",
                       fingerprint=fp, status="firing", severity="warning", title=f"CO₂ high at {fp}",
                       area=area, started_at=now - timedelta(minutes=15), details={"metric": "co2"})


class Console:
    """A duty officer's console session: posts a callback with the values a screen would hold."""

    def __init__(self, store: Store) -> None:
        from dashboards.app import create_app
        from ioc.config import Settings

        people = People(store.pool)
        people.add_user("lan", "duty_officer", "correct horse battery")
        people.add_user("minh", "duty_officer", "correct horse battery")
        self.client = create_app(store.pool, Settings()).server.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        answer = self.client.post("/login", data={"username": "lan", "password": "correct horse battery",
                                                  "csrf_token": token.group(1), "next": "/console/"})
        assert answer.status_code in (302, 303)
        cookie = self.client.get_cookie("_csrf_token")
        assert cookie is not None
        self.headers = {"X-CSRFToken": cookie.value}
        self.deps = self.client.get("/console/_dash-dependencies", headers=self.headers).get_json()

    def dep(self, output: str) -> dict[str, Any]:
        return next(d for d in self.deps if not d.get("clientside_function") and output in d["output"])

    def post(self, output: str, changed: str, lang: str = "en", **values: Any) -> tuple[int, Any]:
        """Post the callback whose outputs name ``output``; ``values`` by ``id__property`` (the id's
        ``-`` as ``_``), the rest ``None``. Returns the status and the JSON answer (else the text)."""
        dep = self.dep(output)
        given = {}
        for key, value in values.items():
            ident, prop = key.split("__")
            given[f"{ident.replace('_', '-')}.{prop}"] = value

        def spec(items: list[dict[str, str]]) -> list[dict[str, Any]]:
            return [{**s, "value": given.get(f"{s['id']}.{s['property']}")} for s in items]

        outputs = []
        for part in dep["output"].strip(".").split("..."):
            ident, prop = part.rsplit(".", 1)
            outputs.append({"id": ident, "property": prop})
        body = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": spec(dep["inputs"]), "state": spec(dep["state"]), "changedPropIds": [changed]}
        answer = self.client.post(f"{DISPATCH}?lang={lang}", json=body, headers=self.headers)
        text = answer.get_data(as_text=True)
        return answer.status_code, json.loads(text) if answer.status_code == 200 else text


@pytest.fixture
def console(plain_store: Store) -> Console:
    return Console(plain_store)


def _grid(console: Console, **filters: Any) -> tuple[int, Any]:
    values = {"f_feed__value": None, "f_severity__value": ["critical", "warning", "info"],
              "f_state__value": list(ACTIVE), "f_area__value": None, "f_time__value": "24h",
              "f_group__value": ["group"], **filters}
    return console.post("alert-grid.rowData", "console-tick.n_intervals", **values)


def test_grid_filters_are_checked_against_what_the_page_offers_and_bounded(
        console: Console, plain_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A viewer sent f-area with 400,000 strings (a 38 MB cache key, kept) and f-feed with 400,000
    (18.7 s of CPU): every filter is checked against its known values and capped; a request that
    lists what the page does not offer is refused (400), before any read."""
    svc = AlertService(plain_store.pool)
    ids = [svc.apply(_signal("dong-ba")).alert_id, svc.apply(_signal("vy-da", area="Vỹ Dạ")).alert_id]
    status, body = _grid(console, f_feed__value=["environment"], f_area__value=["Đông Ba"])
    assert status == 200, body
    assert [r["id"] for r in body["response"]["alert-grid"]["rowData"]] == [str(ids[0])]
    status, body = _grid(console)
    assert status == 200 and len(body["response"]["alert-grid"]["rowData"]) == 2

    many = [f"area-{n}" for n in range(400_000)]
    refused = {
        "400,000 areas": {"f_area__value": many},
        "400,000 feeds": {"f_feed__value": ["environment"] * 400_000},
        "51 areas": {"f_area__value": ["Đông Ba"] * 51},
        "an area no alert has": {"f_area__value": ["Đông Ba", "Nowhere"]},
        "a feed that is none": {"f_feed__value": ["bogus"]},
        "a severity that is none": {"f_severity__value": ["critical", "loud"]},
        "a severity as text": {"f_severity__value": "critical"},
        "a state that is none": {"f_state__value": ["closed"]},
        "a window that is none": {"f_time__value": "999y"},
        "an area that is no text": {"f_area__value": [{"a": 1}]},
        "a grouping that is none": {"f_group__value": ["everything"]},
    }
    for what, filters in refused.items():
        status, body = _grid(console, **filters)
        assert status == 400 and body == "400 Bad request.", what
    assert caplog.text.count("callback request refused") >= len(refused)
    assert "Traceback" not in caplog.text
    with plain_store.pool.connection() as conn:  # an area raised after the page's last shared read
        conn.execute("UPDATE alerts SET area = 'Phú Hội' WHERE id = %s", (ids[1],))
    status, body = _grid(console, f_area__value=["Phú Hội"])
    assert status == 200 and [r["id"] for r in body["response"]["alert-grid"]["rowData"]] == [str(ids[1])]


def _act(console: Console, button: str, alert_id: Any, lang: str = "en", **state: Any) -> tuple[int, Any]:
    values = {"selected__data": {"id": alert_id, "version": None, "incident": None}, "note__value": "",
              "assignee__value": None, "silence_for__value": "1h", "silence_scope__value": "alert",
              "action_done__data": 0, f"{button.replace('-', '_')}__n_clicks": 1, **state}
    return console.post("action-done.data", f"{button}.n_clicks", lang, **values)


def _message(body: Any) -> tuple[str, str]:
    said = body["response"]["action-message"]
    return said["children"], said["className"]


def test_console_actions_refuse_what_no_page_sends_and_say_why_a_note_is_refused(
        console: Console, plain_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    svc = AlertService(plain_store.pool)
    alert_id = svc.apply(_signal("pump")).alert_id
    assert alert_id is not None
    other = svc.apply(_signal("gate")).alert_id  # the alert an id of 1.5 would have reached
    huge = "x" * (MAX_NOTE_CHARS + 1)
    status, body = _act(console, "btn-comment", alert_id, note__value=huge)
    assert status == 200 and _message(body) == (
        f"The note is {MAX_NOTE_CHARS + 1} characters long; at most {MAX_NOTE_CHARS} are kept. Shorten it.",
        "action-message refused")
    status, body = _act(console, "btn-comment", str(alert_id), "vi", note__value="máy bơm\x00 hỏng")
    assert status == 200 and _message(body) == (
        "Ghi chú chứa một ký tự không lưu được (U+0000); hãy xoá ký tự đó.", "action-message refused")
    status, body = _act(console, "btn-resolve", alert_id, note__value="\u200b")
    assert status == 200 and _message(body)[0] == "Write a note to resolve: the next shift needs to know why."
    assert "action failed on the store" not in caplog.text  # a refused note is no store failure

    bad_requests = {
        "an assignee that is a dict": ("btn-assign", alert_id, {"assignee__value": {"name": "minh"}}),
        "a silence for 999y": ("btn-silence", alert_id, {"silence_for__value": "999y",
                                                         "note__value": "pump works"}),
        "a silence of no scope": ("btn-silence", alert_id, {"silence_scope__value": "city",
                                                            "note__value": "pump works"}),
        "a note that is a list": ("btn-comment", alert_id, {"note__value": ["a"]}),
        "an id of 1.5": ("btn-ack", other + 0.5, {}),
        "an id of '1.5'": ("btn-ack", f"{other}.5", {}),
        "an id that is true": ("btn-ack", True, {}),
        "a negative id": ("btn-ack", -other, {}),
        "a version that is text": ("btn-ack", other, {"selected__data": {"id": other, "version": "2"}}),
    }
    for what, (button, ident, state) in bad_requests.items():
        status, body = _act(console, button, ident, **state)
        assert status == 400 and body == "400 Bad request.", what
    assert {a.id: a.state for a in svc.alerts()} == {alert_id: "open", other: "open"}
    with plain_store.pool.connection() as conn:
        audit = conn.execute("SELECT action, count(*) FROM alert_audit GROUP BY 1").fetchall()
        assert audit == [("raise", 2)]
        assert conn.execute("SELECT count(*) FROM silences").fetchone() == (0,)
    status, body = _act(console, "btn-silence", alert_id, note__value="pump works", silence_for__value="2h")
    assert status == 200 and _message(body)[1] == "action-message ok", body
    assert svc.get(alert_id).state == "silenced"


def test_the_detail_sends_the_latest_history_and_says_what_it_left_out(
        console: Console, plain_store: Store) -> None:
    """The detail callback re-sent a 64 MB history every 2 s to every screen: now the latest 200 entries,
    "N earlier entries not shown", and a long note stored before notes were bounded cut with "…"."""
    svc = AlertService(plain_store.pool)
    alert_id = svc.apply(_signal("chatty")).alert_id
    assert alert_id is not None
    with plain_store.pool.connection() as conn:  # many notes, then a 15 MB one, as the probe left them
        conn.execute(
            "INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, note) "
            "SELECT %s, now(), 'hoa', 'comment', 'open', 'open', 'call ' || n FROM generate_series(1, 249) n",
            (alert_id,))
        conn.execute("INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, note) "
                     "VALUES (%s, now(), 'hoa', 'comment', 'open', 'open', %s)", (alert_id, "z" * 15_000_000))
    for lang, said in (("en", "51 earlier entries not shown"), ("vi", "51 mục cũ hơn không được hiển thị")):
        status, body = console.post("detail.children", "alert-grid.selectedRows", lang,
                                    alert_grid__selectedRows=[{"id": str(alert_id)}])
        assert status == 200, body
        history = json.dumps(body["response"]["history"]["children"], ensure_ascii=False)
        assert history.count('"h-entry"') == 200 and said in history
        assert "z…" in history and "zzzz" * 5000 not in history
        assert len(history) < 200_000  # not the 15 MB note, nor 250 entries
    # the pane refreshes every 2 s: the history goes again only when it changed
    status, body = console.post("detail.children", "console-tick.n_intervals",
                                alert_grid__selectedRows=[{"id": str(alert_id)}])
    selected = body["response"]["selected"]["data"]
    assert status == 200 and "history" in body["response"] and selected["id"] == alert_id
    status, body = console.post("detail.children", "console-tick.n_intervals",
                                alert_grid__selectedRows=[{"id": str(alert_id)}], selected__data=selected)
    assert status == 200 and "history" not in body["response"] and "detail" in body["response"]
    assert body["response"]["selected"]["data"] == selected
    svc.comment(alert_id, Actor("lan", "duty_officer"), "on my way")  # a note: the alert's version stays
    status, body = console.post("detail.children", "console-tick.n_intervals",
                                alert_grid__selectedRows=[{"id": str(alert_id)}], selected__data=selected)
    assert status == 200 and "on my way" in json.dumps(body["response"]["history"], ensure_ascii=False)
    status, body = console.post("detail.children", "alert-grid.selectedRows",
                                alert_grid__selectedRows=[{"id": f"{alert_id}.5"}])
    assert status == 400
