"""Credential rules: password policy, reserved names, login-throttle arithmetic."""

from __future__ import annotations

import pytest
from scoreboard_api.domain.credentials import (
    LoginThrottle,
    MemoryLoginThrottle,
    PasswordPolicy,
    check_username,
    login_throttled,
)
from scoreboard_api.domain.errors import ProblemError
from scoreboard_common.auth import display_name


@pytest.mark.parametrize(
    "password",
    ["short", "password", " " * 12, "1234567890", "qwertyuiop", "aaaaaaaaaaaa", "alice-alice-1"],
)
def test_weak_passwords(password: str) -> None:
    with pytest.raises(ProblemError) as refused:
        PasswordPolicy().check(password, "alice")
    assert (refused.value.status, refused.value.code) == (400, "weak_password")


@pytest.mark.parametrize("password", ["violet-Harbor-51-tundra", "correct horse battery staple"])
def test_strong_passwords(password: str) -> None:
    PasswordPolicy().check(password, "alice")


def test_strength_estimate_can_be_turned_off() -> None:
    PasswordPolicy(min_strength=0).check("1234567890", "alice")
    with pytest.raises(ProblemError):
        PasswordPolicy(min_strength=0).check("alice12345678", "alice")


@pytest.mark.parametrize("name", ["admin", "ROOT", "Ad.min", "root_", "system", "...", "-_-"])
def test_reserved_usernames(name: str) -> None:
    with pytest.raises(ProblemError) as refused:
        check_username(name)
    assert refused.value.code == "username_reserved"


@pytest.mark.parametrize("name", ["alice", "admin7", "root-beer", "a.b"])
def test_ordinary_usernames(name: str) -> None:
    check_username(name)


def test_delays_grow_then_cap() -> None:
    rule = LoginThrottle(free_failures=3, base_delay_seconds=1, max_delay_seconds=10)
    assert [rule.delay_after(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 10, 10]
    assert rule.delay_after(10_000) == 10


def test_memory_throttle_blocks_forgets_and_resets() -> None:
    rule = LoginThrottle(
        free_failures=2, base_delay_seconds=1, max_delay_seconds=60, forget_seconds=5
    )
    memory = MemoryLoginThrottle(rule, max_keys=2)
    assert memory.failed("a", 0) == 0 and memory.blocked_ms("a", 0) == 0
    assert memory.failed("a", 100) == 1000
    assert memory.blocked_ms("a", 600) == 500
    assert memory.failed("a", 1200) == 2000  # doubles
    assert memory.blocked_ms("a", 1200 + 2000 + 5001) == 0  # forgotten after the delay + 5 s
    assert memory.failed("a", 10_000) == 0  # counting starts again
    memory.succeeded("a")
    assert memory.blocked_ms("a", 10_000) == 0
    for key in ("b", "c", "d"):  # bounded: the oldest key goes
        memory.failed(key, 0)
    assert "b" not in memory._state


def test_throttled_problem_rounds_retry_after_up() -> None:
    problem = login_throttled(1200)
    assert (problem.status, problem.code, problem.headers["Retry-After"]) == (
        429,
        "login_throttled",
        "2",
    )
    assert login_throttled(1).headers["Retry-After"] == "1"


def test_display_names_from_claims_lose_bidi_and_invisible_characters() -> None:
    assert display_name("\u202eevil\u200b\u200d gnp.exe\u2066\ufeff") == "evil gnp.exe"
    assert display_name("  Ａlice \n\t Smith ") == "Alice Smith"  # noqa: RUF001 - NFKC
    assert display_name("\u200b\u200c") is None
    assert display_name(42) is None
    assert display_name("x" * 100) == "x" * 64
