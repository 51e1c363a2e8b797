"""Password hashes: the configured argon2id cost, old hashes still verify and get replaced."""

from __future__ import annotations

from argon2 import PasswordHasher, Type, extract_parameters
from scoreboard_api.services.passwords import Passwords
from scoreboard_api.settings import ApiSettings


def owasp() -> Passwords:
    fields = ApiSettings.model_fields
    return Passwords(
        memory_kib=int(fields["password_hash_memory_kib"].default),
        time_cost=int(fields["password_hash_time_cost"].default),
        parallelism=int(fields["password_hash_parallelism"].default),
    )


def test_the_default_is_owasps_small_memory_argon2id_on_one_lane() -> None:
    parameters = extract_parameters(owasp().hash("a passphrase"))
    assert parameters.type.name == "ID"
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (7168, 5, 1)


def test_a_current_hash_verifies_without_a_replacement() -> None:
    passwords = owasp()
    stored = passwords.hash("a passphrase")
    assert passwords.verify(stored, "a passphrase") == (True, None)
    assert passwords.verify(stored, "another one") == (False, None)
    assert passwords.verify("not a hash", "a passphrase") == (False, None)


def test_a_hash_at_another_cost_verifies_and_is_replaced_at_the_current_one() -> None:
    passwords = owasp()
    old = PasswordHasher().hash("a passphrase")  # argon2-cffi's default: 64 MiB, t=3, p=4
    ok, replacement = passwords.verify(old, "a passphrase")
    assert ok and replacement is not None
    assert extract_parameters(replacement).memory_cost == 7168
    assert passwords.verify(replacement, "a passphrase") == (True, None)
    # A wrong password never yields a replacement.
    assert passwords.verify(old, "another one") == (False, None)


def test_the_dummy_hash_costs_what_a_real_one_does() -> None:
    passwords = owasp()
    assert extract_parameters(passwords.dummy_hash) == extract_parameters(passwords.hash("x"))


def test_hashes_are_interchangeable_with_argon2_cffis() -> None:
    """libsodium makes the one-lane hashes; argon2-cffi made the stored ones before (and
    verifies them after a rollback): the same PHC strings, each verifies the other's."""
    passwords = owasp()
    ours = passwords.hash("a passphrase")
    assert PasswordHasher().verify(ours, "a passphrase")
    theirs = PasswordHasher(time_cost=5, memory_cost=7168, parallelism=1, type=Type.ID).hash(
        "a passphrase"
    )
    assert passwords.verify(theirs, "a passphrase") == (True, None)
    assert passwords.verify(theirs, "another one") == (False, None)


def test_several_lanes_are_still_hashed_and_verified() -> None:
    passwords = Passwords(memory_kib=2048, time_cost=1, parallelism=2)
    stored = passwords.hash("a passphrase")
    assert extract_parameters(stored).parallelism == 2
    assert passwords.verify(stored, "a passphrase") == (True, None)
    assert passwords.verify(stored, "another one") == (False, None)


def test_another_argon2_type_verifies_and_is_replaced_by_argon2id() -> None:
    passwords = owasp()
    old = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1, type=Type.I).hash("pw")
    ok, replacement = passwords.verify(old, "pw")
    assert ok and replacement is not None
    assert extract_parameters(replacement).type is Type.ID
    assert passwords.verify(old, "not it") == (False, None)


def test_a_malformed_argon2id_string_is_a_mismatch_not_an_error() -> None:
    passwords = owasp()
    assert passwords.verify("$argon2id$v=19$m=7168,t=5,p=1$bad", "pw") == (False, None)
    assert passwords.verify("$argon2id$" + "x" * 200, "pw") == (False, None)
