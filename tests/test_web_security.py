"""The web server's guard against a real running server: raw paths, public routes, camera frames,
security headers, Secure cookies and client addresses behind a trusted proxy.

Requests go out through ``http.client`` with the path exactly as written (``requests`` and
browsers clean up ``..`` before sending; an attacker's client does not).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import fresh_database

from alerts.people import People
from ioc.camera_settings import VisionSettings
from ioc.config import Settings, WebSettings
from ioc.store.database import Store, open_store
from ioc.store.embedded import EmbeddedPostgres
from tests.browser import serving_pages

PW = "a long enough password"
FRAME = b"\xff\xd8\xff\xe0 a key frame with people on it"


@pytest.fixture
def plain_store(pg_plain: EmbeddedPostgres) -> Iterator[Store]:
    st = open_store(fresh_database(pg_plain), pool_max=6, want_timescaledb=False)
    try:
        yield st
    finally:
        st.close()


@contextmanager
def serving(store: Store, tmp_path: Path, auth: dict[str, Any], **web: Any) -> Iterator[int]:
    """The whole app (wall, console, sea, cameras) on 127.0.0.1; yields its port."""
    keyframes = tmp_path / "keyframes"
    (keyframes / "cam").mkdir(parents=True, exist_ok=True)
    (keyframes / "cam" / "latest.jpg").write_bytes(FRAME)
    settings = Settings(vision=VisionSettings(keyframes_dir=keyframes), web=WebSettings(**web))
    object.__setattr__(settings, "alerts", {"auth": auth})
    with serving_pages(store.pool, settings) as url:
        yield int(url.rsplit(":", 1)[1])


class Answer:
    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self.status = resp.status
        self.headers = resp.headers
        self.body = resp.read()

    def cookies(self) -> dict[str, str]:
        """Set-Cookie headers by cookie name (the whole header, attributes included)."""
        return {h.split("=", 1)[0]: h for h in self.headers.get_all("Set-Cookie") or []}


def raw(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None,
        body: str | None = None) -> Answer:
    """One request with ``path`` sent byte for byte as written."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        data = body.encode() if body is not None else None
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        return Answer(conn.getresponse())
    finally:
        conn.close()


def session_cookie(store: Store, name: str, role: str, addr: str = "127.0.0.1") -> str:
    people = People(store.pool)
    token, _ = people.start_session(people.add_user(name, role, PW), addr)
    return f"ioc_session={token}"


def login(port: int, name: str, password: str, headers: dict[str, str] | None = None) -> Answer:
    """The login form, filled in and sent with its CSRF token, as a browser would."""
    form = raw(port, "/login", headers=headers)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.body.decode()).group(1)  # type: ignore[union-attr]
    body = urlencode({"csrf_token": csrf, "username": name, "password": password, "next": "/console/"})
    return raw(port, "/login", "POST", body=body, headers={
        **(headers or {}), "Cookie": f"_csrf_token={csrf}",
        "Content-Type": "application/x-www-form-urlencoded"})


def test_a_raw_dotted_path_never_slips_past_the_login(plain_store: Store, tmp_path: Path) -> None:
    with serving(plain_store, tmp_path, {"wall_requires_login": True}) as port:
        sneaky = [
            "/cameras/frame/cam/assets/../latest.jpg",  # the old check saw '/assets/' and let it through
            "/cameras/frame/cam/_dash-component-suites/../latest.jpg",
            "/cameras/frame/cam/assets/%2e%2e/latest.jpg",
            "/assets/../cameras/frame/cam/latest.jpg",
            "/cameras/frame/cam/./latest.jpg",
        ]
        for path in sneaky:
            answer = raw(port, path)
            assert answer.status == 400 and FRAME not in answer.body, (path, answer.status)
        assert raw(port, "/cameras/frame/cam/latest.jpg").status == 401
        # public routes are matched exactly: a name that merely starts like one is not public
        for path in ("/loginfoo", "/healthzXYZ", "/whoamix", "/logout-now"):
            assert raw(port, path).status == 401, path
        assert raw(port, "/healthz").status == 200 and raw(port, "/login").status == 200
        # static files of the pages stay public (the login form needs its stylesheet)
        assert raw(port, "/console/assets/console.css").status == 200
        assert raw(port, "/console/_favicon.ico").status == 200
        cookie = session_cookie(plain_store, "kiosk", "viewer")
        answer = raw(port, "/cameras/frame/cam/latest.jpg", headers={"Cookie": cookie})
        assert answer.status == 200 and answer.body == FRAME


def test_camera_frames_need_a_login_by_default(plain_store: Store, tmp_path: Path) -> None:
    with serving(plain_store, tmp_path, {}) as port:
        assert raw(port, "/").status == 200  # the wall itself stays open by default
        assert raw(port, "/cameras/frame/cam/latest.jpg").status == 401
        assert raw(port, "/cameras/", headers={"Accept": "text/html"}).headers["Location"] == (
            "/login?next=/cameras/")
        assert raw(port, "/cameras/_dash-layout").status == 401
        kiosk = {"Cookie": session_cookie(plain_store, "kiosk", "viewer")}  # the wall screen's account
        assert raw(port, "/cameras/frame/cam/latest.jpg", headers=kiosk).body == FRAME
        assert raw(port, "/cameras/", headers=kiosk).status == 200
    with serving(plain_store, tmp_path, {"cameras_require_login": False}) as port:  # a city may open them
        assert raw(port, "/cameras/frame/cam/latest.jpg").body == FRAME


