"""The operator's drift check on request-signing keys: the api reports a fingerprint of the
keys it holds, the operator compares it with the keys its Secret holds now."""

from __future__ import annotations

from scoreboard_api.domain.signing import SigningKeys
from scoreboard_common.policy import signing_keys_fingerprint
from scoreboard_operator.domain.spec import signing_keys_drift

KEYS = {"k1": "first-key-material", "k2": "second-key-material"}


def test_the_api_and_the_operator_fingerprint_the_same_keys_alike() -> None:
    # The api fingerprints the keys it loaded; key order does not matter.
    loaded = SigningKeys.from_json('{"k2": "second-key-material", "k1": "first-key-material"}')
    assert loaded.fingerprint() == signing_keys_fingerprint(KEYS)
    assert SigningKeys().fingerprint() is None
    # It depends on every id and every key, and shows neither.
    fingerprint = signing_keys_fingerprint(KEYS)
    assert fingerprint != signing_keys_fingerprint({**KEYS, "k2": "rotated"})
    assert fingerprint != signing_keys_fingerprint({"k1": KEYS["k1"], "k3": KEYS["k2"]})
    assert fingerprint != signing_keys_fingerprint({"k1": KEYS["k1"]})
    assert not any(part in fingerprint for part in (*KEYS, *KEYS.values()))


def test_signing_keys_drift() -> None:
    stored = signing_keys_fingerprint(KEYS)
    assert signing_keys_drift(stored, KEYS) is None
    assert signing_keys_drift(stored, {**KEYS, "k2": "rotated"}) is not None  # rotated Secret
    # Keys the api cannot open (a lost sealing key) are reported as none: put again.
    assert signing_keys_drift(None, KEYS) is not None
    assert signing_keys_drift(stored, None) is not None  # signing removed from the spec
    assert signing_keys_drift(None, None) is None
    assert signing_keys_drift(None, {}) is None
    assert signing_keys_drift(42, KEYS) is not None  # not a fingerprint: put again
