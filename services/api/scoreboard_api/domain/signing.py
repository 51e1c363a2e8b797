"""Request signatures (DESIGN §3, seed 003): HMAC-SHA256 with a board's keys, by key id.

Two carriers of the same check:

* v1: header ``X-Signature: keyId=<id>,sig=<base64url HMAC-SHA256(key, raw body)>``;
* seed 003: the body's ``signature`` member, over the body without ``signature`` as canonical
  JSON (sorted keys, no whitespace, UTF-8), and the key id in header ``X-Signature-Key``.

Keys never leave the api: :class:`SigningKeys` does not show them in ``repr`` (logs, tracebacks).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scoreboard_common.policy import signing_keys_fingerprint

from scoreboard_api.domain.errors import bad_signature


class SigningKeys:
    """A board's keys by id. ``repr`` shows only how many there are."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[str, str] | None = None) -> None:
        self._keys = {key_id: value.encode() for key_id, value in (keys or {}).items()}

    @classmethod
    def from_json(cls, raw: str | None) -> SigningKeys:
        if not raw:
            return cls()
        decoded = json.loads(raw)
        if not isinstance(decoded, dict):
            return cls()
        return cls({str(k): str(v) for k, v in decoded.items()})

    def get(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def fingerprint(self) -> str | None:
        """``signing_keys_fingerprint`` of these keys (what the admin stats report), or None
        without keys."""
        if not self._keys:
            return None
        return signing_keys_fingerprint({k: v.decode() for k, v in self._keys.items()})

    def __repr__(self) -> str:
        return f"SigningKeys(<{len(self._keys)} redacted>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningKeys) and self._keys == other._keys

    def __hash__(self) -> int:
        return hash(frozenset(self._keys))


@dataclass(frozen=True, slots=True)
class Signature:
    """What a request presented: the key id, the signature text and the signed bytes.
    ``key_id``/``sig`` are None when the request carried none."""

    key_id: str | None
    sig: str | None
    message: bytes = field(repr=False)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (what seed 003 signs)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: bytes, message: bytes) -> str:
    """base64url (no padding) of HMAC-SHA256(key, message)."""
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def from_header(value: str | None, body: bytes) -> Signature:
    """Parse ``X-Signature: keyId=<id>,sig=<base64url>`` (absent or garbled: no signature)."""
    parts: dict[str, str] = {}
    for item in (value or "").split(","):
        name, sep, text = item.strip().partition("=")
        if sep:
            # base64 padding may end the value with '=': keep everything after the first '='.
            parts[name.strip()] = text.strip()
    return Signature(parts.get("keyId") or None, parts.get("sig") or None, body)


def from_body_member(document: Mapping[str, Any], member: str, key_id: str | None) -> Signature:
    """Seed 003: the signature in ``document[member]``, over the rest as canonical JSON."""
    sig = document.get(member)
    rest = {k: v for k, v in document.items() if k != member}
    return Signature(
        key_id or None, sig if isinstance(sig, str) and sig else None, canonical_json(rest)
    )


def _decode(sig: str) -> bytes | None:
    text = sig.strip().replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def check(keys: SigningKeys, required: bool, signature: Signature) -> None:
    """Raise 401 ``bad_signature`` unless ``signature`` is acceptable.

    Required: a signature by a known key must match. Not required: a board with keys still
    verifies a signature that is presented; a board without keys ignores signatures."""
    if signature.sig is None or signature.key_id is None:
        if required:
            raise bad_signature("this leaderboard requires signed submissions")
        return
    if not required and not len(keys):
        return
    key = keys.get(signature.key_id)
    if key is None:
        raise bad_signature("unknown signing key")
    given = _decode(signature.sig)
    expected = hmac.new(key, signature.message, hashlib.sha256).digest()
    if given is None or not hmac.compare_digest(expected, given):
        raise bad_signature("the signature does not match the request")
