"""Plain-Python rules of the api: policy, scoring, rate-limit arithmetic, fraud, tokens, IPs."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import msgspec
import pytest
from scoreboard_api.domain.errors import Invalid
from scoreboard_api.domain.fraud import FraudCounters, evaluate, rejects
from scoreboard_api.domain.policy import BoardPut, spec_of
from scoreboard_api.domain.ratelimit import (
    Limit,
    MemoryLimiter,
    gcra,
    most_restrictive,
    policy_header,
    ratelimit_header,
)
from scoreboard_api.domain.scoring import (
    Submission,
    check_clock_skew,
    resolve_increment,
    same_payload,
)
from scoreboard_api.domain.tokens import (
    TokenIssuer,
    generate_private_key_pem,
    hash_refresh_token,
    new_refresh_token,
    user_id_for_subject,
)
from scoreboard_api.http.middleware import TrustedProxies, client_ip
from scoreboard_common.auth import jwk_thumbprint
from scoreboard_common.events import ScoreChanged, decode_event, score_changed_template
from scoreboard_common.policy import BoardSpec, decode_spec, encode_spec


def test_spec_defaults_and_cr_names() -> None:
    spec = decode_spec(b"{}")
    assert spec.size == 10
    assert spec.rate_limit.per_user.limit == 10
    assert spec.rate_limit.per_ip.window_seconds == 3600
    assert spec.fraud.on_violation == "flag"
    raw = msgspec.json.decode(encode_spec(spec))
    assert raw["rateLimit"]["perIP"] == {"limit": 100, "windowSeconds": 3600}
    assert raw["clockSkewSeconds"] == 300
    put = msgspec.json.decode(
        b'{"size": 5, "rateLimit": {"perIP": {"limit": 7, "windowSeconds": 9}}, "generation": 4,'
        b' "season": null, "deletionPolicy": "Delete"}',
        type=BoardPut,
    )
    assert put.generation == 4
    assert spec_of(put).rate_limit.per_ip.limit == 7
    assert isinstance(spec_of(put), BoardSpec)


@pytest.mark.parametrize(
    "body",
    [
        b'{"sise": 5}',
        b'{"size": 0}',
        b'{"size": 101}',
        b'{"writers": ["robots"]}',
        b'{"fraud": {"onViolation": "ban"}}',
        b'{"displayName": "a\\u0000b"}',
        b'{"size": "5"}',
    ],
)
def test_spec_is_strict(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_spec(body)


def test_increment_rules() -> None:
    free = decode_spec(b'{"scoring": {"maxIncrement": 10}}')
    assert resolve_increment(free, None, 10) == 10
    for bad in (None, 0, 11):
        with pytest.raises(Invalid) as caught:
            resolve_increment(free, None, bad)
        assert caught.value.code == "validation_error"
    actions = decode_spec(b'{"scoring": {"actions": {"win": 10}}}')
    assert resolve_increment(actions, "win", None) == 10
    assert resolve_increment(actions, "win", 10) == 10
    for action, increment in ((None, 5), ("lose", None), ("win", 3)):
        with pytest.raises(Invalid):
            resolve_increment(actions, action, increment)


def test_clock_skew() -> None:
    spec = decode_spec(b'{"clockSkewSeconds": 30}')
    now = datetime.now(UTC)
    check_clock_skew(spec, now - timedelta(seconds=29), now)
    check_clock_skew(spec, now + timedelta(seconds=29), now)
    for delta in (31, -31):
        with pytest.raises(Invalid) as caught:
            check_clock_skew(spec, now + timedelta(seconds=delta), now)
        assert caught.value.code == "timestamp_out_of_range"


def test_gcra_allows_a_burst_of_limit_then_one_per_interval() -> None:
    limit = Limit("user", 3, 60)
    tat: float | None = None
    decisions = []
    for _ in range(4):
        decision, tat = gcra(tat, 0.0, limit)
        decisions.append(decision)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after_seconds == 20
    later, _ = gcra(tat, 20_000.0, limit)
    assert later.allowed


def test_memory_limiter_is_bounded_and_per_key() -> None:
    limiter = MemoryLimiter(max_keys=2)
    limit = Limit("fallback", 1, 60)
    assert limiter.hit("a", limit, 0).allowed
    assert not limiter.hit("a", limit, 1).allowed
    assert limiter.hit("b", limit, 1).allowed
    assert limiter.hit("c", limit, 1).allowed  # evicts "a"
    assert limiter.hit("a", limit, 2).allowed


def test_rate_limit_headers() -> None:
    user, ip = Limit("user", 10, 60), Limit("ip", 100, 3600)
    assert policy_header([user, ip]) == '"user";q=10;w=60, "ip";q=100;w=3600'
    allowed_user, _ = gcra(None, 0, user)
    allowed_ip, _ = gcra(None, 0, ip)
    assert ratelimit_header(most_restrictive([allowed_user, allowed_ip])) == '"user";r=9;t=6'


def test_fraud_rules() -> None:
    spec = decode_spec(
        b'{"fraud": {"maxPointsPerMinute": 100, "burstCount": 3, "maxReplaysPerMinute": 2,'
        b' "onViolation": "reject"}}'
    ).fraud
    assert evaluate(spec, FraudCounters(90, 0, 0), 10, replay=False) == []
    hits = evaluate(spec, FraudCounters(95, 2, 0), 10, replay=False)
    assert {h.rule for h in hits} == {"points_per_minute", "timestamp_burst"}
    assert rejects(hits)
    assert evaluate(spec, FraudCounters(0, 0, 2), 1, replay=True) == []
    assert [h.rule for h in evaluate(spec, FraudCounters(0, 0, 3), 1, replay=True)] == [
        "replay_storm"
    ]


def test_tokens_and_thumbprint() -> None:
    # RFC 7638 §3.1 example is RSA; check the EC form against the definition instead.
    jwk = {"kty": "EC", "crv": "P-256", "x": "abc", "y": "def", "kid": "ignored"}
    import base64
    import hashlib

    expected = base64.urlsafe_b64encode(
        hashlib.sha256(b'{"crv":"P-256","kty":"EC","x":"abc","y":"def"}').digest()
    ).rstrip(b"=")
    assert jwk_thumbprint(jwk) == expected.decode()
    issuer = TokenIssuer(generate_private_key_pem(), issuer="iss", audience="aud")
    token = issuer.issue(subject="s", username="u", scopes=["a", "b"], ttl_seconds=60)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": issuer.kid, "typ": "JWT"}
    claims = jwt.decode(
        token, jwt.PyJWK(issuer.jwk).key, algorithms=["ES256"], audience="aud", issuer="iss"
    )
    assert claims["scope"] == "a b"
    assert claims["exp"] - claims["nbf"] == 60
    token_text, digest = new_refresh_token()
    assert hash_refresh_token(token_text) == digest
    assert len(token_text) >= 40


def test_external_subjects_map_to_stable_uuids() -> None:
    known = str(uuid.uuid4())
    assert user_id_for_subject(known, "https://idp") == known
    mapped = user_id_for_subject("alice", "https://idp")
    assert mapped == user_id_for_subject("alice", "https://idp")
    assert mapped != user_id_for_subject("alice", "https://other-idp")
    assert uuid.UUID(mapped).version == 5


def _scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1234), "headers": headers}


def test_client_ip_ignores_forwarded_for_unless_the_peer_is_trusted() -> None:
    trusted = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))
    assert client_ip(_scope("203.0.113.9", "1.2.3.4"), trusted) == "203.0.113.9"
    assert client_ip(_scope("203.0.113.9", "1.2.3.4"), TrustedProxies()) == "203.0.113.9"
    assert client_ip(_scope("10.1.2.3", "1.2.3.4"), trusted) == "1.2.3.4"
    # The right-most untrusted hop wins: a client cannot prepend a fake address.
    assert client_ip(_scope("10.1.2.3", "6.6.6.6, 1.2.3.4, 10.9.9.9"), trusted) == "1.2.3.4"
    assert client_ip(_scope("10.1.2.3", "garbage"), trusted) == "10.1.2.3"
    assert client_ip(_scope("10.1.2.3"), trusted) == "10.1.2.3"


def test_score_event_template_round_trip() -> None:
    event = ScoreChanged(
        board="b",
        season=2,
        version=0,
        user_id="u",
        username='x"version":1',
        total=9,
        rank=None,
        increment=1,
        traceparent="00-abc-def-01",
    )
    head, middle, tail = score_changed_template(event)
    decoded = decode_event(head + b"123456789012345" + middle + b"4" + tail)
    assert decoded == msgspec.structs.replace(event, version=123456789012345, rank=4)


def test_a_replay_is_the_same_payload_only_with_the_same_fields() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    first = Submission("a-1", at, "win", None, "u1")
    stored = ("u1", "win", 10, at, None)
    assert same_payload(stored, first, 10)
    assert not same_payload(stored, first, 11)
    assert not same_payload(("u2", "win", 10, at, None), first, 10)
    # Metadata is part of the payload.
    tagged = Submission("a-1", at, "win", None, "u1", metadata={"map": "x"})
    assert not same_payload(stored, tagged, 10)
    assert same_payload(("u1", "win", 10, at, {"map": "x"}), tagged, 10)
    later = Submission("a-1", at + timedelta(seconds=1), "win", None, "u1")
    assert not same_payload(stored, later, 10)
    # A timestamp the server assigned (seed routes) is not part of the payload.
    seed = Submission("a-1", at + timedelta(seconds=1), "win", None, "u1", server_timestamp=True)
    assert same_payload(stored, seed, 10)


def test_trusted_proxies_judge_each_peer_once_and_stay_bounded() -> None:
    trusted = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))
    assert "10.1.2.3" in trusted
    assert "10.1.2.3" in trusted  # the kept verdict
    assert "203.0.113.9" not in trusted
    assert "not an address" not in trusted
    for n in range(5000):
        assert f"192.0.2.{n % 256}-{n}" not in trusted
    assert len(trusted._verdicts) <= 4096
    assert "10.200.0.1" in trusted


def test_security_headers_are_added_once_and_a_handlers_own_are_kept() -> None:
    from scoreboard_api.http.middleware import _decorate

    rid = (b"x-request-id", b"r1")
    plain = _decorate([(b"content-type", b"application/json")], False, rid)
    names = [name for name, _ in plain]
    assert names.count(b"x-content-type-options") == 1 and rid in plain
    assert (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'") in plain
    assert b"cache-control" not in names
    own = _decorate(iter([(b"Content-Type", b"text/html"), (b"Cache-Control", b"max-age=1")]), True)
    names = [bytes(name).lower() for name, _ in own]
    assert names.count(b"cache-control") == 1  # the handler's, not no-store on top
    assert (b"content-security-policy", b"frame-ancestors 'none'") in own
    assert names.count(b"x-frame-options") == 1
    assert (b"cache-control", b"no-store") in _decorate([], True)
