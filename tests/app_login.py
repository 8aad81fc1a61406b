"""A test client of the whole web app (the real Flask server and its pages on a real store), logged in
through ``/login`` as a person of a given role, as a browser would."""

from __future__ import annotations

import re
from typing import Any

PASSWORD = "correct horse battery"


def logged_in(store: Any, name: str, role: str, settings: Any = None,
              next_page: str = "/") -> tuple[Any, str]:
    """A new user ``name`` of ``role``, a test client of the app logged in as them, and its CSRF token."""
    from alerts.people import People
    from dashboards.app import create_app
    from ioc.config import Settings

    People(store.pool).add_user(name, role, PASSWORD)
    client = create_app(store.pool, settings or Settings()).server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    answer = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1),
                                         "next": next_page})
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None
    return client, cookie.value
