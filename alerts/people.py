"""People on the console: users with roles, passwords hashed with scrypt, sessions that expire.

Passwords are stored as ``scrypt$N$r$p$salt$hash`` (``hashlib.scrypt``, a
memory-hard KDF; 16-byte random salt) at OWASP's recommended cost (N=2^17,
r=8, p=1), compared in constant time; a hash made at a lower cost is made
anew at the current one when its owner logs in. Wrong passwords slow down
whoever sends them (:mod:`alerts.throttle`), never lock the account, and every
refusal reads the same. A session is a random token in an HttpOnly cookie; only
its SHA-256 is stored, with the session's CSRF token, an absolute expiry
(``session_hours``, or ``kiosk_session_hours`` for viewer accounts such as
the wall's kiosk, moved on while the screen uses it: a wall in use never logs out
mid-shift) and an idle limit (``idle_minutes``, not applied to viewers: a wall
polls all night without anyone touching it).

A password hash costs ~128 MB and a core for a fraction of a second, so a login pays for one only
when it could succeed: a name no account can have is refused (and counted) without one, a client
that must wait is refused before one, and at most ``hash_slots`` (2) hashes run at once in a
process (:class:`HashSlots`; a login that finds none free within seconds is :class:`LoginBusy`,
neither tried nor counted). No row is locked while a password is checked: a wrong password for an
existing name takes as long, alone or beside others, as one for a missing name. Tries from one
client address run one at a time, and one that waits for its turn longer than for a hash slot is
:class:`LoginBusy` too.

:func:`users_command` is what ``ioc users add|list|passwd|disable`` runs.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from alerts.lifecycle import ROLES, Term, label, may, said
from alerts.passwords import (  # noqa: F401 - LoginBusy, HashSlots...: as callers import them
    HashSlots,
    LoginBusy,
    _dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from alerts.settings import AuthSettings
from alerts.throttle import LoginThrottle
from ioc.i18n import format_time, gettext

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_PASSWORD = 10
REFUSED = "Wrong name or password, or too many tries from here: wait a minute and try again."
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session
IMPOSSIBLE_NAME = ""  # how the throttle counts a name no account can have (empty, NUL, too long...)


def utcnow() -> datetime:
    return datetime.now(UTC)


class LoginRefused(Exception):
    """Wrong name or password, a disabled account, too many tries: one message for all (no enumeration)."""

    def __init__(self, message: str = REFUSED) -> None:
        super().__init__(message)


class UserError(ValueError):
    """A user cannot be added or changed as asked: an ``alerts`` catalogue message and its fields;
    ``str()`` says why in English, :meth:`text` in the reader's language."""

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(self.text("en"))

    def text(self, lang: str) -> str:
        return said(self.message, self.params, lang)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class User:
    """A console user (never with the password hash)."""

    name: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    language: str | None = None  # the pages' language for this user; None: the screen's or city's

    @property
    def shown(self) -> str:
        return self.display_name or self.name


@dataclass(frozen=True)
class Principal:
    """Who a request is from: the user of a live session, with that session's CSRF token."""

    name: str
    display_name: str
    role: str
    csrf_token: str
    expires_at: datetime
    language: str | None = None  # the user's language for the pages (``vi``, ``en``), if chosen
    renewed: bool = False  # a kiosk session whose expiry this request moved on (its cookie follows)

    @property
    def shown(self) -> str:
        return self.display_name or self.name


_USER_COLUMNS = "name, display_name, role, active, created_at, last_login_at, language"


