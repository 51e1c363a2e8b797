"""Rules about credentials: the password policy, reserved usernames, and the arithmetic of
per-account login throttling (growing delays, never a permanent lock)."""

from __future__ import annotations

import math
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

from zxcvbn import zxcvbn

from scoreboard_api.domain.errors import ProblemError

# Names that would let a user pass for the platform or its staff. Compared case-folded and with
# the separators `._-` removed, so `Ad.Min` and `root_` are refused too.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "system",
        "sysadmin",
        "superuser",
        "moderator",
        "mod",
        "staff",
        "support",
        "security",
        "official",
        "scoreboard",
        "operator",
        "api",
        "service",
        "anonymous",
        "guest",
        "null",
        "none",
        "undefined",
        "owner",
        "webmaster",
        "postmaster",
        "hostmaster",
        "abuse",
        "noreply",
        "everyone",
        "here",
        "me",
    }
)
# zxcvbn's estimate looks at this many leading characters (its matching is superlinear);
# longer passwords are judged on their start, which is ample for a guessing estimate.
_ESTIMATE_CHARS = 64


def _skeleton(username: str) -> str:
    return "".join(ch for ch in username.casefold() if ch not in "._-")


def check_username(username: str) -> None:
    """Refuse reserved names and names without a letter or digit (``...``, ``---``)."""
    skeleton = _skeleton(username)
    if not skeleton or not any(ch.isalnum() for ch in skeleton):
        raise ProblemError(
            400, "username_reserved", "a username needs at least one letter or digit"
        )
    if skeleton in RESERVED_USERNAMES:
        raise ProblemError(400, "username_reserved", "this username is reserved")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 10
    min_strength: int = 2  # zxcvbn score 0..4; 0 turns the estimate off

    def check(self, password: str, username: str) -> None:
        """Raise 400 ``weak_password`` when ``password`` is too short, contains the username,
        or is guessable: on the common-password list, a keyboard pattern, a repeat... (the
        zxcvbn estimate, which ships those lists)."""
        text = unicodedata.normalize("NFKC", password)
        if len(text.strip()) < self.min_length:
            raise _weak(f"use at least {self.min_length} characters")
        folded, name = text.casefold(), username.casefold()
        if name and (folded == name or (len(name) >= 3 and name in folded)):
            raise _weak("the password must not contain the username")
        if self.min_strength > 0:
            estimate = zxcvbn(text[:_ESTIMATE_CHARS], user_inputs=[username])
            if int(estimate["score"]) < self.min_strength:
                raise _weak("this password is too common or too easy to guess")


def _weak(detail: str) -> ProblemError:
    return ProblemError(400, "weak_password", detail)


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """After ``free_failures`` consecutive failed logins an account's logins are refused for
    ``base_delay_seconds``, doubling with every further failure up to ``max_delay_seconds``.
    The count is forgotten ``forget_seconds`` after the last failure, and on a success."""

    free_failures: int = 5
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0
    forget_seconds: int = 900

    def delay_after(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        exponent = min(failures - self.free_failures, 32)
        return float(min(self.base_delay_seconds * 2**exponent, self.max_delay_seconds))


def login_throttled(retry_after_ms: float) -> ProblemError:
    return ProblemError(
        429,
        "login_throttled",
        "too many failed sign-ins for this account; wait before trying again",
        headers={"Retry-After": str(max(1, math.ceil(retry_after_ms / 1000)))},
    )


class MemoryLoginThrottle:
    """The same throttle per replica, used while Redis is unreachable (bounded, LRU)."""

    def __init__(self, rule: LoginThrottle, max_keys: int = 100_000) -> None:
        self.rule = rule
        self._state: OrderedDict[str, tuple[int, float]] = OrderedDict()  # failures, until
        self._max_keys = max_keys

    def _current(self, key: str, now_ms: float) -> tuple[int, float]:
        state = self._state.get(key)
        if state is None:
            return 0, 0.0
        failures, until_ms = state
        if now_ms > until_ms + self.rule.forget_seconds * 1000:
            del self._state[key]
            return 0, 0.0
        return failures, until_ms

    def blocked_ms(self, key: str, now_ms: float) -> float:
        return max(0.0, self._current(key, now_ms)[1] - now_ms)

    def failed(self, key: str, now_ms: float) -> float:
        failures = self._current(key, now_ms)[0] + 1
        delay_ms = self.rule.delay_after(failures) * 1000
        self._state[key] = (failures, now_ms + delay_ms)
        self._state.move_to_end(key)
        while len(self._state) > self._max_keys:
            self._state.popitem(last=False)
        return delay_ms

    def succeeded(self, key: str) -> None:
        self._state.pop(key, None)
