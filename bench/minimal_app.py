"""The read-path baseline: Litestar's own minimal JSON endpoint, served exactly like the api
(same uvicorn flags, same worker count), so the ratio isolates the api's own cost."""

from __future__ import annotations

from litestar import Litestar, get


@get("/minimal", sync_to_thread=False)
def minimal() -> dict[str, object]:
    return {"leaderboard": "bench", "entries": [{"rank": 1, "user_id": "u", "score": 1}]}


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([minimal, healthz], openapi_config=None)
