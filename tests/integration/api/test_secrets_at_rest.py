"""The boards' request-signing keys and webhook secrets are sealed in PostgreSQL (docs/security.md,
"Secrets at rest"): what a database dump shows is ciphertext, the api still verifies signatures
with the keys, values stored before sealing was on are sealed at the next start, a key put first
in the key file takes over at the next start, and an api without the key fails closed.

Each api here runs on a database of the test's own, read directly with psql."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from scoreboard_api.adapters.sealing import PREFIX, key_id
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support import wait_for
from tests.support.api import new_board_name, put_board
from tests.support.psql import psql
from tests.support.seeds import hmac_b64url
from tests.support.services import migrated_database

SIGNING_KEY = "signing-key-material-" + "x" * 16
WEBHOOK_SECRET = "webhook-secret-" + "y" * 24


def _key() -> bytes:
    return secrets.token_bytes(32)


def _key_file(path: Path, *keys: bytes) -> str:
    path.write_text(
        "# the first key seals\n" + "".join(base64.b64encode(k).decode() + "\n" for k in keys)
    )
    return str(path)


@pytest.fixture
def database(postgres: PostgresServer, base_env: dict[str, str]) -> Iterator[str]:
    with migrated_database(postgres, base_env, "sb_sealed") as url:
        yield url


def _stored(postgres: PostgresServer, database: str, board: str) -> tuple[str, str]:
    """(the ``signing_keys`` column as text, the webhook ``secret`` column) of ``board``."""
    keys = psql(
        postgres, database, f"SELECT signing_keys::text FROM leaderboards WHERE name = '{board}'"
    )
    secret = psql(postgres, database, f"SELECT secret FROM board_webhooks WHERE board = '{board}'")
    return keys, secret


def _sealed_with(stored: str, key: bytes) -> bool:
    return stored.lstrip('"').startswith(f"{PREFIX}{key_id(key)}:")


def _signed_submit(api: ServiceProcess, headers: dict[str, str], board: str) -> httpx.Response:
    body = json.dumps(
        {
            "action_id": f"act-{uuid.uuid4().hex}",
            "timestamp": datetime.now(UTC).isoformat(),
            "score_increment": 3,
            "user_id": str(uuid.uuid4()),
        }
    ).encode()
    signature = f"keyId=k1,sig={hmac_b64url(SIGNING_KEY, body)}"
    return httpx.post(
        f"{api.url}/api/v1/leaderboards/{board}/scores",
        content=body,
        headers={**headers, "Content-Type": "application/json", "X-Signature": signature},
        timeout=15,
    )


def _webhook_configured(api: ServiceProcess, headers: dict[str, str], board: str) -> bool:
    stats = httpx.get(
        f"{api.url}/api/v1/admin/leaderboards/{board}/stats", headers=headers, timeout=15
    )
    assert stats.status_code == 200, stats.text
    return bool(stats.json()["webhook"]["configured"])


def _signed_board(api: ServiceProcess, headers: dict[str, str]) -> str:
    board = new_board_name("sealed")
    _put_webhook(api, headers, board, WEBHOOK_SECRET)
    return board


def test_signing_keys_and_webhook_secrets_are_sealed_in_postgres(
    start_api: Callable[..., ServiceProcess],
    postgres: PostgresServer,
    database: str,
    tmp_path: Path,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
) -> None:
    key = _key()
    api = start_api(DATABASE_URL=database, SECRETS_KEY_FILE=_key_file(tmp_path / "keys", key))
    board = _signed_board(api, admin_headers)
    keys, secret = _stored(postgres, database, board)
    assert SIGNING_KEY not in keys and WEBHOOK_SECRET not in secret
    assert _sealed_with(keys, key) and _sealed_with(secret, key), (keys, secret)
    # The api opens them: a signature made with the key is accepted, a forged one is not.
    assert _signed_submit(api, service_headers, board).status_code == 200
    forged = httpx.post(
        f"{api.url}/api/v1/leaderboards/{board}/scores",
        json={
            "action_id": "forged-1",
            "timestamp": datetime.now(UTC).isoformat(),
            "score_increment": 3,
            "user_id": str(uuid.uuid4()),
        },
        headers={**service_headers, "X-Signature": "keyId=k1,sig=AAAA"},
        timeout=15,
    )
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature", forged.text
    assert _webhook_configured(api, admin_headers, board)

    # The operator re-puts a board's webhook on every drift check: the same secret again
    # writes nothing (a fresh sealing would differ every time); a new secret replaces it.
    _put_webhook(api, admin_headers, board, WEBHOOK_SECRET)
    assert _stored(postgres, database, board)[1] == secret
    _put_webhook(api, admin_headers, board, "another-" + WEBHOOK_SECRET)
    replaced = _stored(postgres, database, board)[1]
    assert replaced != secret and _sealed_with(replaced, key)
    assert WEBHOOK_SECRET not in replaced
    api.stop()


def _put_webhook(api: ServiceProcess, headers: dict[str, str], board: str, secret: str) -> None:
    with httpx.Client(base_url=api.url, timeout=15) as http:
        response = put_board(
            http,
            headers,
            board,
            signing={"required": True},
            signingKeys={"k1": SIGNING_KEY},
            webhook={"url": "https://hooks.example/season", "secretRef": {"name": "h", "key": "s"}},
            webhookTarget={"url": "https://hooks.example/season", "secret": secret},
        )
    assert response.status_code == 200, response.text


def test_unsealed_values_are_sealed_at_start_and_a_new_key_takes_over(
    start_api: Callable[..., ServiceProcess],
    postgres: PostgresServer,
    database: str,
    tmp_path: Path,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
) -> None:
    # Stored by an api without a key (as before sealing existed): in the clear.
    unsealed = start_api(DATABASE_URL=database, SECRETS_KEY_FILE="")
    board = _signed_board(unsealed, admin_headers)
    keys, secret = _stored(postgres, database, board)
    assert SIGNING_KEY in keys and secret == WEBHOOK_SECRET
    unsealed.stop()

    # An api with a key seals them when it starts, and still verifies with them.
    old, new = _key(), _key()
    first = start_api(DATABASE_URL=database, SECRETS_KEY_FILE=_key_file(tmp_path / "a", old))
    wait_for(
        lambda: all(_sealed_with(v, old) for v in _stored(postgres, database, board)),
        30,
        "the values to be sealed with the first key",
    )
    assert _signed_submit(first, service_headers, board).status_code == 200
    first.stop()

    # Rotation: the new key first, the old one below it; the values move to the new key.
    second = start_api(DATABASE_URL=database, SECRETS_KEY_FILE=_key_file(tmp_path / "b", new, old))
    wait_for(
        lambda: all(_sealed_with(v, new) for v in _stored(postgres, database, board)),
        30,
        "the values to be resealed with the new key",
    )
    assert _signed_submit(second, service_headers, board).status_code == 200
    second.stop()

    # The old key is gone everywhere; an api given only an unrelated key cannot open them and
    # fails closed: no signature is accepted, nothing is overwritten.
    before = _stored(postgres, database, board)
    stranger = start_api(DATABASE_URL=database, SECRETS_KEY_FILE=_key_file(tmp_path / "c", _key()))
    refused = _signed_submit(stranger, service_headers, board)
    assert refused.status_code == 401 and refused.json()["code"] == "bad_signature", refused.text
    assert _webhook_configured(stranger, admin_headers, board)
    assert _stored(postgres, database, board) == before
    stranger.stop()
