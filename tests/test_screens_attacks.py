"""The screens' admin page attacked through the real app: every hostile profile is refused with its
reason (400, the admin's language), never a server error, and only an admin may save one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ioc.store.database import Store
from tests import app_login

GOOD = {"name": "lobby", "title": "Lobby", "items": [{"page": "/", "dwell_s": 60}]}


def logged_in(store: Store, name: str, role: str) -> tuple[Any, str]:
    """A test client logged in through ``/login`` as ``name`` (``role``), and its CSRF token."""
    return app_login.logged_in(store, name, role)


def save(client: Any, token: str, text: str) -> Any:
    return client.post("/screens/save?lang=en", data={"profile": text, "csrf_token": token})


def stored(store: Store) -> int:
    with store.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM screen_profiles").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("role", ["viewer", "operator", "duty_officer", "analyst"])
def test_only_an_admin_saves_a_profile(plain_store: Store, role: str) -> None:
    client, token = logged_in(plain_store, "someone", role)
    assert save(client, token, json.dumps(GOOD)).status_code == 403
    assert stored(plain_store) == 0


def test_hostile_profiles_are_refused_with_a_reason_never_a_server_error(plain_store: Store) -> None:
    client, token = logged_in(plain_store, "root", "admin")
    hostile = [
        '{"name": ' + "1" * 5000 + "}",  # too many digits for int(): a ValueError
        '{"name": "lobby", "resume_after_s": ' + "9" * 5000 + ', "items": [{"page": "/"}]}',
        json.dumps({**GOOD, "name": "../../etc"}),
        json.dumps({**GOOD, "name": "a/b"}),
        json.dumps({**GOOD, "name": "màn-hình"}),
        json.dumps({**GOOD, "name": "x" * 10_000}),
        json.dumps({**GOOD, "items": [{"page": "javascript:alert(1)"}]}),
        json.dumps({**GOOD, "items": [{"page": "https://evil.example/"}]}),
        json.dumps({**GOOD, "items": [{"page": "//evil.example/"}]}),
        json.dumps({**GOOD, "items": [{"grid": {"columns": 100, "rows": 100, "panels": ["/"] * 10_000}}]}),
        json.dumps({**GOOD, "items": [{"page": "/", "dwell_s": 0}]}),
        json.dumps({**GOOD, "items": [{"page": "/", "dwell_s": 1e9}]}),
    ]
    for text in hostile:
        answer = save(client, token, text)
        assert answer.status_code == 400, (text[:80], answer.status_code)
        assert 'class="screen-errors"' in answer.get_data(as_text=True), text[:80]
    assert stored(plain_store) == 0
    # a title is text, shown as text on the admin page and on the screen
    xss = {**GOOD, "title": '</title><script>alert(1)</script><img src=x onerror=alert(2)>'}
    assert save(client, token, json.dumps(xss)).status_code == 303
    for page in (client.get("/screens/"), client.get("/screen/lobby")):
        assert page.status_code == 200 and "<script>alert(1)" not in page.get_data(as_text=True)
