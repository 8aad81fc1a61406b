"""Forged page callback requests, as a logged-in attacker sends them: refused (4xx), never a 500.

Every server-side callback of every page is posted as dash-renderer posts it (the output, its
inputs and state by id and property), with values no renderer sends: a list where a page keeps a
dict, a string where it keeps a number, a nested mess, a language code that is a path. Then
envelopes that name no callback, a browser-side callback, or leave the inputs out.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ioc.store.database import Store

DISPATCH = "_dash-update-component"
HOSTILE: tuple[Any, ...] = (
    None, -1, 10**30, 1e308, "", "x" * 5000, "2026-13-45", "../../../../etc/passwd", "\u0000", True, [], {},
    [[[[]]]], [1, "a", None], {"a": {"b": "c"}}, {"points": [{"customdata": ["z", None]}]},
    {"mmsi": "abc", "seq": "x"}, ["__proto__"],
)


def _outputs(key: str) -> Any:
    """The ``outputs`` of a request for the callback keyed ``key`` (``..a.b...c.d..`` when several)."""
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    specs = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        specs.append({"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop})
    return specs if key.startswith("..") else specs[0]


def _with(specs: list[dict[str, Any]], value: Any) -> list[dict[str, Any]]:
    return [{"id": s["id"], "property": s["property"], "value": value} for s in specs]


@pytest.fixture
def session(plain_store: Store) -> Any:
    """A duty officer's session on the whole app: its test client and the CSRF header."""
    from alerts.people import People
    from dashboards.app import create_app
    from ioc.config import Settings

    People(plain_store.pool).add_user("lan", "duty_officer", "correct horse battery")
    client = create_app(plain_store.pool, Settings()).server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    answer = client.post("/login", data={"username": "lan", "password": "correct horse battery",
                                         "csrf_token": token.group(1), "next": "/console/"})
    assert answer.status_code in (302, 303)
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None
    return client, {"X-CSRFToken": cookie.value}


