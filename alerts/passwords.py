"""Passwords: salted scrypt hashes at OWASP's cost, and the slots that bound how many are computed at
once in a process (each costs ~128 MB and a core for a fraction of a second)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1  # OWASP Password Storage Cheat Sheet: N=2^17, r=8, p=1
MAX_SCRYPT_N = 2**20  # a stored hash asking for more is refused, not computed
HASH_SLOTS = 2  # password hashes at once per process (each ~128 MB): attackers cannot take every thread
HASH_SLOT_WAIT_S = 5.0  # how long a login waits for a free slot before it is answered "busy"
# (the defaults of ``[alerts.auth] hash_slots`` and ``hash_slot_wait_seconds``)


class LoginBusy(Exception):
    """Every password-hash slot stayed taken: the login was neither tried nor counted; try again soon."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"every password-hash slot is busy: try again in {retry_after_s} s")


class HashSlots:
    """At most ``size`` password hashes at once; a login waits ``wait_s`` at most for a slot."""

    def __init__(self, size: int = HASH_SLOTS, wait_s: float = HASH_SLOT_WAIT_S) -> None:
        self.size = size
        self.wait_s = wait_s
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def held(self) -> Iterator[None]:
        """A slot for the duration of the block, or :class:`LoginBusy` when none frees in time."""
        if not self._free.acquire(timeout=self.wait_s):
            raise LoginBusy(max(1, round(self.wait_s)))
        try:
            yield
        finally:
            self._free.release()

    @classmethod
    def of_process(cls, size: int = HASH_SLOTS, wait_s: float = HASH_SLOT_WAIT_S) -> HashSlots:
        """The slots every :class:`People` of this process with these settings shares (the memory is
        the process's, whoever asks)."""
        with _PROCESS_SLOTS_LOCK:
            return _PROCESS_SLOTS.setdefault((size, wait_s), cls(size, wait_s))


_PROCESS_SLOTS: dict[tuple[int, float], HashSlots] = {}
_PROCESS_SLOTS_LOCK = threading.Lock()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _maxmem(n: int, r: int, p: int) -> int:
    """Memory scrypt needs for these parameters (128·r·(N+p) bytes), with room to spare."""
    return 128 * r * (n + p + 2) + (1 << 20)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of ``password`` in ``scrypt$N$r$p$salt$hash`` form."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=_maxmem(n, r, p))
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time comparison)."""
    try:
        scheme, n_, r_, p_, salt, digest = stored.split("$")
        n, r, p = int(n_), int(r_), int(p_)
        if scheme != "scrypt" or n > MAX_SCRYPT_N or r > 32 or p > 16:
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=n, r=r, p=p, dklen=len(want),
            maxmem=_maxmem(n, r, p),
        )
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(got, want)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with other parameters than the current ones (a lower cost)."""
    return not stored.startswith(f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$")


def _dummy_hash() -> str:
    """A hash checked when the user does not exist: the same work as for a real one.

    Made once, at import, of random salt and digest at the current cost (no hash is computed to
    make it: the first login of a missing name costs one hash, as every later one)."""
    return _DUMMY_HASH


_DUMMY_HASH = (f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
               f"{_b64(secrets.token_bytes(16))}${_b64(secrets.token_bytes(32))}")
