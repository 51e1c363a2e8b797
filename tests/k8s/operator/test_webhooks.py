"""Season webhooks through the operator: the Secret is read with the chart's RBAC, the api
delivers the season end signed with it, the CR status shows the delivery, a rotated Secret
reaches the api, and a missing Secret is a condition."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

import pytest
from scoreboard_common.policy import webhook_fingerprint

from tests.k8s.apiserver import KubeAPIServer
from tests.k8s.operator.harness import (
    AdminClient,
    Player,
    apply_leaderboard,
    condition,
    get_leaderboard,
    wait_for,
    wait_ready,
)
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.usefixtures("operator")


def put_secret(kube: KubeAPIServer, namespace: str, name: str, value: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"secret": value},
    }
    kube.kubectl("apply", "-f", "-", input=json.dumps(body))


def test_season_end_is_signed_with_the_secret_and_shown_in_status(
    kube: KubeAPIServer, namespace: str, admin: AdminClient, player: Player
) -> None:
    receiver = Receiver().start()
    try:
        secret = secrets.token_urlsafe(24)
        put_secret(kube, namespace, "season-hook", secret)
        spec = {
            "webhook": {"url": receiver.url, "secretRef": {"name": "season-hook", "key": "secret"}}
        }
        apply_leaderboard(kube, namespace, "hooked", spec)
        wait_ready(kube, namespace, "hooked")
        stats = admin.stats("hooked") or {}
        assert stats["webhook"]["configured"] is True
        assert stats["webhook"]["fingerprint"] == webhook_fingerprint(receiver.url, secret)
        assert player.submit("hooked", 7).status_code == 200
        kube.kubectl(
            "annotate", "-n", namespace, "leaderboard/hooked", "scoreboard.dev/reset-requested=end"
        )
        (got,) = wait_for(receiver.received, 30, "the season-end delivery")
        parts = dict(p.split("=", 1) for p in got.headers["x-scoreboard-signature"].split(","))
        expected = hmac.new(
            secret.encode(), parts["t"].encode() + b"." + got.body, hashlib.sha256
        ).hexdigest()
        assert parts["v1"] == expected
        assert got.headers["x-scoreboard-delivery"] == "hooked:1"
        body = json.loads(got.body)
        assert [(e["username"], e["score"]) for e in body["standings"]] == [(player.username, 7)]
        lb = wait_for(
            lambda: (lb := get_leaderboard(kube, namespace, "hooked"))
            and (lb.get("status", {}).get("webhook") or {}).get("lastDeliveryStatus") == "delivered"
            and lb,
            30,
            "status.webhook to show the delivery",
        )
        webhook = lb["status"]["webhook"]
        assert webhook["lastDeliveryId"] == "hooked:1" and webhook["attempts"] == 1
        assert secret not in json.dumps(lb)
        # A rotated Secret reaches the api by the drift check.
        rotated = secrets.token_urlsafe(24)
        put_secret(kube, namespace, "season-hook", rotated)
        wait_for(
            lambda: ((admin.stats("hooked") or {}).get("webhook") or {}).get("fingerprint")
            == webhook_fingerprint(receiver.url, rotated),
            30,
            "the rotated secret in the api",
        )
    finally:
        receiver.stop()


def test_a_missing_secret_is_a_condition(kube: KubeAPIServer, namespace: str) -> None:
    spec = {
        "webhook": {
            "url": "http://hooks.invalid/end",
            "secretRef": {"name": "absent", "key": "secret"},
        }
    }
    apply_leaderboard(kube, namespace, "nosecret", spec)
    synced = wait_for(
        lambda: (c := condition(get_leaderboard(kube, namespace, "nosecret"), "Synced"))
        and c["status"] == "False"
        and c,
        30,
        "Synced=False",
    )
    assert synced["reason"] == "SecretNotFound", synced
    ready = condition(get_leaderboard(kube, namespace, "nosecret"), "Ready")
    assert ready is not None and ready["status"] == "False"
    # Once the Secret exists the board becomes ready by itself.
    put_secret(kube, namespace, "absent", secrets.token_urlsafe(24))
    wait_ready(kube, namespace, "nosecret", timeout=60)