def token_hash(token: str) -> bytes:
    """What is stored of a session token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


class People:
    """Users and sessions in the store."""

    def __init__(
        self, pool: ConnectionPool, settings: AuthSettings | None = None, clock: Clock = utcnow,
        hash_slots: HashSlots | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings or AuthSettings()
        self.clock = clock
        self.hash_slots = hash_slots or HashSlots.of_process(self.settings.hash_slots,
                                                             self.settings.hash_slot_wait_seconds)

    # -- users -----------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str, display_name: str = "") -> User:
        """Create a user; :class:`UserError` for a taken or bad name, unknown role, short password."""
        self._valid(name, role)
        self._strong(password)
        try:
            with self.pool.connection() as conn, conn.cursor(row_factory=class_row(User)) as cur:
                return cur.execute(
                    f"INSERT INTO users (name, display_name, role, password_hash) VALUES (%s, %s, %s, %s) "
                    f"RETURNING {_USER_COLUMNS}",
                    (name, display_name, role, hash_password(password)),
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise UserError("a user named {name} already exists", name=name) from None

    def set_password(self, name: str, password: str) -> None:
        """Change a password; ends the user's sessions."""
        self._strong(password)
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.execute(
                "UPDATE users SET password_hash = %s, password_changed_at = %s, failed_logins = 0, "
                "locked_until = NULL WHERE name = %s",
                (hash_password(password), self.clock(), name),
            )
            if cur.rowcount != 1:
                raise UserError("no user named {name}", name=name)
            conn.execute(
                "UPDATE user_sessions SET revoked_at = %s WHERE username = %s AND revoked_at IS NULL",
                (self.clock(), name),
            )

    def set_language(self, name: str, language: str | None) -> None:
        """The pages' language of a user (``vi`` or ``en``; ``None``: the screen's or the city's)."""
        if language is not None and language not in ("vi", "en"):
            raise UserError("unknown language {language}: vi or en", language=language)
        with self.pool.connection() as conn:
            cur = conn.execute("UPDATE users SET language = %s WHERE name = %s", (language, name))
            if cur.rowcount == 0:
                raise UserError("no user named {name}", name=name)

    def set_active(self, name: str, active: bool) -> None:
        """Enable or disable a user; disabling ends their sessions."""
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.execute("UPDATE users SET active = %s WHERE name = %s", (active, name))
            if cur.rowcount != 1:
                raise UserError("no user named {name}", name=name)
            if not active:
                conn.execute(
                    "UPDATE user_sessions SET revoked_at = %s WHERE username = %s AND revoked_at IS NULL",
                    (self.clock(), name),
                )

    def users(self) -> list[User]:
        """Every user, by name."""
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(User)) as cur:
            return cur.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall()

    def assignable(self) -> list[User]:
        """Active users an alert can be assigned to (operators and above)."""
        return [u for u in self.users() if u.active and may(u.role, "be_assigned")]

    @staticmethod
    def _valid(name: str, role: str) -> None:
        if not NAME_RE.match(name or ""):
            raise UserError("a user name is 1-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise UserError("unknown role {role}; roles: {roles}", role=role, roles=", ".join(ROLES))

    @staticmethod
    def _strong(password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise UserError("a password needs at least {n} characters", n=MIN_PASSWORD)

    # -- logging in ------------------------------------------------------------------
    def authenticate(self, name: str, password: str, remote_addr: str | None = None) -> User:
        """The user if the password is right and the account usable; else :class:`LoginRefused`.

        ``remote_addr`` is the client's address, for throttling (:mod:`alerts.throttle`); tries
        from one address run one at a time. A client that must wait, or a name no account can
        have, is refused without a hash. Every refusal carries the same message; a failure is
        counted (committed) before it is raised. :class:`LoginBusy` (nothing tried, nothing
        counted) when no hash slot frees in time. A right password stored at a lower cost is
        hashed anew.
        """
        possible = NAME_RE.match(name or "") is not None
        key = name if possible else IMPOSSIBLE_NAME  # NUL, a megabyte of text...: counted as one name
        throttle = LoginThrottle(self.settings, self.clock)
        now = self.clock()
        refused = True
        with self.pool.connection() as conn, conn.transaction():
            self._one_at_a_time(conn, remote_addr)
            wait = throttle.wait(conn, remote_addr, key)
            if wait:
                log.warning("login of %r from %s throttled for %.0f s (%s)", name[:64], remote_addr,
                            wait.left.total_seconds(), wait.reason)
                raise LoginRefused()  # nothing was written: the rollback loses nothing
            if possible:
                # never FOR UPDATE: a row lock held through the hash would queue the tries at an
                # existing name (and only there), telling which names exist by the time they take
                row = conn.execute("SELECT password_hash, active FROM users WHERE name = %s",
                                   (name,)).fetchone()
                with self.hash_slots.held():
                    right = verify_password(password, row[0] if row else _dummy_hash())
                    usable = row is not None and right and row[1]
                    stored = hash_password(password) if usable and needs_rehash(row[0]) else None
                if usable:
                    # written only if the password and the account did not change meanwhile
                    refused = conn.execute(
                        "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = %s, "
                        "password_hash = %s WHERE name = %s AND password_hash = %s AND active",
                        (now, stored or row[0], name, row[0]),
                    ).rowcount != 1
            if refused:
                throttle.failed(conn, remote_addr, key)
            else:
                throttle.succeeded(conn, remote_addr, key)
        if refused:
            raise LoginRefused()
        return next(u for u in self.users() if u.name == name)

    def _one_at_a_time(self, conn: psycopg.Connection, remote_addr: str | None) -> None:
        """Tries from one client address run one at a time (parallel guesses from one place queue
        up), waiting as long as for a hash slot at most: :class:`LoginBusy` past that. Unbounded, a
        flood of tries from one address held a web thread and a database connection each."""
        wait_ms = round(self.hash_slots.wait_s * 1000)
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{wait_ms}ms",))
        try:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ioc-login'), hashtext(%s))",
                         (remote_addr or "-",))
        except psycopg.errors.LockNotAvailable:  # the transaction is rolled back: nothing was counted
            raise LoginBusy(max(1, round(self.hash_slots.wait_s))) from None
        conn.execute("SELECT set_config('lock_timeout', '0', true)")  # the throttle's writes wait as before

    def start_session(
        self, user: User, remote_addr: str | None = None, user_agent: str | None = None
    ) -> tuple[str, Principal]:
        """A new session for ``user``: (the cookie's token, the principal with its CSRF token)."""
        now = self.clock()
        hours = self.settings.kiosk_session_hours if user.role == "viewer" else self.settings.session_hours
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + timedelta(hours=hours)
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO user_sessions (token_hash, username, csrf_token, created_at, last_seen_at, "
                "expires_at, "
                "remote_addr, user_agent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    token_hash(token),
                    user.name,
                    csrf,
                    now,
                    now,
                    expires,
                    remote_addr,
                    (user_agent or "")[:300],
                ),
            )
        return token, Principal(user.name, user.display_name, user.role, csrf, expires, user.language)

    def session(self, token: str | None, active: bool = True) -> Principal | None:
        """The principal of a live session, or ``None`` (unknown, revoked, expired, idle, user disabled).

        Only an ``active`` use (a person's request, not a page's timer) moves the session's last use
        on, so that a page left open still idles out; a kiosk's (viewer's) session moves on with
        every use, since a wall screen is never touched."""
        if not token:
            return None
        now = self.clock()
        idle = timedelta(minutes=self.settings.idle_minutes)
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT u.name, u.display_name, u.role, s.csrf_token, s.expires_at, s.last_seen_at, "
                "u.language "
                "FROM user_sessions s JOIN users u ON u.name = s.username "
                "WHERE s.token_hash = %s AND s.revoked_at IS NULL AND u.active AND s.expires_at > %s",
                (token_hash(token), now),
            ).fetchone()
            if row is None:
                return None
            name, display, role, csrf, expires, last_seen, language = row
            if role != "viewer" and now - last_seen > idle:
                return None
            renewed = False
            if now - last_seen >= TOUCH_EVERY and (active or role == "viewer"):
                if role == "viewer":  # a wall's kiosk session in use never expires mid-shift: it slides
                    expires = now + timedelta(hours=self.settings.kiosk_session_hours)
                    renewed = True
                conn.execute(
                    "UPDATE user_sessions SET last_seen_at = %s, expires_at = %s WHERE token_hash = %s",
                    (now, expires, token_hash(token)),
                )
        return Principal(name, display, role, csrf, expires, language, renewed)

    def end_session(self, token: str | None) -> None:
        """Log out: the session is revoked."""
        if token:
            with self.pool.connection() as conn:
                conn.execute(
                    "UPDATE user_sessions SET revoked_at = %s WHERE token_hash = %s AND revoked_at IS NULL",
                    (self.clock(), token_hash(token)),
                )


