"""Password hashes: argon2id at the configured cost, re-hashed on sign-in when the cost changes.

The default is OWASP's argon2id setting for a small working set (Password Storage Cheat Sheet:
m = 7 MiB, t = 5, p = 1; the same strength as its m = 19 MiB, t = 2 line). argon2-cffi's own
default (RFC 9106's second choice: 64 MiB, t = 3, p = 4) costs ~10 times the CPU and runs four
threads per hash, so the hashing pool's one-thread-per-client cap held nothing (what a login
burst costs `/top` follows the hashing CPU: docs/benchmarks.md, "Phase 4"). Hashes made with
other parameters still verify, and a successful sign-in replaces them with one at the current
cost.

argon2id hashes are computed by libsodium (PyNaCl), which fills Argon2's memory blocks with the
widest vector instructions the CPU has (AVX-512 or AVX2, chosen at run time): about half the CPU
of argon2-cffi's SSE2 build for the same parameters and the same PHC string
(docs/benchmarks.md, "Phase 5"). libsodium makes one-lane hashes only, so argon2-cffi still
makes hashes with PASSWORD_HASH_PARALLELISM above 1, verifies hashes of other Argon2 types, and
reads the parameters of a stored hash to decide whether it needs replacing.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.pwhash
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from scoreboard_api.metrics import PASSWORD_REHASHES

_ARGON2ID = nacl.pwhash.argon2id.STRPREFIX.decode()  # "$argon2id$"


class Passwords:
    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the user does not exist, so both paths cost the same time.
        self.dummy_hash = self.hash("not-a-real-password-0")

    def hash(self, password: str) -> str:
        hasher = self._hasher
        if hasher.parallelism != 1:
            return hasher.hash(password)
        return nacl.pwhash.argon2id.str(
            password.encode(), opslimit=hasher.time_cost, memlimit=hasher.memory_cost * 1024
        ).decode()

    def verify(self, stored: str, password: str) -> tuple[bool, str | None]:
        """On a hashing thread: whether ``password`` matches ``stored``, and when it does and
        ``stored`` was made at another cost, its replacement at the current one."""
        if not self._matches(stored, password):
            return False, None
        if self._hasher.check_needs_rehash(stored):
            PASSWORD_REHASHES.inc()
            return True, self.hash(password)
        return True, None

    def _matches(self, stored: str, password: str) -> bool:
        if stored.startswith(_ARGON2ID):
            try:
                return nacl.pwhash.argon2id.verify(stored.encode(), password.encode())
            except nacl.exceptions.CryptoError:  # wrong password, or not a well-formed hash
                return False
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