def test_every_answer_carries_the_security_headers(plain_store: Store, tmp_path: Path) -> None:
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    with serving(plain_store, tmp_path, {}, map_tiles_url=tiles) as port:
        for path in ("/", "/login", "/console/", "/healthz", "/console/assets/console.css", "/nope"):
            h = raw(port, path).headers
            csp = h["Content-Security-Policy"] or ""
            assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp, path
            script_src = csp.split("script-src")[1].split(";")[0]
            assert "default-src 'self'" in csp and "'unsafe-inline'" not in script_src, path
            assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "same-origin", path
            assert h["X-Frame-Options"] == "SAMEORIGIN", path
        csp = raw(port, "/").headers["Content-Security-Policy"]
        assert re.search(r"script-src 'self'( 'sha256-[A-Za-z0-9+/=]+')+;", csp), csp  # Dash's inline scripts
        assert "https://tiles.example.org" in csp.split("connect-src")[1].split(";")[0]


def test_cookies_are_secure_over_https_and_only_a_trusted_proxy_says_so(
    plain_store: Store, tmp_path: Path
) -> None:
    People(plain_store.pool).add_user("lan", "duty_officer", PW)
    https = {"X-Forwarded-Proto": "https"}
    with serving(plain_store, tmp_path, {}) as port:  # nobody trusted: anyone could send that header
        cookies = login(port, "lan", PW, https).cookies()
        assert "ioc_session" in cookies and "Secure" not in cookies["ioc_session"]
    with serving(plain_store, tmp_path, {}, trusted_proxies=["127.0.0.0/8"]) as port:
        cookies = login(port, "lan", PW, https).cookies()
        assert "Secure" in cookies["ioc_session"] and "HttpOnly" in cookies["ioc_session"]
        assert "Secure" in cookies["_csrf_token"]
        assert "Secure" not in login(port, "lan", PW).cookies()["ioc_session"]  # plain HTTP behind it


def test_behind_a_trusted_proxy_the_throttle_sees_each_client(plain_store: Store, tmp_path: Path) -> None:
    People(plain_store.pool).add_user("lan", "duty_officer", PW)
    outsider = {"X-Forwarded-For": "198.51.100.9, 203.0.113.66"}  # the first hop is the client's own claim
    desk = {"X-Forwarded-For": "10.20.0.7"}
    slow = {"delay_seconds": 3600, "max_delay_seconds": 3600}  # waits far longer than the test takes
    with serving(plain_store, tmp_path, slow, trusted_proxies=["127.0.0.1"]) as port:
        pages = [login(port, "lan", "wrong password", outsider) for _ in range(3)]
        pages.append(login(port, "lan", "no-such-user", outsider))
        pages.append(login(port, "nobody-here", PW, {"X-Forwarded-For": "10.9.9.9"}))
        pages.append(login(port, "lan", PW, outsider))  # the right password, but this client must wait
        errors = {re.search(r'role="alert">([^<]+)<', p.body.decode()).group(1) for p in pages}  # type: ignore[union-attr]
        assert {p.status for p in pages} == {401} and len(errors) == 1  # one message for every refusal
        assert login(port, "lan", PW, desk).status == 303  # the duty officer is not kept out
        with plain_store.pool.connection() as conn:
            addrs = conn.execute("SELECT DISTINCT remote_addr FROM login_failures ORDER BY 1").fetchall()
        assert addrs == [("10.9.9.9",), ("203.0.113.66",)]  # the proxy's hop, not the client's claim


def test_a_refused_request_says_why_in_the_pages_language(plain_store: Store, tmp_path: Path) -> None:
    """No English Werkzeug page: a missing file, a 405, a 401 answer a short text in the city's language
    (or the screen's ``?lang=``); the 405's ``Allow`` header is kept."""
    with serving(plain_store, tmp_path, {}, language="vi") as port:
        nope = raw(port, "/console/assets/nope.css")
        assert nope.status == 404 and nope.body.decode() == "404 Không tìm thấy."
        assert nope.headers["Content-Type"].startswith("text/plain")
        assert raw(port, "/console/assets/nope.css?lang=en").body.decode() == "404 Not found."
        assert raw(port, "/cameras/frame/cam/latest.jpg").body.decode() == "Hãy đăng nhập trước."
        assert raw(port, "/whoami").body.decode() == '{"error": "chưa đăng nhập"}'
        kiosk = session_cookie(plain_store, "kiosk", "viewer")
        missing = raw(port, "/cameras/frame/nobody/latest.jpg", headers={"Cookie": kiosk})
        assert (missing.status, missing.body.decode()) == (404, "404 Không tìm thấy.")
        token = "t" * 43  # an anonymous request's CSRF token: the cookie and the header agree
        wrong = raw(port, "/healthz", "PUT", headers={"Cookie": f"_csrf_token={token}", "X-CSRFToken": token})
        assert (wrong.status, wrong.body.decode()) == (405, "405 Phương thức không được hỗ trợ.")
        assert "GET" in wrong.headers["Allow"]
    with serving(plain_store, tmp_path, {}, language="en") as port:
        assert raw(port, "/console/assets/nope.css").body.decode() == "404 Not found."
