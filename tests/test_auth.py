"""People and sessions: scrypt hashes, login throttling, expiry on a controllable clock, the CLI, pages."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Clock
from flask import Flask

import alerts.people as people_module
from alerts.people import (
    REFUSED,
    HashSlots,
    LoginBusy,
    LoginRefused,
    People,
    UserError,
    hash_password,
    needs_rehash,
    users_command,
    verify_password,
)
from alerts.settings import AlertSettings, AuthSettings, alert_settings
from dashboards.auth import install as install_auth
from dashboards.auth import safe_next
from ioc.app.cli import main as ioc_main
from ioc.config import Settings
from ioc.store.database import Store
from tests.browser import serving_wsgi
from tests.waiting import HANG_GUARD_S

T0 = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
PW = "a long enough password"


def test_passwords_are_salted_scrypt_hashes_at_owasp_cost() -> None:
    a, b = hash_password(PW), hash_password(PW)
    assert a != b and a.startswith("scrypt$131072$8$1$")  # N=2^17, r=8, p=1; a fresh salt each time
    assert verify_password(PW, a) and verify_password(PW, b)
    assert not verify_password(PW + "!", a) and not verify_password("", a)
    assert not verify_password(PW, "plain$" + PW) and not verify_password(PW, "scrypt$garbage")
    assert not verify_password(PW, "scrypt$1073741824$8$1$AAAA$AAAA")  # a cost we refuse to compute
    old = hash_password(PW, n=2**14)
    assert verify_password(PW, old) and needs_rehash(old) and not needs_rehash(a)


def test_a_weaker_stored_hash_is_made_anew_on_login(plain_store: Store) -> None:
    people = People(plain_store.pool)
    people.add_user("lan", "duty_officer", PW)
    with plain_store.pool.connection() as conn:
        conn.execute("UPDATE users SET password_hash = %s WHERE name = 'lan'", (hash_password(PW, n=2**14),))
    with pytest.raises(LoginRefused):
        people.authenticate("lan", "wrong password!", "10.0.0.7")
    assert _stored_hash(plain_store, "lan").startswith("scrypt$16384$")  # a wrong password changes nothing
    people.authenticate("lan", PW, "10.0.0.7")
    stored = _stored_hash(plain_store, "lan")
    assert stored.startswith("scrypt$131072$8$1$") and verify_password(PW, stored)
    people.authenticate("lan", PW, "10.0.0.7")
    assert _stored_hash(plain_store, "lan") == stored  # already at the current cost: left alone


def _stored_hash(store: Store, name: str) -> str:
    with store.pool.connection() as conn:
        return conn.execute("SELECT password_hash FROM users WHERE name = %s", (name,)).fetchone()[0]


def test_users_roles_and_stored_hashes(plain_store: Store) -> None:
    clock = Clock(T0)
    people = People(plain_store.pool, AuthSettings(), clock)
    people.add_user("lan", "duty_officer", PW, "Nguyễn Thị Lan")
    with pytest.raises(UserError, match="already exists"):
        people.add_user("lan", "viewer", PW)
    with pytest.raises(UserError, match="unknown role"):
        people.add_user("x", "superuser", PW)
    with pytest.raises(UserError, match="at least 10"):
        people.add_user("y", "viewer", "short")
    with pytest.raises(UserError, match="letters, digits"):
        people.add_user("bad name", "viewer", PW)
    with plain_store.pool.connection() as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE name = 'lan'").fetchone()[0]
    assert PW not in stored and verify_password(PW, stored)
    assert people.authenticate("lan", PW).role == "duty_officer"
    with pytest.raises(LoginRefused, match="Wrong name or password"):
        people.authenticate("nobody", PW)
    assert people.authenticate("lan", PW).last_login_at == clock()
    people.set_active("lan", False)
    with pytest.raises(LoginRefused, match="Wrong name or password"):
        people.authenticate("lan", PW)


OUTSIDER, DESK, ELSEWHERE = "203.0.113.66", "10.20.0.7", "10.20.0.8"


def _refused(people: People, name: str, password: str, addr: str) -> str:
    with pytest.raises(LoginRefused) as exc:
        people.authenticate(name, password, addr)
    return str(exc.value)


def test_wrong_passwords_slow_the_guesser_never_the_user(plain_store: Store) -> None:
    """OWASP: growing delays per address and per (address, name); an outsider cannot keep a user out."""
    clock = Clock(T0)
    settings = AuthSettings(free_tries_per_account=3, free_tries_per_address=6, delay_seconds=1,
                            max_delay_seconds=300, forget_minutes=30)
    people = People(plain_store.pool, settings, clock)
    people.add_user("lan", "duty_officer", PW)
    messages = {_refused(people, "lan", "guess number 0", OUTSIDER) for _ in range(3)}  # the free tries
    messages.add(_refused(people, "nobody", PW, ELSEWHERE))  # an unknown name
    # the guesser now waits 1 s, even with the right password (refused unchecked: a guess tells nothing)
    messages.add(_refused(people, "lan", PW, OUTSIDER))
    assert messages == {"Wrong name or password, or too many tries from here: wait a minute and try again."}
    # ... while the duty officer at her desk logs in at once, again and again (never a lock on the account)
    assert people.authenticate("lan", PW, DESK).name == "lan"
    # the guesser's waits grow: 1 s, 2 s, 4 s, 8 s ...
    for wait in (1, 2, 4, 8, 16):
        clock.advance(seconds=wait - 0.5)
        _refused(people, "lan", PW, OUTSIDER)  # too early: still waiting
        clock.advance(seconds=0.5)
        _refused(people, "lan", "another guess", OUTSIDER)  # its turn: a wrong password, counted
        assert people.authenticate("lan", PW, DESK).name == "lan"
    # the wait is per name and per address: other names from the guesser wait too, once it tried many
    for i in range(3):
        _refused(people, f"user{i}", "guess", OUTSIDER)  # the address is past its 6 free tries now
    _refused(people, "nobody-else", PW, OUTSIDER)  # waiting, whatever the name
    # failures are forgotten after a quiet half hour (not kept for ever, as the old lock counter was)
    clock.advance(minutes=31)
    assert people.authenticate("lan", PW, OUTSIDER).name == "lan"
    with plain_store.pool.connection() as conn:
        rows = conn.execute("SELECT count(*) FROM login_failures WHERE username = 'lan'").fetchone()[0]
    assert rows == 0  # a right password forgets that address's failures at that name


def test_guesses_from_many_addresses_slow_strangers_not_the_users_own_desk(plain_store: Store) -> None:
    clock = Clock(T0)
    settings = AuthSettings(free_tries_per_account=3, spread_addresses=3, free_tries_per_spread_account=6)
    people = People(plain_store.pool, settings, clock)
    user = people.add_user("lan", "duty_officer", PW)
    people.start_session(user, DESK)  # she worked from her desk before
    for bot in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        for _ in range(2):
            _refused(people, "lan", "guess", bot)
    _refused(people, "lan", PW, "198.51.100.4")  # a new address waits: the name is under attack
    assert people.authenticate("lan", PW, DESK).name == "lan"  # her own desk does not
    clock.advance(seconds=2)
    assert people.authenticate("lan", PW, "198.51.100.4").name == "lan"  # and the wait is short


def test_sessions_expire_idle_and_absolute_and_end_on_logout(plain_store: Store) -> None:
    clock = Clock(T0)
    people = People(
        plain_store.pool, AuthSettings(session_hours=12, idle_minutes=60, kiosk_session_hours=720), clock
    )
    people.add_user("lan", "duty_officer", PW)
    people.add_user("kiosk", "viewer", PW)
    token, who = people.start_session(people.authenticate("lan", PW))
    kiosk_token, _ = people.start_session(people.authenticate("kiosk", PW))
    assert who.expires_at == T0 + timedelta(hours=12) and len(who.csrf_token) >= 32
    with plain_store.pool.connection() as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM user_sessions WHERE token_hash = %s", (token.encode(),)
            ).fetchone()[0]
            == 0
        )  # only the token's hash is stored
    assert people.session(token).name == "lan"  # type: ignore[union-attr]
    clock.advance(minutes=59)
    assert people.session(token) is not None  # touches last_seen
    clock.advance(minutes=61)
    assert people.session(token) is None  # idle for more than an hour
    assert people.session(kiosk_token) is not None  # a kiosk (viewer) is never idle-timed out
    token2, _ = people.start_session(people.authenticate("lan", PW))
    for _ in range(12):  # 11 h 48 min of steady use
        clock.advance(minutes=59)
        assert people.session(token2) is not None
    clock.advance(minutes=12)
    assert people.session(token2) is None  # 12 hours is the end, however busy
    assert people.session(kiosk_token) is not None
    clock.advance(hours=720)
    assert people.session(kiosk_token) is None
    token3, _ = people.start_session(people.authenticate("lan", PW))
    people.end_session(token3)
    assert people.session(token3) is None
    token4, _ = people.start_session(people.authenticate("lan", PW))
    people.set_password("lan", "another long password")
    assert people.session(token4) is None  # a new password ends the old sessions
    assert people.session("made-up") is None and people.session(None) is None


def test_a_kiosk_session_in_use_never_expires_mid_shift(plain_store: Store) -> None:
    """A wall polls all night for months: its viewer session slides on while used, and ends only
    ``kiosk_session_hours`` after the screen last asked."""
    clock = Clock(T0)
    people = People(plain_store.pool, AuthSettings(kiosk_session_hours=720), clock)
    people.add_user("kiosk", "viewer", PW)
    token, first = people.start_session(people.authenticate("kiosk", PW))
    for _ in range(40 * 24):  # forty days of a screen asking every hour, past the 30-day lifetime
        clock.advance(hours=1)
        who = people.session(token)
        assert who is not None and who.renewed and who.expires_at == clock() + timedelta(hours=720)
    assert clock() - first.expires_at > timedelta(days=9)
    clock.advance(hours=720, seconds=1)
    assert people.session(token) is None  # a screen switched off for a month logs in again


def test_only_a_persons_requests_keep_a_session_from_idling_out(plain_store: Store) -> None:
    """A console left open asks by itself every few seconds (Dash's timers and what they change,
    ``/whoami``, key frames): those kept a duty officer's session alive for ever. Only a person's
    requests count now: page loads, forms, and what a page's scripts send after a key or a click
    (``assets/activity.js`` marks those: ``X-IOC-Activity``)."""
    clock = Clock(T0)
    people = People(plain_store.pool, AuthSettings(idle_minutes=60), clock)
    _cheap_user(plain_store, "lan")
    _cheap_user(plain_store, "wall-1", "viewer")
    server = guarded(people)
    server.add_url_rule("/console/_dash-update-component", "dispatch", lambda: "{}", methods=["POST"])
    server.add_url_rule("/cameras/frame/<name>", "frame", lambda name: "jpeg bytes")

    def client_of(name: str) -> Any:
        token, who = people.start_session(next(u for u in people.users() if u.name == name), "127.0.0.1")
        client = server.test_client()
        client.set_cookie("ioc_session", token)
        client.set_cookie("_csrf_token", who.csrf_token)
        client.csrf = who.csrf_token
        return client

    def callback(client: Any, changed: str, **headers: str) -> int:  # what Dash's renderer posts, in short
        body = {"output": "alert-grid.rowData", "changedPropIds": [changed], "inputs": []}
        return client.post("/console/_dash-update-component", json=body,
                           headers={"X-CSRFToken": client.csrf, **headers}).status_code

    def open_console_for(client: Any, minutes: int) -> list[int]:
        """What a page that nobody touches asks, a minute at a time."""
        answers = []
        for _ in range(minutes):
            clock.advance(minutes=1)
            answers += [callback(client, "console-tick.n_intervals"),
                        callback(client, "r311-map.clickData"),  # a map a timer redrew says so too
                        client.get("/whoami").status_code,
                        client.get("/cameras/frame/1.jpg", headers={"Sec-Fetch-Mode": "no-cors"}).status_code,
                        client.get("/console/", headers={"Accept": "*/*"}).status_code]  # a script's fetch
        return answers

    officer, kiosk = client_of("lan"), client_of("wall-1")
    assert set(open_console_for(officer, 59)) == {200}
    assert callback(officer, "btn-ack.n_clicks", **{"X-IOC-Activity": "input"}) == 200  # a click: counted
    assert set(open_console_for(officer, 59)) == {200}
    assert officer.get("/console/", headers={"Sec-Fetch-Mode": "navigate"}).status_code == 200  # a page load
    assert set(open_console_for(officer, 60)) == {200}
    assert officer.get("/console/", headers={"Accept": "text/html"}).status_code == 200  # no Sec-Fetch-*
    answers = open_console_for(officer, 62)
    assert set(answers[:5 * 60]) == {200} and set(answers[-5:]) == {401}  # an hour untouched: ended
    assert open_console_for(kiosk, 5)[-5:] == [200] * 5  # a wall's kiosk session never idles out
    assert callback(officer, "f-feed.value", **{"X-IOC-Activity": "input"}) == 401  # ended: log in again


def test_a_page_may_need_more_than_a_login_where_the_city_says_so(plain_store: Store) -> None:
    """``[alerts.auth] page_roles``: a wall's kiosk account (a viewer) may read every page that needs a
    login, citizens' photos included; a city can say a page needs an operator or above."""
    settings = AuthSettings(page_roles={"/reports311/": "operator", "/sea/": "duty_officer"})
    people = People(plain_store.pool, settings)
    _cheap_user(plain_store, "wall-1", "viewer")
    _cheap_user(plain_store, "hoa", "operator")
    server = Flask(__name__)
    install_auth(server, people, settings, language="vi")
    server.add_url_rule("/reports311/", "r311", lambda: "the reports")
    server.add_url_rule("/reports311/photo/<sha>", "photo", lambda sha: "jpeg bytes")
    server.add_url_rule("/sea/", "sea", lambda: "the sea map")
    server.add_url_rule("/console/", "console", lambda: "the console")

    def client_of(name: str | None) -> Any:
        client = server.test_client()
        if name is not None:
            token, _ = people.start_session(next(u for u in people.users() if u.name == name), "127.0.0.1")
            client.set_cookie("ioc_session", token)
        return client

    kiosk, operator, nobody = client_of("wall-1"), client_of("hoa"), client_of(None)
    for path in ("/reports311/", "/reports311/photo/ab12"):
        refused = kiosk.get(path)
        assert refused.status_code == 403 and "jpeg" not in refused.get_data(as_text=True)
        assert refused.get_data(as_text=True) == (
            "Trang này cần vai trò điều hành viên trở lên; bạn đang đăng nhập với vai trò người xem.")
        assert operator.get(path).status_code == 200
    assert kiosk.get("/console/").status_code == 200  # a page not named: any login, as before
    assert operator.get("/sea/").status_code == 403  # the longest prefix named decides
    assert nobody.get("/sea/", headers={"Accept": "text/html"}).status_code == 302  # named: a login first
    with pytest.raises(ValueError, match="page_roles"):
        AuthSettings(page_roles={"/reports311/": "chief"})
    with pytest.raises(ValueError, match="not a page's address"):
        AuthSettings(page_roles={"reports311": "operator"})


