"""The operator's part of season webhooks: spec → admin payload, drift, status."""

from __future__ import annotations

import msgspec
from scoreboard_api.domain.policy import BoardPut, spec_of
from scoreboard_common.policy import webhook_fingerprint
from scoreboard_operator.api_client import BoardStats
from scoreboard_operator.domain.spec import (
    board_payload,
    webhook_drift,
    webhook_ref,
    with_webhook_target,
)
from scoreboard_operator.handlers import _webhook_status

HOOK = {"url": "https://game.example/season-end", "secretRef": {"name": "hook", "key": "secret"}}
SECRET = "0123456789abcdef-secret"


def test_webhook_spec_maps_to_the_admin_put_with_the_private_target() -> None:
    assert webhook_ref({}) is None
    assert webhook_ref({"webhook": HOOK}) == ("https://game.example/season-end", "hook", "secret")
    payload = with_webhook_target(
        board_payload("weekly", {"webhook": HOOK}, 3), HOOK["url"], SECRET
    )  # type: ignore[arg-type]
    assert payload["webhook"] == HOOK
    assert payload["webhookTarget"] == {"url": HOOK["url"], "secret": SECRET}
    # The api accepts it as is; what it stores as the spec has no secret.
    put = msgspec.convert(payload, BoardPut)
    assert put.webhook_target is not None and put.webhook_target.secret == SECRET
    assert SECRET not in msgspec.json.encode(spec_of(put)).decode()
    assert board_payload("weekly", {}, 1).get("webhook") is None


def test_webhook_drift_compares_fingerprints() -> None:
    target = (str(HOOK["url"]), SECRET)
    stored = {"configured": True, "fingerprint": webhook_fingerprint(*target)}
    assert webhook_drift(stored, target) is None
    assert webhook_drift(stored, (target[0], SECRET + "-rotated")) is not None
    assert webhook_drift(stored, ("https://other.example/", SECRET)) is not None
    assert webhook_drift(None, target) == "api has no webhook target"
    assert webhook_drift({"configured": False, "fingerprint": None}, target) is not None
    assert webhook_drift(stored, None) is not None  # removed from the spec
    assert webhook_drift(None, None) is None


def test_status_webhook_copies_the_last_delivery_without_the_target() -> None:
    stats = BoardStats.from_json(
        {
            "players": 0,
            "webhook": {
                "configured": True,
                "fingerprint": "abc",
                "last_delivery": {
                    "id": "weekly:7",
                    "season": 7,
                    "status": "pending",
                    "attempts": 3,
                    "last_error": "HTTP 500",
                    "last_status_code": 500,
                    "created_at": "2025-01-01T00:00:00+00:00",
                    "next_attempt_at": "2025-01-01T00:04:00.123456+00:00",
                    "delivered_at": None,
                },
            },
        }
    )
    assert _webhook_status(stats) == {
        "configured": True,
        "lastDeliveryId": "weekly:7",
        "lastDeliveryStatus": "pending",
        "attempts": 3,
        "lastError": "HTTP 500",
        "deliveredAt": None,
        "nextAttemptAt": "2025-01-01T00:04:00Z",
    }
    assert _webhook_status(BoardStats.from_json({"players": 0})) is None
    assert _webhook_status(
        BoardStats.from_json({"webhook": {"configured": True, "last_delivery": None}})
    ) == {"configured": True}
