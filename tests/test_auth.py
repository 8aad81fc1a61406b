"""People and sessions: scrypt hashes, login throttling, expiry on a controllable clock, the CLI, pages."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Clock

from alerts.people import (
    LoginRefused,
    People,
    UserError,
    hash_password,
    needs_rehash,
    users_command,
    verify_password,
)
from alerts.settings import AlertSettings, AuthSettings, alert_settings
from dashboards.auth import safe_next
from ioc.app.cli import main as ioc_main
from ioc.config import Settings
from ioc.store.database import Store

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