# --------------------------------------------------------------------------- the command


def read_password(stdin: IO[str], stdout: IO[str], confirm: bool = True, lang: str = "en") -> str:
    """The password from a prompt (twice) on a terminal, else the first line of standard input."""
    if stdin.isatty():
        first = getpass.getpass(gettext("alerts", "Password: ", lang))
        if confirm and getpass.getpass(gettext("alerts", "Again: ", lang)) != first:
            raise UserError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def users_command(
    pool: ConnectionPool,
    action: str,
    name: str | None = None,
    role: str | None = None,
    display_name: str = "",
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    language: str | None = None,
    lang: str = "en",
    tz: str = "UTC",
) -> int:
    """``ioc users add|list|passwd|disable|enable|language``; returns the exit status. It speaks
    ``lang`` (the command line's language) and writes times in ``tz`` (the city's zone)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    people = People(pool)

    def say(message: str, **params: Any) -> None:
        stdout.write(said(message, params, lang) + "\n")

    def words(*texts: str) -> list[str]:
        return [gettext("alerts", x, lang) for x in texts]

    try:
        if action == "list":
            name_h, role_h, active_h, last_h = words("name", "role", "active", "last login")
            stdout.write(f"{name_h:<20} {role_h:<14} {active_h:<7} {last_h}\n")
            yes, no, never = words("yes", "no", "never")
            for u in people.users():
                last = format_time(u.last_login_at, lang, tz, "short") if u.last_login_at else never
                role_w = gettext("alerts", label(u.role), lang)
                stdout.write(f"{u.name:<20} {role_w:<14} {yes if u.active else no:<7} {last}\n")
            return 0
        if not name:
            raise UserError("name the user")
        if action == "add":
            password = read_password(stdin, stdout, lang=lang)
            user = people.add_user(name, role or "viewer", password, display_name)
            say("added {name} ({role})", name=user.name, role=Term(label(user.role)))
        elif action == "passwd":
            people.set_password(name, read_password(stdin, stdout, lang=lang))
            say("password of {name} changed; their sessions ended", name=name)
        elif action == "language":
            people.set_language(name, None if language in (None, "", "none") else language)
            say("language of {name}: {language}", name=name, language=language or "none")
        elif action in ("disable", "enable"):
            people.set_active(name, action == "enable")
            say("{name} enabled" if action == "enable" else "{name} disabled", name=name)
        else:
            raise UserError("unknown action {action}", action=action)
    except UserError as exc:
        sys.stderr.write(said("ioc users: {error}", {"error": exc.text(lang)}, lang) + "\n")
        return 2
    return 0
