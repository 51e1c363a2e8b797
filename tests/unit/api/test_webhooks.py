"""Season webhook rules: signature, retry schedule, the state after an attempt."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from scoreboard_api.domain.policy import BoardPut, WebhookTarget, spec_of
from scoreboard_api.domain.webhooks import (
    NextState,
    Outcome,
    after_attempt,
    delivery_id,
    retry_delay,
    signature,
    signature_header,
    verify,
)

SECRET = "a-secret-of-24-characters"
BODY = b'{"board":"b","season":1}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1700000000, BODY) == expected
    assert signature_header(SECRET, 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_verify_refuses_other_secret_body_timestamp_and_old_ones() -> None:
    header = signature_header(SECRET, 1700000000, BODY)
    assert verify(SECRET, header, BODY)
    assert verify(SECRET, header, BODY, now=1700000100)
    assert not verify(SECRET, header, BODY, now=1700000000 + 301)
    assert not verify(SECRET + "x", header, BODY)
    assert not verify(SECRET, header, BODY + b" ")
    assert not verify(SECRET, header.replace("t=1700000000", "t=1700000001"), BODY)
    assert not verify(SECRET, "v1=abc", BODY)
    assert not verify(SECRET, "", BODY)


def test_delivery_id_is_board_and_season() -> None:
    assert delivery_id("weekly", 42) == "weekly:42"


def test_retry_delay_doubles_with_equal_jitter_up_to_the_cap() -> None:
    lows = [retry_delay(n, base=30, cap=3600, rand=lambda: 0.0) for n in range(1, 10)]
    highs = [retry_delay(n, base=30, cap=3600, rand=lambda: 1.0) for n in range(1, 10)]
    assert highs == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert lows == [h / 2 for h in highs]
    assert 15 <= retry_delay(1, base=30, cap=3600) <= 30
    assert retry_delay(10_000, base=30, cap=3600, rand=lambda: 1.0) == 3600  # no overflow
    assert retry_delay(0, base=1, cap=10, rand=lambda: 1.0) == 1


def test_schedule_spans_a_day_in_a_few_dozen_attempts() -> None:
    """With the defaults (30 s, capped at 1 h) a receiver that is down for 24 h gets about 30
    attempts, the last one at the deadline."""
    created = datetime(2025, 1, 1, tzinfo=UTC)
    now, attempts = created, 0
    while True:
        attempts += 1
        state = after_attempt(
            Outcome(503),
            attempts=attempts,
            created_at=created,
            now=now,
            base=30,
            cap=3600,
            max_age=86400,
            rand=lambda: 1.0,
        )
        if state.status == "failed":
            break
        assert state.status == "pending" and state.next_attempt_at is not None
        assert state.next_attempt_at <= created + timedelta(days=1)
        now = state.next_attempt_at
    assert now == created + timedelta(days=1)
    assert 25 <= attempts <= 35
    assert state.last_error == "HTTP 503"


def _after(outcome: Outcome, attempts: int, seconds_later: float = 0) -> NextState:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    return after_attempt(
        outcome,
        attempts=attempts,
        created_at=created,
        now=created + timedelta(seconds=seconds_later),
        base=1.0,
        cap=10.0,
        max_age=60.0,
    )


def test_after_attempt_outcomes() -> None:
    delivered = _after(Outcome(204), 3)
    assert (delivered.status, delivered.last_error) == ("delivered", None)
    refused = _after(Outcome(None, "ConnectError: refused"), 1)
    assert refused.status == "pending" and refused.last_error == "ConnectError: refused"
    redirect = _after(Outcome(302, "redirects are not followed"), 1)
    assert redirect.status == "pending"
    assert redirect.last_error == "HTTP 302: redirects are not followed"
    late = _after(Outcome(500), 9, seconds_later=61)
    assert late.status == "failed" and late.next_attempt_at is None
    assert _after(Outcome(None), 1).last_error == "no response"


def test_webhook_target_is_private_and_never_printed() -> None:
    put = msgspec.json.decode(
        b'{"webhook": {"url": "https://h.example/x", "secretRef": {"name": "h", "key": "k"}},'
        b' "webhookTarget": {"url": "https://h.example/x", "secret": "' + SECRET.encode() + b'"}}',
        type=BoardPut,
    )
    assert put.webhook_target == WebhookTarget(url="https://h.example/x", secret=SECRET)
    spec = spec_of(put)
    assert spec.webhook is not None and spec.webhook.url == "https://h.example/x"
    assert SECRET not in msgspec.json.encode(spec).decode()  # what is stored and returned
    assert SECRET not in repr(put.webhook_target)
    for url in ("ftp://h.example/", "https:// h.example/", "https://", "h.example/x"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"url": url, "secret": SECRET}, WebhookTarget)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"url": "http://hook.games.svc:8080/end", "secret": "short"}, WebhookTarget)
    assert msgspec.convert(
        {"url": "http://hook.games.svc:8080/end", "secret": SECRET}, WebhookTarget
    )
