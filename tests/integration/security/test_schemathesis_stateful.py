"""Stateful schemathesis run (schemathesis 4's state machine, links inferred from the OpenAPI
document's response schemas and path parameters) with valid tokens: sequences such as
PUT board → POST scores → GET top / players/{user_id} / void / reset / DELETE never yield a 5xx.

Its own api process and database (it creates, resets and deletes boards as admin)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import schemathesis.specs.openapi.stateful as stateful_module
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support.services import migrate, mint_token

BOARD_PUT = ("/api/v1/admin/leaderboards/{board}", "put")
SCORE_POST = ("/api/v1/leaderboards/{board}/scores", "post")
RESET_POST = ("/api/v1/admin/leaderboards/{board}/reset", "post")


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    """Add OpenAPI links (the document has none): a board PUT feeds every operation on
    ``{board}``; an accepted score feeds every operation on ``{board}`` + ``{user_id}``; a reset
    feeds the archived season's reads. Schemathesis chains calls along them."""
    paths = document["paths"]

    def link(source: tuple[str, str], wants: set[str], parameters: dict[str, str]) -> None:
        responses = paths[source[0]][source[1]]["responses"]
        response = responses.setdefault("200", {"description": "ok"})
        links = response.setdefault("links", {})
        for path, operations in paths.items():
            names = set(re.findall(r"\{(\w+)\}", path))
            if not wants <= names or not names <= set(parameters):
                continue
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                if (path, method) == source:
                    continue  # no self-links: the source must stay an entry point
                links[f"{method}-{path}"] = {
                    "operationId": operation["operationId"],
                    "parameters": {n: parameters[n] for n in names},
                }

    link(BOARD_PUT, {"board"}, {"board": "$request.path.board"})
    link(
        SCORE_POST,
        {"user_id"},
        {"board": "$request.path.board", "user_id": "$response.body#/user_id"},
    )
    link(
        RESET_POST,
        {"season"},
        {"board": "$request.path.board", "season": "$request.body#/season"},
    )
    return document


@pytest.fixture(scope="module")
def stateful_api(
    postgres: PostgresServer, base_env: dict[str, str], start_api: Any
) -> tuple[ServiceProcess, str]:
    url = postgres.create_database("schemathesis_stateful")
    env = {**base_env, "DATABASE_URL": url}
    migrate(env)
    api: ServiceProcess = start_api(DATABASE_URL=url, AUTH_RATE_LIMIT_PER_MINUTE="100000")
    token = mint_token(
        {**env, "REDIS_URL": ""}, "stateful-admin", "scoreboard:admin scores:write:any"
    )
    return api, token


def test_stateful_sequences_never_yield_a_server_error(
    stateful_api: tuple[ServiceProcess, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, token = stateful_api
    # Schemathesis starts sequences only at POSTs when there are any ("likely to create"); here
    # the creating call is the admin PUT of a board, so make that the one entry point.
    monkeypatch.setattr(
        stateful_module,
        "is_likely_root_transition",
        lambda operation: (operation.path, operation.method) == BOARD_PUT,
    )
    document = with_links(httpx.get(f"{api.url}/schema/openapi.json", timeout=10).json())
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=api.url)
    statuses: Counter[str] = Counter()
    errors: list[str] = []

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            # A random timestamp is almost never within the board's clock skew; half the
            # score submissions get a current one so the chain reaches the player operations.
            body = case.body
            if (case.path, case.method.lower()) == SCORE_POST and isinstance(body, dict):
                if len(statuses) % 2 == 0 or "timestamp" not in body:
                    body["timestamp"] = datetime.now(UTC).isoformat()
                body.pop("action", None)
                body.pop("user_id", None)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {token}"}, "timeout": 10}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            statuses[f"{case.method} {case.path} {response.status_code}"] += 1
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
            assert response.status_code < 500, response.text

    Machine.run(
        settings=hypothesis.settings(
            max_examples=40,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    assert not errors, errors
    transitions = sum(statuses.values())
    chained_2xx = sum(n for key, n in statuses.items() if key.rsplit(" ", 1)[1].startswith("2"))
    print(f"\n[stateful] calls={transitions} 2xx={chained_2xx} distinct={len(statuses)}")
    print(statuses.most_common())
    assert transitions > 40