def test_ioc_users_command(
    plain_store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert (
        ioc_main(
            [
                "users",
                "add",
                "minh",
                "--role",
                "duty_officer",
                "--display-name",
                "Trần Minh",
                "--dsn",
                plain_store.dsn,
            ]
        )
        == 0
    )
    assert "added minh (duty officer)" in capsys.readouterr().out
    assert People(plain_store.pool).authenticate("minh", PW).display_name == "Trần Minh"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert ioc_main(["users", "add", "hoa", "--role", "viewer", "--dsn", plain_store.dsn]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert ioc_main(["users", "list", "--dsn", plain_store.dsn]) == 0
    out = capsys.readouterr().out
    assert "minh" in out and "duty officer" in out and "hoa" not in out
    assert users_command(plain_store.pool, "disable", "minh", stdout=io.StringIO()) == 0
    with pytest.raises(LoginRefused):
        People(plain_store.pool).authenticate("minh", PW)


def test_safe_next_stays_on_this_site() -> None:
    assert safe_next("/console/") == "/console/" and safe_next("/?station=x") == "/?station=x"
    for bad in (
        "https://evil.example/",
        "//evil.example/x",
        "javascript:alert(1)",
        "console",
        "/\\evil",
        None,
    ):
        assert safe_next(bad) == "/console/"


def test_settings_are_read_from_the_core_settings() -> None:
    assert alert_settings(None).flapping_minutes == 10
    assert alert_settings({"alerts": {}}).grouping_minutes == 30  # type: ignore[arg-type]
    s = Settings()
    object.__setattr__(s, "alerts", {"flapping_minutes": 3, "auth": {"wall_requires_login": True}})
    cfg = alert_settings(s)
    assert cfg.flapping_minutes == 3 and cfg.auth.wall_requires_login
    with pytest.raises(ValueError, match="unknown notification channels"):
        AlertSettings.model_validate({"notifications": {"on_raise": {"critical": ["pager"]}}})
    with pytest.raises(ValueError, match="unknown recipients"):
        AlertSettings.model_validate(
            {"escalation": [{"severity": "critical", "steps": [{"after_minutes": 5, "notify": "mayor"}]}]}
        )


def _get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


@pytest.mark.parametrize("wall_login", [False, True])
def test_which_pages_need_a_login(plain_store: Store, wall_login: bool) -> None:
    from tests.browser import serving_pages

    settings = Settings()
    object.__setattr__(settings, "alerts", {"auth": {"wall_requires_login": wall_login}})
    with serving_pages(plain_store.pool, settings) as base:
        assert _get(f"{base}/console/") == (302, "/login?next=/console/")
        assert _get(f"{base}/console") == (302, "/login?next=/console")
        assert _get(f"{base}/login")[0] == 200 and _get(f"{base}/healthz")[0] == 200
        assert _get(f"{base}/?station=hue-vyda") == (
            (302, "/login?next=/%3Fstation%3Dhue-vyda") if wall_login else (200, "")
        )
        assert _get(f"{base}/whoami")[0] == 401


# --------------------------------------------------------------------------- what a login may cost

CHEAP_PW = "stored at an eighth of the cost"  # its hash is quick to check: these tests make many tries


def _cheap_user(store: Store, name: str, role: str = "duty_officer") -> None:
    """``name`` with :data:`CHEAP_PW` stored at N=2^14 (a try at it is cheap to check)."""
    with store.pool.connection() as conn:
        conn.execute("INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)",
                     (name, role, hash_password(CHEAP_PW, n=2**14)))


def _count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every scrypt computed from now on, by its N."""
    seen: list[int] = []
    real = hashlib.scrypt

    def counted(password: bytes, **kw: Any) -> bytes:
        seen.append(kw["n"])
        return real(password, **kw)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    return seen


def _failures(store: Store) -> dict[tuple[str, str], int]:
    with store.pool.connection() as conn:
        return {(a, u): n for a, u, n in conn.execute(
            "SELECT remote_addr, username, failures FROM login_failures").fetchall()}


def guarded(people: People) -> Flask:
    """A bare server with the login guard (a trusted proxy on 127.0.0.1 names each client)."""
    server = Flask(__name__)
    install_auth(server, people, people.settings, trusted_proxies=["127.0.0.1"])
    server.add_url_rule("/healthz", "ioc_healthz", lambda: "ok")
    server.add_url_rule("/console/", "console", lambda: "the console")
    return server


def test_a_name_no_account_can_have_costs_no_hash_but_counts_as_a_failure(
        plain_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    people = People(plain_store.pool, AuthSettings(free_tries_per_account=9, free_tries_per_address=6,
                                                     delay_seconds=3600), Clock(T0))
    _cheap_user(plain_store, "lan")
    hashes = _count_hashes(monkeypatch)
    for name in ("", "   ", "no such\x00name", "x" * 65, "tên có dấu", "a" * 100_000):
        assert _refused(people, name, CHEAP_PW, OUTSIDER) == REFUSED
    assert hashes == []  # not one hash for a name that cannot be an account
    assert _failures(plain_store) == {(OUTSIDER, ""): 6}  # ... but each counted at the address
    assert _refused(people, "lan", CHEAP_PW, OUTSIDER) == REFUSED  # past its free tries: waits, unchecked
    assert hashes == []
    assert _refused(people, "lan", "a wrong password", DESK) == REFUSED and hashes == [2**14]


def test_a_head_of_the_login_form_is_the_form_and_never_a_login(
        plain_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    people = People(plain_store.pool)
    _cheap_user(plain_store, "lan")
    hashes = _count_hashes(monkeypatch)
    client = guarded(people).test_client()
    for form in ({"username": "lan", "password": CHEAP_PW}, {"username": "", "password": ""}, {}):
        answer = client.open("/login", method="HEAD", data=form)  # no CSRF token: HEAD is "safe"
        assert answer.status_code == 200 and "ioc_session" not in str(answer.headers.getlist("Set-Cookie"))
        assert answer.headers["Cache-Control"] == "no-store"
    assert hashes == [] and _failures(plain_store) == {}
    with plain_store.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM user_sessions").fetchone()[0] == 0


def test_a_missing_name_costs_one_hash_from_the_first_login_of_a_process(plain_store: Store) -> None:
    """The dummy hash a missing name is checked against is made without hashing: the first such login
    of a process costs what every later one does (one hash), not two."""
    script = (
        "import hashlib, sys\n"
        "from psycopg_pool import ConnectionPool\n"
        "seen, real = [], hashlib.scrypt\n"
        "hashlib.scrypt = lambda *a, **kw: seen.append(kw['n']) or real(*a, **kw)\n"
        "from alerts.people import LoginRefused, People\n"
        "with ConnectionPool(sys.argv[1], min_size=1, max_size=1) as pool:\n"
        "    try:\n"
        "        People(pool).authenticate('nobody-here', 'a password at all', '10.1.1.1')\n"
        "    except LoginRefused:\n"
        "        print(seen)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, plain_store.dsn], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "[131072]", done.stderr[-2000:]


def test_tries_at_an_existing_name_run_side_by_side_as_at_a_missing_one(
        plain_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """No row lock held through the hash: two wrong passwords for one existing name are checked at
    the same time (as two for a missing name are), so their timing tells nothing about the name."""
    people = People(plain_store.pool)
    _cheap_user(plain_store, "lan")
    both_inside = threading.Barrier(2, timeout=HANG_GUARD_S)  # broken if one waits for the other
    real = people_module.verify_password

    def meeting(password: str, stored: str) -> bool:
        both_inside.wait()
        return real(password, stored)

    monkeypatch.setattr(people_module, "verify_password", meeting)
    for name in ("lan", "nobody-here"):
        with ThreadPoolExecutor(2) as pool:
            tries = [pool.submit(_refused, people, name, "wrong guess", addr) for addr in (OUTSIDER, DESK)]
            assert [t.result() for t in tries] == [REFUSED, REFUSED], name
        both_inside.reset()


def test_at_most_two_hashes_at_once_and_a_login_without_a_slot_is_busy_not_counted(
        plain_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    people = People(plain_store.pool, hash_slots=HashSlots(2, wait_s=0.2))
    _cheap_user(plain_store, "lan")
    inside, release = threading.Semaphore(0), threading.Event()
    real = people_module.verify_password

    def held(password: str, stored: str) -> bool:  # a hash that lasts until the test lets it end
        inside.release()
        assert release.wait(HANG_GUARD_S)
        return real(password, stored)

    monkeypatch.setattr(people_module, "verify_password", held)
    with serving_wsgi(guarded(people)) as base, ThreadPoolExecutor(8) as pool:
        def login(addr: str, lang: str = "en") -> requests.Response:
            return requests.post(f"{base}/login?lang={lang}", allow_redirects=False, timeout=HANG_GUARD_S,
                                 data={"csrf_token": "tok", "username": "lan", "password": "guess"},
                                 headers={"Cookie": "_csrf_token=tok", "X-Forwarded-For": addr})

        hashing = [pool.submit(login, f"198.51.100.{i}") for i in (1, 2)]
        for _ in hashing:
            assert inside.acquire(timeout=HANG_GUARD_S)  # two hashes held
        # more tries than the server has threads (4): none gets a slot, each is answered and lets go
        busy = [pool.submit(login, f"198.51.100.{i}", "vi") for i in range(3, 9)]
        assert requests.get(f"{base}/healthz", timeout=HANG_GUARD_S).text == "ok"  # the server still answers
        for answer in (b.result() for b in busy):
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
            assert "Đang có quá nhiều lượt đăng nhập cùng lúc" in answer.text
        assert not release.is_set() and not any(h.done() for h in hashing)  # ... while two are held
        assert _failures(plain_store) == {}  # a busy answer counts as nothing
        release.set()
        assert [h.result().status_code for h in hashing] == [401, 401]
    assert _failures(plain_store) == {("198.51.100.1", "lan"): 1, ("198.51.100.2", "lan"): 1}


def test_tries_from_one_address_wait_for_each_other_as_long_as_for_a_hash_slot(plain_store: Store) -> None:
    """Tries from one address run one at a time; a flood of them waited without end, each holding a
    web thread and a database connection. Now a try waits as long as for a hash slot at most."""
    people = People(plain_store.pool, AuthSettings(), Clock(T0), HashSlots(wait_s=0.5))
    _cheap_user(plain_store, "lan")
    with plain_store.pool.connection() as other, other.transaction(), ThreadPoolExecutor(1) as pool:
        # a try from 198.51.100.7 in progress (another web process's, say)
        other.execute("SELECT pg_advisory_xact_lock(hashtext('ioc-login'), hashtext('198.51.100.7'))")
        waiting = pool.submit(people.authenticate, "lan", CHEAP_PW, "198.51.100.7")
        with pytest.raises(LoginBusy) as busy:
            waiting.result(timeout=HANG_GUARD_S)
        assert busy.value.retry_after_s == 1
        assert people.authenticate("lan", CHEAP_PW, "198.51.100.8").name == "lan"  # another address
    assert _failures(plain_store) == {}  # a busy answer counts as nothing
    assert people.authenticate("lan", CHEAP_PW, "198.51.100.7").name == "lan"  # its turn now


def test_the_hash_slots_are_the_processs_and_the_citys_to_size(plain_store: Store) -> None:
    """``[alerts.auth] hash_slots`` and ``hash_slot_wait_seconds``: every People of a process with the
    same settings shares one set of slots (the memory they guard is the process's)."""
    one = People(plain_store.pool, AuthSettings(hash_slots=1, hash_slot_wait_seconds=0.2))
    again = People(plain_store.pool, AuthSettings(hash_slots=1, hash_slot_wait_seconds=0.2))
    assert one.hash_slots is again.hash_slots and (one.hash_slots.size, one.hash_slots.wait_s) == (1, 0.2)
    assert People(plain_store.pool).hash_slots.size == 2 and People(plain_store.pool).hash_slots.wait_s == 5.0
    _cheap_user(plain_store, "lan")
    with one.hash_slots.held(), pytest.raises(LoginBusy):  # the only slot taken: the next login is busy
        again.authenticate("lan", CHEAP_PW, "198.51.100.9")
    assert again.authenticate("lan", CHEAP_PW, "198.51.100.9").name == "lan"
    with pytest.raises(ValueError, match="hash_slots"):
        AuthSettings(hash_slots=0)


def test_logging_in_again_ends_the_session_the_request_came_with(plain_store: Store) -> None:
    people = People(plain_store.pool)
    _cheap_user(plain_store, "lan")
    old, who = people.start_session(next(u for u in people.users() if u.name == "lan"), "127.0.0.1")
    client = guarded(people).test_client()
    client.set_cookie("ioc_session", old)
    client.set_cookie("_csrf_token", who.csrf_token)
    form = {"csrf_token": who.csrf_token, "username": "lan", "password": CHEAP_PW}
    answer = client.post("/login", data=form)
    new = client.get_cookie("ioc_session")
    assert answer.status_code == 303 and new is not None and new.value != old
    assert people.session(old) is None and people.session(new.value).name == "lan"  # type: ignore[union-attr]
    assert answer.headers["Cache-Control"] == "no-store"  # it sets the new session's cookie


def test_answers_with_a_session_or_of_closed_pages_are_never_stored(plain_store: Store) -> None:
    from tests.browser import serving_pages

    people = People(plain_store.pool)
    token, _ = people.start_session(people.add_user("kiosk", "viewer", PW), "127.0.0.1")
    with serving_pages(plain_store.pool, Settings()) as base:
        def cache(path: str, session: bool) -> str:
            headers = {"Cookie": f"ioc_session={token}"} if session else {}
            answer = requests.get(base + path, headers=headers, allow_redirects=False, timeout=HANG_GUARD_S)
            return answer.headers.get("Cache-Control", "")

        for path in ("/", "/console/", "/whoami", "/reports/", "/reports/7.pdf", "/sea/", "/healthz"):
            assert cache(path, session=True) == "no-store", path
        for path in ("/console/", "/reports/7.pdf", "/login", "/whoami"):  # closed, or the login's own
            assert cache(path, session=False) == "no-store", path
        assert cache("/", session=False) != "no-store"  # the open wall, asked without a session
        for session in (True, False):  # the pages' static files keep their caching
            assert cache("/console/assets/console.css", session) != "no-store"
