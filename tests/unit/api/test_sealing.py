"""Sealing secrets at rest (``scoreboard_api.adapters.sealing``)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from scoreboard_api.adapters.sealing import PREFIX, Sealer, UnsealError, generate_key, key_id


def _key() -> bytes:
    return secrets.token_bytes(32)


def test_a_sealed_value_opens_in_its_own_context_only() -> None:
    sealer = Sealer([_key()])
    sealed = sealer.seal("hunter2-hunter2", "board_webhooks.secret:a")
    assert sealed.startswith(f"{PREFIX}{sealer.current}:") and "hunter2" not in sealed
    assert sealer.seal("hunter2-hunter2", "board_webhooks.secret:a") != sealed  # fresh nonce
    assert sealer.open(sealed, "board_webhooks.secret:a") == "hunter2-hunter2"
    with pytest.raises(UnsealError):  # copied into another board's row
        sealer.open(sealed, "board_webhooks.secret:b")
    damaged = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(UnsealError):
        sealer.open(damaged, "board_webhooks.secret:a")


def test_rotation_keeps_old_values_open_and_marks_them_for_resealing() -> None:
    old, new = _key(), _key()
    sealed_old = Sealer([old]).seal("v", "c")
    rotated = Sealer([new, old])
    assert rotated.current == key_id(new)
    assert rotated.open(sealed_old, "c") == "v"
    assert rotated.needs_resealing(sealed_old)
    assert not rotated.needs_resealing(rotated.seal("v", "c"))
    assert rotated.needs_resealing("stored before sealing")
    with pytest.raises(UnsealError, match=key_id(old)):
        Sealer([new]).open(sealed_old, "c")


def test_without_keys_values_are_stored_as_given() -> None:
    sealer = Sealer([])
    assert not sealer.enabled
    assert sealer.seal("plain", "c") == "plain"
    assert sealer.open("plain", "c") == "plain"
    assert not sealer.needs_resealing("plain")
    assert Sealer([_key()]).open("stored before sealing", "c") == "stored before sealing"


def test_key_file(tmp_path: Path) -> None:
    first, second = generate_key(), generate_key()
    path = tmp_path / "keys"
    path.write_text(f"# current\n{first}\n\n{second}\n")
    sealer = Sealer.from_file(path)
    assert sealer.current == key_id(base64.b64decode(first))
    # Every key in the file opens what it sealed.
    assert sealer.open(Sealer([base64.b64decode(second)]).seal("v", "c"), "c") == "v"
    path.write_text("not base64!\n")
    with pytest.raises(ValueError, match="line 1"):
        Sealer.from_file(path)
    path.write_text(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer.from_file(path)
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no key"):
        Sealer.from_file(path)
