"""Login throttling: growing delays for whoever sends wrong passwords, never a lock on the account.

OWASP's authentication guidance: slow guessing down without letting an
outsider keep the real user out. So the delays fall on the guesser:

- per client address and name tried: after ``free_tries_per_account``
  failures the address waits ``delay_seconds`` before its next try at that
  name, doubling with each further failure up to ``max_delay_seconds``;
- per client address, all names together: the same after
  ``free_tries_per_address`` failures (one address trying many names);
- per name, from many addresses (a botnet): once wrong passwords for one name
  came from ``spread_addresses`` addresses, addresses that never had a session
  of that user (in ``known_address_days``) wait too, after
  ``free_tries_per_spread_account`` failures in all. The user's own
  workstations are never slowed by others' failures.

A waiting client is refused without its password being checked (a guess
during the wait tells nothing), with the same message as a wrong password.
Failures are forgotten after ``forget_minutes`` without one; a successful
login forgets that address's failures at that name. State lives in the
``login_failures`` table, so every web worker sees the same counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from alerts.settings import AuthSettings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NO_ADDRESS = "-"  # a login not made over HTTP (no client address known)
NAME_CHARS = 64


def growing_delay(failures: int, free: int, settings: AuthSettings) -> timedelta:
    """How long to wait after ``failures`` failures of which ``free`` cost nothing: doubling, capped."""
    if failures < free:
        return timedelta(0)
    seconds = settings.delay_seconds * 2.0 ** min(failures - free, 32)
    return timedelta(seconds=min(seconds, settings.max_delay_seconds))


@dataclass(frozen=True)
class Wait:
    """How long a client must still wait before trying a name, and why (for the log)."""

    left: timedelta
    reason: str = ""

    def __bool__(self) -> bool:
        return self.left > timedelta(0)


class LoginThrottle:
    """Counts failed logins per (address, name) in the store and says who must wait."""

    def __init__(self, settings: AuthSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    @staticmethod
    def _key(addr: str | None, name: str) -> tuple[str, str]:
        return (addr or NO_ADDRESS), name[:NAME_CHARS]

    def wait(self, conn: psycopg.Connection, addr: str | None, name: str) -> Wait:
        """The time ``addr`` must still wait before its next try at ``name`` (zero: go ahead)."""
        s, now = self.settings, self.clock()
        addr, name = self._key(addr, name)
        since = now - timedelta(minutes=s.forget_minutes)
        waits = [Wait(timedelta(0))]
        rows = conn.execute(
            "SELECT username, failures, last_failure_at FROM login_failures "
            "WHERE remote_addr = %s AND last_failure_at > %s",
            (addr, since),
        ).fetchall()
        if rows:
            pair = next((r for r in rows if r[0] == name), None)
            if pair is not None:
                left = pair[2] + growing_delay(pair[1], s.free_tries_per_account, s) - now
                waits.append(Wait(left, f"{pair[1]} failures from {addr} at this name"))
            total, last = sum(r[1] for r in rows), max(r[2] for r in rows)
            left = last + growing_delay(total, s.free_tries_per_address, s) - now
            waits.append(Wait(left, f"{total} failures from {addr}"))
        spread, total, last = conn.execute(
            "SELECT count(*), coalesce(sum(failures), 0), max(last_failure_at) FROM login_failures "
            "WHERE username = %s AND last_failure_at > %s",
            (name, since),
        ).fetchone()
        if spread >= s.spread_addresses and not self._known(conn, addr, name, now):
            left = last + growing_delay(total, s.free_tries_per_spread_account, s) - now
            waits.append(Wait(left, f"{total} failures at this name from {spread} addresses"))
        return max(waits, key=lambda w: w.left)

    def _known(self, conn: psycopg.Connection, addr: str, name: str, now: datetime) -> bool:
        """Whether ``name`` had a session from ``addr`` lately (one of the user's own workstations)."""
        row = conn.execute(
            "SELECT 1 FROM user_sessions WHERE username = %s AND remote_addr = %s AND created_at > %s "
            "LIMIT 1",
            (name, addr, now - timedelta(days=self.settings.known_address_days)),
        ).fetchone()
        return row is not None

    def failed(self, conn: psycopg.Connection, addr: str | None, name: str) -> None:
        """Count a failed login of ``addr`` at ``name`` (and forget failures past the window)."""
        now = self.clock()
        since = now - timedelta(minutes=self.settings.forget_minutes)
        conn.execute("DELETE FROM login_failures WHERE last_failure_at <= %s", (since,))
        conn.execute(
            "INSERT INTO login_failures (remote_addr, username, failures, last_failure_at) "
            "VALUES (%s, %s, 1, %s) ON CONFLICT (remote_addr, username) DO UPDATE SET "
            "failures = login_failures.failures + 1, last_failure_at = excluded.last_failure_at",
            (*self._key(addr, name), now),
        )

    def succeeded(self, conn: psycopg.Connection, addr: str | None, name: str) -> None:
        """A right password: forget this address's failures at this name."""
        conn.execute(
            "DELETE FROM login_failures WHERE remote_addr = %s AND username = %s", self._key(addr, name)
        )