def test_forged_callback_requests_are_refused_not_failed(session: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    client, headers = session
    server = client.application
    prefixes = sorted(r.rule[: -len(DISPATCH)] for r in server.url_map.iter_rules()
                      if r.rule.endswith(DISPATCH))
    assert {"/", "/sea/", "/console/", "/cameras/", "/replay/"} <= set(prefixes)
    posted, refused, failed = 0, 0, []
    for prefix in prefixes:
        deps = client.get(f"{prefix}_dash-dependencies", headers=headers)
        assert deps.status_code == 200, prefix
        for dep in deps.get_json():
            if dep.get("clientside_function"):
                continue
            for value in HOSTILE:
                body = {"output": dep["output"], "outputs": _outputs(dep["output"]),
                        "inputs": _with(dep["inputs"], value), "state": _with(dep["state"], value),
                        "changedPropIds": []}
                answer = client.post(f"{prefix}{DISPATCH}", json=body, headers=headers)
                posted += 1
                refused += answer.status_code == 400
                if answer.status_code >= 500:
                    failed.append((prefix, dep["output"][:80], repr(value)[:40], answer.status_code))
    assert not failed, failed
    assert posted > 300 and refused > 0  # the values did reach callbacks that could not use them
    assert "callback request refused" in caplog.text and "Traceback" not in caplog.text

    wall_callbacks = client.get("/_dash-dependencies", headers=headers).get_json()
    clientside = next(d["output"] for d in wall_callbacks if d.get("clientside_function"))
    server_side = next(d for d in wall_callbacks if not d.get("clientside_function"))
    malformed = [
        {"output": "no-such.children", "outputs": {"id": "no-such", "property": "children"}, "inputs": [],
         "state": [], "changedPropIds": []},
        {"output": clientside, "outputs": _outputs(clientside), "inputs": [], "state": [],
         "changedPropIds": []},
        {"output": server_side["output"]},  # nothing but the output
        {"output": server_side["output"], "outputs": None, "inputs": "x", "state": 5, "changedPropIds": 7},
        {"output": ["a"], "inputs": []},
        [1, 2, 3],
    ]
    for body in malformed:
        answer = client.post(f"/{DISPATCH}", json=body, headers=headers)
        assert answer.status_code == 400, (body, answer.status_code, answer.get_data(as_text=True)[:200])
    # the refusal is said in the page's language, like every other refusal
    answer = client.post(f"/{DISPATCH}?lang=en", json=malformed[0], headers=headers)
    assert answer.get_data(as_text=True) == "400 Bad request."


def test_a_language_that_is_not_one_never_names_a_catalogue_file() -> None:
    from ioc import i18n

    for lang in ("../../../../etc", "fr", {}, ["vi"], 7, None):
        assert i18n.gettext("dashboards", "Not found.", lang) == "Not found."  # type: ignore[arg-type]
    assert i18n.gettext("dashboards", "Not found.", "vi") != "Not found."


def test_hostile_requests_around_the_login_and_the_json_routes_get_a_4xx_not_a_500(
        session: Any, plain_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """What an attacker sends that once made the server fail (500): a JSON body nested 100,000 deep, a
    CSRF header that is not ASCII, a NUL in a login name, a CR LF in the page to go to after login;
    and the refusal of a login reads in the page's language, without echoing a name no account has."""
    from dashboards.app import create_app
    from ioc.config import Settings

    client, headers = session
    deep = "[" * 100_000 + "]" * 100_000
    for path in (f"/{DISPATCH}", "/reports311/api/requests/HUE-1/status"):
        answer = client.post(path, data=deep, headers={**headers, "Content-Type": "application/json"})
        assert answer.status_code == 400, (path, answer.status_code)
    assert "Traceback" not in caplog.text  # one line naming the refusal, not a traceback per request
    status = "/reports311/api/requests/{}/status"
    nul_reason = {"status": "assigned", "reason": "x\x00y"}
    answer = client.post(status.format("HUE-1"), json=nul_reason, headers=headers)
    assert answer.status_code == 400 and "control character (U+0000)" in answer.get_json()["error"]
    answer = client.post(status.format("a%00b"), json={"status": "assigned"}, headers=headers)
    assert answer.status_code == 404

    anonymous = create_app(plain_store.pool, Settings()).server.test_client()
    page = anonymous.get("/login?lang=vi").get_data(as_text=True)
    assert "<h1>Trung tâm Giám sát, Điều hành · " in page  # the site's name in the page's language too
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = anonymous.post("/login", data={"csrf_token": "x"}, headers={"X-CSRFToken": "\u00e9"})
    assert answer.status_code == 403
    for name in ("a\x00b", "x" * 10_000):
        answer = anonymous.post("/login?lang=vi", data={"username": name, "password": "p",
                                                        "csrf_token": token.group(1)})
        text = answer.get_data(as_text=True)
        assert answer.status_code == 401 and "Sai tên hoặc mật khẩu" in text and "xxxxxxxx" not in text
    # refused before anything reads the body: the CSRF check would parse a form of any size
    for path, body, kind in (("/login", b"a=" + b"x" * 2_000_000, "application/x-www-form-urlencoded"),
                             ("/screens/save", b"a=" + b"x" * 2_000_000, "application/x-www-form-urlencoded"),
                             (f"/{DISPATCH}", b'{"a": "' + b"x" * 17_000_000 + b'"}', "application/json")):
        answer = anonymous.post(f"{path}?lang=en", data=body, headers={"Content-Type": kind})
        assert (answer.status_code, answer.get_data(as_text=True)) == (413, "The request is too large."), path
    big = anonymous.post("/login?lang=en", data={"username": "x" * 2_000_000, "password": "p",
                                                "csrf_token": token.group(1)})
    assert big.status_code == 413 and "The request is too large." in big.get_data(as_text=True)
    assert len(big.get_data()) < 20_000  # the name is not sent back
    answer = anonymous.post("/login", data={"username": "lan", "password": "correct horse battery",
                                            "csrf_token": token.group(1), "next": "/console/\r\nX-Evil: 1"})
    assert answer.status_code in (302, 303) and answer.headers["Location"].endswith("/console/")
    assert "X-Evil" not in answer.headers


def test_an_address_that_is_no_page_is_404_not_the_wall(session: Any) -> None:
    """Dash's catch-all under each page's prefix answered any address with that page (200)."""
    client, _ = session
    for path in ("/wp-login.php", "/sea/no-such-thing", "/console/x/y", "/security/.env", "/sea/favicon.ico"):
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 404, path
        assert answer.get_data(as_text=True).startswith("404 "), path  # the short text, in the language
    for path in ("/", "/sea/", "/console/", "/security/", "/console/assets/theme.css"):
        assert client.get(path, headers={"Accept": "text/html"}).status_code == 200, path
    icon = client.get("/favicon.ico")  # every browser asks for it: an error in its log if missing
    assert icon.status_code == 200 and icon.mimetype == "image/x-icon"
    moved = client.get("/sea?mmsi=574001230")  # the console's vessel link: to the page, query kept
    assert moved.status_code in (301, 308) and moved.headers["Location"].endswith("/sea/?mmsi=574001230")
