"""Secrets sealed at rest: the boards' request-signing keys and webhook secrets are stored in
PostgreSQL encrypted, so a database dump, a replica or a backup does not hold them in the clear.

A sealed value is ``sealed:v1:<key id>:<base64url(nonce | ciphertext | tag)>``: libsodium's
XChaCha20-Poly1305 (PyNaCl's ``Aead``, a random 24-byte nonce per value) under a 32-byte key,
with the row it belongs to as associated data, so a sealed value copied into another row or
column does not open. The key id is the first 8 hex digits of the key's SHA-256.

Keys come from a file (``SECRETS_KEY_FILE``, the chart mounts it from a Secret): one base64 key
per line; the first seals, every one opens. Rotation: put a new key first, keep the old one
below it, restart; at start the api reseals every value that is not sealed with the first key
(and every value stored before sealing was on), then the old key can go.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from pathlib import Path

import nacl.exceptions
import nacl.secret
import nacl.utils

PREFIX = "sealed:v1:"
KEY_BYTES = nacl.secret.Aead.KEY_SIZE


class UnsealError(Exception):
    """A sealed value that cannot be opened: sealed with a key this process does not have, for
    another row, or damaged. The message names the key id, never the value."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def generate_key() -> str:
    """A new key, as a line of the key file."""
    return base64.b64encode(nacl.utils.random(KEY_BYTES)).decode()


class Sealer:
    """Seals and opens secrets; without keys (``Sealer([])``) it stores them as given."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"a sealing key is {KEY_BYTES} bytes, not {len(key)}")
        self._boxes = {key_id(key): nacl.secret.Aead(key) for key in keys}
        self.current = key_id(keys[0]) if keys else None

    @classmethod
    def from_file(cls, path: str | Path) -> Sealer:
        """The keys of a key file: one base64 key per line, blank lines and ``#`` comments
        ignored."""
        keys = []
        for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                keys.append(base64.b64decode(text, validate=True))
            except binascii.Error:
                raise ValueError(f"{path}, line {number}: not base64") from None
        if not keys:
            raise ValueError(f"{path} holds no key")
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return self.current is not None

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` sealed for ``context`` (the row it is stored in), or as given when no
        key is configured."""
        if self.current is None:
            return plaintext
        sealed = self._boxes[self.current].encrypt(plaintext.encode(), context.encode())
        return f"{PREFIX}{self.current}:{base64.urlsafe_b64encode(sealed).decode()}"

    def open(self, stored: str, context: str) -> str:
        """The plaintext of a stored value; a value stored before sealing was on is returned
        as it is."""
        if not stored.startswith(PREFIX):
            return stored
        kid, _, body = stored.removeprefix(PREFIX).partition(":")
        box = self._boxes.get(kid)
        if box is None:
            raise UnsealError(f"sealed with key {kid}, which is not in SECRETS_KEY_FILE")
        try:
            return box.decrypt(base64.urlsafe_b64decode(body), context.encode()).decode()
        except (nacl.exceptions.CryptoError, binascii.Error, ValueError):
            raise UnsealError(f"a value sealed with key {kid} does not open here") from None

    def needs_resealing(self, stored: str) -> bool:
        """Whether ``stored`` is not sealed with the current key (so a reseal would change it)."""
        if self.current is None:
            return False
        return not stored.startswith(f"{PREFIX}{self.current}:")
