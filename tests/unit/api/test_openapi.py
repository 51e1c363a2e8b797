"""Every operation of the OpenAPI document has a short, stable, unique ``operationId``: generated
clients name their functions after it (``register``, ``submitScore``), so renaming one is a
breaking change this test makes visible."""

from __future__ import annotations

import re
from typing import Any

from scoreboard_api.app import build_litestar
from scoreboard_api.settings import ApiSettings

EXPECTED = {
    ("post", "/api/v1/auth/register"): "register",
    ("post", "/api/v1/auth/login"): "login",
    ("post", "/api/v1/auth/refresh"): "refreshTokens",
    ("post", "/api/v1/auth/logout"): "logout",
    ("get", "/.well-known/jwks.json"): "getJwks",
    ("post", "/api/v1/leaderboards/{board}/scores"): "submitScore",
    ("get", "/api/v1/leaderboards"): "listLeaderboards",
    ("get", "/api/v1/leaderboards/{board}"): "getLeaderboard",
    ("get", "/api/v1/leaderboards/{board}/top"): "getTop",
    ("get", "/api/v1/leaderboards/{board}/entries"): "listEntries",
    ("post", "/api/v1/leaderboards/{board}/players/lookup"): "lookupPlayers",
    ("get", "/api/v1/leaderboards/{board}/players/{user_id}"): "getPlayer",
    ("get", "/api/v1/leaderboards/{board}/players/{user_id}/around"): "getPlayersAround",
    ("get", "/api/v1/leaderboards/{board}/me"): "getMyStanding",
    ("get", "/api/v1/leaderboards/{board}/seasons"): "listSeasons",
    ("get", "/api/v1/leaderboards/{board}/seasons/{season}/top"): "getSeasonTop",
    ("post", "/api/scores/update"): "seedUpdateScore",
    ("get", "/api/scores/leaderboard"): "seedGetLeaderboard",
    ("get", "/api/scores/top"): "seedGetTop",
    ("get", "/api/scores/user/{user_id}"): "seedGetUser",
    ("post", "/api/score"): "seedPostScore",
    ("get", "/api/score-board"): "seedGetScoreBoard",
    ("post", "/users/auth/login"): "seedLoginEmail",
    ("get", "/scores"): "seedGetScores",
    ("post", "/scores/increment"): "seedIncrementScore",
    ("post", "/api/auth/login"): "seedLogin",
    ("post", "/api/auth/refresh"): "seedRefresh",
    ("post", "/api/auth/logout"): "seedLogout",
    ("put", "/api/v1/admin/leaderboards/{board}"): "putLeaderboard",
    ("delete", "/api/v1/admin/leaderboards/{board}"): "deleteLeaderboard",
    ("post", "/api/v1/admin/leaderboards/{board}/reset"): "resetLeaderboard",
    ("get", "/api/v1/admin/leaderboards/{board}/stats"): "getLeaderboardStats",
    ("post", "/api/v1/admin/leaderboards/{board}/players/{user_id}/void"): "voidPlayer",
    ("put", "/api/v1/admin/users/{user_id}"): "putUser",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
}


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    settings = ApiSettings(database_url="postgresql://unused/unused", redis_url="")
    document = build_litestar(settings, None).openapi_schema.to_schema()
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }


def test_every_operation_has_a_short_unique_operation_id() -> None:
    operations = _operations()
    ids = [op.get("operationId") for op in operations.values()]
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z][A-Za-z]{1,30}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_operation_ids_are_stable() -> None:
    operations = _operations()
    assert {key: op["operationId"] for key, op in operations.items()} == EXPECTED


def test_seed_routes_have_their_own_tag() -> None:
    seed_paths = {key for key, value in EXPECTED.items() if value.startswith("seed")}
    operations = _operations()
    for key in seed_paths:
        assert operations[key]["tags"] == ["seed compatibility"], key
