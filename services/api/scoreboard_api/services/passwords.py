"""Password hashes: argon2id at the configured cost, re-hashed on sign-in when the cost changes.

The default is OWASP's argon2id setting for a small working set (Password Storage Cheat Sheet:
m = 7 MiB, t = 5, p = 1; the same strength as its m = 19 MiB, t = 2 line). argon2-cffi's own
default (RFC 9106's second choice: 64 MiB, t = 3, p = 4) costs ~10 times the CPU and runs four
threads per hash, so the hashing pool's one-thread-per-client cap held nothing (what a login
burst costs `/top` follows the hashing CPU: docs/benchmarks.md, "Phase 4"). Hashes made with
other parameters still verify, and a successful sign-in replaces them with one at the current
cost.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from scoreboard_api.metrics import PASSWORD_REHASHES


class Passwords:
    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the user does not exist, so both paths cost the same time.
        self.dummy_hash = self._hasher.hash("not-a-real-password-0")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> tuple[bool, str | None]:
        """On a hashing thread: whether ``password`` matches ``stored``, and when it does and
        ``stored`` was made at another cost, its replacement at the current one."""
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        if self._hasher.check_needs_rehash(stored):
            PASSWORD_REHASHES.inc()
            return True, self._hasher.hash(password)
        return True, None
